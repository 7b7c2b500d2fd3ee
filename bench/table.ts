// Renders a bench/run.ts result as a readable table (also used for docs/PERFORMANCE.md).
// `node bench/table.ts bench/results/<file>.json` prints it again.
import { readFileSync } from 'node:fs'

interface Stat { median: number, min: number, max: number }
type Any = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const isStat = (v: unknown): v is Stat => typeof v === 'object' && v !== null && 'median' in v
const num = (v: unknown): number => isStat(v) ? v.median : Number(v)
const fmt = (v: unknown, digits = 0): string => {
  const n = num(v)
  if (!Number.isFinite(n)) return '—'
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}
const range = (v: unknown, digits = 0): string => isStat(v) && v.min !== v.max ? `${fmt(v, digits)} [${fmt(v.min, digits)}–${fmt(v.max, digits)}]` : fmt(v, digits)
const size = (n: number): string => n >= 1 << 20 ? `${n / (1 << 20)} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`

function table (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ') + ' |'
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n')
}

/** The whole result as Markdown tables. */
export function renderTable (r: Any): string {
  const m = r.machine
  const out: string[] = [`## subwire benchmark, ${String(m.date).slice(0, 16).replace('T', ' ')} UTC${m.quick === true ? ' (--quick)' : ''}`, '',
    `${m.cpu} × ${m.cores} cores, Linux ${m.kernel}, Node ${m.node}. Medians of ${r.runs} run(s), [min–max] where they differ. 127.0.0.1, both ends on this machine.`, '']
  const rpc = r.sections?.rpc as Any | undefined
  if (rpc !== undefined) {
    out.push('### RPC: echo, one connection (btlightning\'s method)', '')
    const inflight: number[] = r.plan.inflight
    const rows: string[][] = []
    const missing: string[] = []
    for (const [name, t] of Object.entries(rpc) as Array<[string, Any]>) {
      if (t.missing !== undefined) { missing.push(`- **${name}**: missing: ${t.missing}`); continue }
      for (const row of t.rows as Any[]) {
        rows.push([name, size(num(row.size)), `${fmt(t.cold.p50, 2)} / ${fmt(t.cold.p99, 1)}`, `${fmt(row.sequential.p50, 3)} / ${fmt(row.sequential.p99, 2)}`,
          ...inflight.map((n) => range(row[`load${n}`]?.reqPerSec)),
          `${fmt(row[`load${inflight[inflight.length > 1 ? 1 : 0]}`]?.latency.p50, 2)} / ${fmt(row[`load${inflight[inflight.length > 1 ? 1 : 0]}`]?.latency.p99, 2)}`,
          fmt(row[`load${inflight[0]}`]?.wireBytesPerReq), fmt(row[`load${inflight[inflight.length > 1 ? 1 : 0]}`]?.cpuUsPerReq), `${fmt(t.peakRssMiB.client)} / ${fmt(t.peakRssMiB.server)}`])
      }
    }
    const mid = inflight[inflight.length > 1 ? 1 : 0]
    out.push(table(['target', 'payload', 'setup+auth+1st reply p50 / p99 ms', 'sequential p50 / p99 ms', ...inflight.map((n) => `req/s @${n}`), `latency @${mid} p50 / p99 ms`, 'wire B/req', `CPU µs/req @${mid}`, 'peak RSS client / server MiB'], rows))
    if (missing.length > 0) out.push('', ...missing)
    out.push('', ...Object.entries(rpc).map(([name, t]) => `- ${name}: ${String((t as Any).what)}`), '')
    // issue 18: the Python rows against the FastAPI axon at 1 KiB, in this run
    const at1k = (name: string): number => num((rpc[name]?.rows as Any[] | undefined)?.find((x) => num(x.size) === 1024)?.[`load${mid}`]?.reqPerSec)
    const axon = at1k('FastAPI axon')
    const py = [['Python client → subwire API → peer', 'pythonClientVsAxon1KiB'], ['peer → subwire API → Python handler', 'pythonHandlerVsAxon1KiB']] as const
    // CPU per request (every process of the row summed) as well: on a shared machine req/s follows the scheduler, CPU per request much less
    const cpu1k = (name: string): number => num((rpc[name]?.rows as Any[] | undefined)?.find((x) => num(x.size) === 1024)?.[`load${mid}`]?.cpuUsPerReq)
    const axonCpu = cpu1k('FastAPI axon')
    const cpuNote = (n: string): string => Number.isFinite(cpu1k(n)) && axonCpu > 0 ? `; CPU ${fmt(cpu1k(n))} µs/req against the axon's ${fmt(axonCpu)}: ${fmt(axonCpu / cpu1k(n), 1)}x less` : ''
    const lines = py.filter(([n]) => Number.isFinite(at1k(n)) && axon > 0).map(([n, k]) => `- ${n}: ${fmt(at1k(n))} req/s @${mid} at 1 KiB = ${fmt(at1k(n) / axon, 1)}x the FastAPI axon (${fmt(axon)} req/s; target ${String(r.targets?.[k] ?? '?')}x)${cpuNote(n)}`)
    const btpy = r.anchors?.btlightningPython?.rpc1KiB?.reqPerSec
    if (btpy !== undefined && lines.length > 0) lines.push(`- btlightning's Python bindings, published: ${fmt(btpy)} req/s at 1 KiB (Apple silicon; NOT measured here)`)
    if (lines.length > 0) out.push('Python through the local API:', '', ...lines, '')
  }
  const c = r.sections?.ceilings as Any | undefined
  if (c !== undefined) {
    out.push('### Machine ceilings', '', table(['what', 'MB/s'], Object.values(c).map((x: Any) => [x.what, x.missing === undefined ? range(x.mbPerSecond) : `missing: ${x.missing}`])), '')
  }
  const f = r.sections?.files as Any | undefined
  if (f !== undefined) {
    out.push('### Files, disk to disk, BLAKE3-verified', '', `Page cache dropped before runs: ${f.pageCacheDropped === true ? 'yes' : 'no (not permitted here)'}.`, '')
    const rows: string[][] = []
    for (const [name, v] of Object.entries(f) as Array<[string, Any]>) {
      if (name === 'pageCacheDropped' || name === 'resumeAfterKill') continue
      if (v.missing !== undefined) { rows.push([name, `missing: ${v.missing}`, '', '', '', '', '']); continue }
      if (v.mbPerSecond !== undefined) { rows.push([name, '', range(v.mbPerSecond), '', '', '', v.what]); continue }
      for (const [k, g] of Object.entries(v) as Array<[string, Any]>) {
        const cpu = g.senderCpuSecondsPerGiB === undefined ? '' : `${fmt(g.senderCpuSecondsPerGiB, 1)} / ${fmt(g.receiverCpuSecondsPerGiB, 1)}`
        rows.push([`${name}, ${k}`, range(g.transferMBps), range(g.totalMBps), g.firstProgressSeconds === undefined ? '' : fmt(g.firstProgressSeconds, 1), cpu, `${fmt(g.senderPeakRssMiB)} / ${fmt(g.receiverPeakRssMiB)}`, g.ok === true ? 'hash equal' : 'FAILED'])
      }
    }
    out.push(table(['case', 'transfer MB/s', 'send to ack MB/s (hashing included)', 'first progress s', 'CPU s/GiB sender / receiver', 'peak RSS sender / receiver MiB', 'note'], rows))
    out.push('', '- quic: sent to the receiver\'s QUIC address; a file of 64 MiB or more goes over a TCP connection to it (SubwireInit.bulk, the Node default). quic-only: the receiver listens on QUIC alone, so the file stays on QUIC.')
    // issue 19's measure: encrypted and verified, from send to the receiver's ack, against the best scp cipher
    const scp = (Object.entries(f) as Array<[string, Any]>).filter(([n, v]) => n.startsWith('scp ') && v.mbPerSecond !== undefined)
    const best = scp.sort((a, b) => b[1].mbPerSecond.median - a[1].mbPerSecond.median)[0]
    if (best !== undefined) {
      for (const [name, v] of Object.entries(f) as Array<[string, Any]>) {
        if (!name.startsWith('subwire ') || v.missing !== undefined) continue
        for (const t of ['quic', 'quic-only', 'tcp']) {
          const g = v[`${t} encrypted`]
          if (g?.totalMBps?.median !== undefined) out.push(`- ${name} ${t} encrypted, from send to ack: ${fmt(g.totalMBps.median)} MB/s = ${fmt(g.totalMBps.median / best[1].mbPerSecond.median, 2)}x the best scp cipher (${best[0]}: ${fmt(best[1].mbPerSecond.median)} MB/s)`)
        }
      }
    }
    const rk = f.resumeAfterKill
    if (rk?.missing !== undefined) out.push('', `- resume after a kill at 50 %: missing: ${rk.missing}`)
    else if (rk !== undefined) out.push('', `- resume after a kill at 50 % (${rk.what}): the second send resumed from ${rk.resumedFromMiB} MiB and re-sent ${rk.resentMiB} of ${rk.sizeMiB} MiB in ${rk.secondSendSeconds} s (hashing the file again included)`)
    out.push('')
  }
  const b = r.sections?.browser as Any | undefined
  if (b !== undefined) {
    out.push('### Browser (headless Chromium, same machine)', '')
    if (b.missing !== undefined) out.push(`missing: ${b.missing}`)
    else {
      const rows = b.rows as Any[]
      out.push(table(['case', 'transport', 'result'], rows.map((x) => [x.case, x.transport, x.mbPerS !== undefined ? `${fmt(x.mbPerS, 1)} MB/s (${x.mib} MiB)` : `p50 ${fmt(x.p50Ms, 2)} / p99 ${fmt(x.p99Ms, 2)} ms (${x.calls} calls)`])))
      // WebTransport against WebRTC-Direct, per direction (issue 8 asks for ≥ 5x upload)
      for (const c of ['browser → Node file', 'Node → browser file (OPFS)']) {
        const wt = rows.find((x) => x.case === c && x.transport === 'webtransport')?.mbPerS as number | undefined
        const rtc = rows.find((x) => x.case === c && x.transport === 'webrtc-direct')?.mbPerS as number | undefined
        if (wt !== undefined && rtc !== undefined && rtc > 0) out.push('', `- ${c}: WebTransport ${fmt(wt, 1)} MB/s is ${fmt(wt / rtc, 1)}x WebRTC-Direct (${fmt(rtc, 1)} MB/s)`)
      }
    }
    out.push('')
  }
  const d = r.sections?.discovery as Any | undefined
  if (d !== undefined) out.push(...discoveryRows(d))
  const a = r.anchors as Any | undefined
  if (a !== undefined) out.push('### Published anchors (NOT measured here)', '', `- btlightning: ${fmt(a.btlightning.rpc1KiB.reqPerSec)} req/s and ${a.btlightning.rpc1KiB.p50Ms} ms p50 at 1 KiB (${a.btlightning.source}).`, '')
  const tg = r.targets as Any | undefined
  if (tg !== undefined) out.push('### Targets (issue 7)', '', `RPC 1 KiB ≥ ${fmt(tg.rpc1KiBAt32ReqPerSec)} req/s @32 and sequential p50 ≤ ${tg.sequentialP50Ms} ms; setup + auth + first reply p50 ≤ ${tg.setupP50Ms} ms; encrypted verified files ≥ ${fmt(tg.encryptedFileMBps)} MB/s with peak RSS ≤ ${tg.fileRssMiB} MiB.`, '')
  return out.join('\n')
}

