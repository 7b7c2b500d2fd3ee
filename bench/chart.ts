// Draws RPC throughput by payload size, subwire against the baselines, from a bench/run.ts
// result: `node bench/chart.ts bench/results/<file>.json docs/rpc-throughput.svg`.
// A plain SVG (grouped bars, log scale), no plotting dependency.
import { readFileSync, writeFileSync } from 'node:fs'

type Any = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

export function rpcChart (r: Any): string {
  const rpc = r.sections?.rpc as Any
  const inflight: number[] = r.plan.inflight
  const level = inflight.includes(32) ? 32 : inflight[0] as number
  const targets = Object.entries(rpc).filter(([, t]) => (t as Any).missing === undefined) as Array<[string, Any]>
  const sizes: number[] = r.plan.payloads
  const value = (t: Any, size: number): number => {
    const row = (t.rows as Any[]).find((x) => (x.size?.median ?? x.size) === size)
    const v = row?.[`load${level}`]?.reqPerSec
    return typeof v === 'object' ? v.median : Number(v)
  }
  const colors = ['#1f6feb', '#54aeff', '#8250df', '#c297ff', '#bf8700', '#d1242f', '#1a7f37']
  const W = 900
  const H = 450
  const left = 70
  const bottom = 90
  const top = 50
  const plotH = H - top - bottom
  const maxV = Math.max(10, ...targets.flatMap(([, t]) => sizes.map((s) => value(t, s))).filter(Number.isFinite))
  const decades = Math.ceil(Math.log10(maxV))
  const y = (v: number): number => top + plotH - (Math.log10(Math.max(1, v)) / decades) * plotH
  const groupW = (W - left - 20) / sizes.length
  const barW = Math.min(22, (groupW - 16) / targets.length)
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  parts.push(`<text x="${left}" y="22" font-size="15" font-weight="600">RPC echo throughput, ${level} in flight on one connection (req/s, log scale)</text>`)
  parts.push(`<text x="${left}" y="39" fill="#57606a">${r.machine.cpu} × ${r.machine.cores}, Node ${r.machine.node}, 127.0.0.1, ${String(r.machine.date).slice(0, 10)}${r.machine.quick === true ? ', --quick' : ''}; median of ${r.runs} run(s)</text>`)
  for (let d = 0; d <= decades; d++) {
    const yy = y(10 ** d)
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${yy}" y2="${yy}" stroke="#eaeef2"/>`)
    parts.push(`<text x="${left - 8}" y="${yy + 4}" text-anchor="end" fill="#57606a">${(10 ** d).toLocaleString('en-US')}</text>`)
  }
  sizes.forEach((size, g) => {
    const gx = left + g * groupW + 8
    targets.forEach(([, t], i) => {
      const v = value(t, size)
      if (!Number.isFinite(v)) return
      const x = gx + i * barW
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${colors[i % colors.length] as string}"><title>${v.toLocaleString('en-US')} req/s</title></rect>`)
    })
    const label = size >= 1 << 20 ? `${size / (1 << 20)} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`
    parts.push(`<text x="${(gx + (targets.length * barW) / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${label}</text>`)
  })
  targets.forEach(([name], i) => {
    const x = left + (i % 4) * 200
    const yy = H - 38 + Math.floor(i / 4) * 18
    parts.push(`<rect x="${x}" y="${yy - 10}" width="12" height="12" fill="${colors[i % colors.length] as string}"/><text x="${x + 16}" y="${yy}">${name}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [input, output] = process.argv.slice(2)
  if (input === undefined || output === undefined) { process.stderr.write('usage: node bench/chart.ts <result.json> <out.svg>\n'); process.exit(2) }
  writeFileSync(output, rpcChart(JSON.parse(readFileSync(input, 'utf8')) as Any))
  process.stdout.write(`wrote ${output}\n`)
}