/** The discovery section (bench/discovery.ts): DHT bootstrap, resolution, fan-out, 10 % killed, memory. */
function discoveryRows (d: Any): string[] {
  if (d.missing !== undefined) return ['### Discovery', '', `missing: ${d.missing}`, '']
  const p = (x: Any | undefined): string => x === undefined || x.n === 0 || x.p50 === null ? '—' : `${fmt(x.p50, 1)} / ${fmt(x.p99, 1)}`
  const fan = (x: Any | undefined): string => x === undefined ? '—' : `${x.answered}/${x.membersAsked} answered${x.deadTypedFailures !== undefined ? `, dead as typed failures ${x.deadTypedFailures}` : ''}; per member p50 / p99 ${p(x.perMemberMs)} ms; last result ${fmt(x.lastResultAtMs)} ms`
  const rows: string[][] = []
  const b = d.bootstrap as Any | undefined
  if (b !== undefined) {
    rows.push(['bootstrap: all peers started, all records published', `${fmt(b.startAllMs)} ms, ${fmt(b.publishedAllMs)} ms${b.publishFailed > 0 ? ` (${String(b.publishFailed)} publishes failed)` : ''}${b.publishNotStartedInBudget > 0 ? ` (${String(b.publishNotStartedInBudget)} not started within the budget)` : ''}${b.emptyRoutingTables !== undefined ? `; ${String(b.emptyRoutingTables)} empty routing tables` : ''}`])
    if (b.rounds !== undefined) rows.push(['bootstrap: every hotkey resolved by another peer', `${b.everyHotkeyResolvedMs === null ? `not within the budget (${String(b.unresolvedAfterBudget)} unresolved)` : `${fmt(b.everyHotkeyResolvedMs)} ms`} after ${String(b.rounds)} round(s); first round ${String(b.firstRoundSuccess)}, p50 / p99 ${p(b.firstRoundResolveMs)} ms`])
  }
  const rs = d.resolve as Any | undefined
  if (rs !== undefined) {
    rows.push(['resolve hotkey (DHT, verified)', `${rs.success}; p50 / p99 ${p(rs.resolveMs)} ms`])
    rows.push(['resolve + first reply', `p50 / p99 ${p(rs.resolveAndReplyMs)} ms`])
    rows.push(['baseline: known multiaddr, first reply', `${rs.baselineDirectDial.success}; p50 / p99 ${p(rs.baselineDirectDial.replyMs)} ms`])
  }
  if (d.members !== undefined) rows.push(['members(netuid) from the DHT', `${d.members.found} in ${fmt(d.members.ms)} ms`])
  if (d.fanOut !== undefined) {
    rows.push(['fan-out, members from the DHT', fan(d.fanOut.all)])
    rows.push(['baseline: fan-out to known multiaddrs', fan(d.fanOut.baselineKnownAddrs)])
  }
  if (d.fanOutKilled !== undefined) {
    rows.push(['10 % killed, members from the DHT', fan(d.fanOutKilled.listedFromDht)])
    rows.push(['10 % killed, every hotkey given', fan(d.fanOutKilled.membersGiven)])
  }
  if (d.memory !== undefined) rows.push(['memory per peer', `${fmt(d.memory.perPeerMiB, 1)} MiB RSS (${fmt(d.memory.perPeerAddedMiB, 1)} MiB above the idle workers; heap ${fmt(d.memory.heapPerPeerMiB, 1)} MiB)`])
  const out = [`### Discovery: ${String(d.peers)} peers, ${String(d.transport)} on 127.0.0.1, fan-out deadline ${fmt(d.fanOutTimeoutMs)} ms`, '', table(['what', 'result'], rows)]
  if (d.incomplete !== undefined) out.push('', `incomplete: ${String(d.incomplete)}; last phase: ${String((d.progress as string[] | undefined)?.at(-1) ?? 'none')}`)
  if (d.error !== undefined) out.push('', `error: ${String(d.error).split('\n')[0]}`)
  out.push('')
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2]
  if (file === undefined) { process.stderr.write('usage: node bench/table.ts bench/results/<file>.json\n'); process.exit(2) }
  process.stdout.write(renderTable(JSON.parse(readFileSync(file, 'utf8')) as Any) + '\n')
}
