// Browser benchmark: `npm run bench:browser [-- --size-mib 256]`. Real Chromium (Debian's,
// headless) running the dashboard with a development key, against a real `subwire listen`
// process on 127.0.0.1 (run under Deno with --webtransport): browser→peer file throughput
// over WebTransport, WebRTC-Direct and WebSockets, peer→browser (into OPFS) over the same
// three, and RPC round trips from the page.
// Writes bench/results/browser-<timestamp>.json and prints a table. Not a test.
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'
import { BIN, buildDashboard, CHROMIUM, CliPeer, freePort, NodeSender, randomFile } from '../e2e/tests/helpers.ts'
import type { Page } from 'playwright-core'

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '256' }, rpc: { type: 'string', default: '500' }, out: { type: 'string' } } })
const sizeMiB = Number(values['size-mib'])
const rpcCalls = Number(values.rpc)
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
/** One case may take at most this long; a hung case fails the benchmark instead of holding CI. */
const CASE_MS = Math.max(120_000, sizeMiB * 4_000)

/** Resolves with `p`, or rejects once `what` has taken longer than {@link CASE_MS}. */
async function deadline<T> (what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} took longer than ${CASE_MS / 1000} s`)) }, CASE_MS) })])
  } finally {
    clearTimeout(timer)
  }
}
const EVE = '5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw'

interface PageResult { ms: number, size: number, resumedFrom: number }
type Peer = { connect: (a: string) => Promise<unknown>, libp2p: { hangUp: (p: unknown) => Promise<void>, getConnections: () => Array<{ remotePeer: { toString: () => string }, remoteAddr: { toString: () => string } }> }, transportTo: (p: string) => string, sendFile: (to: string, f: File) => Promise<PageResult>, request: (to: string, t: string, b: unknown) => Promise<unknown> }

async function connectOnly (page: Page, addr: string): Promise<string> {
  return await page.evaluate(async (a) => {
    const peer = (globalThis as unknown as { subwirePeer: Peer }).subwirePeer
    const id = a.slice(a.lastIndexOf('/p2p/') + 5)
    for (const c of peer.libp2p.getConnections()) if (c.remotePeer.toString() === id) await peer.libp2p.hangUp(c.remotePeer)
    await peer.connect(a)
    return peer.transportTo(id)
  }, addr)
}

/** `subwire send` through the running listener (the peer that serves WebTransport); its transfer time in ms. */
async function cliSend (home: string, to: string, path: string): Promise<number> {
  const proc = spawn(process.execPath, [BIN, '--home', home, '--json', 'send', to, path], { stdio: ['ignore', 'pipe', 'pipe'], signal: AbortSignal.timeout(CASE_MS) })
  proc.on('error', () => {})
  let out = ''
  let err = ''
  proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => { proc.once('exit', resolve) })
  const sent = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event?: string, ms?: number }).find((e) => e.event === 'sent')
  if (code !== 0 || sent?.ms === undefined) throw new Error(`subwire send failed (${code}): ${out}${err}`)
  return sent.ms
}

const dir = await mkdtemp(join(tmpdir(), 'subwire-bench-browser-'))
const rows: Array<Record<string, unknown>> = []
let cli: CliPeer | undefined
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
try {
  await buildDashboard()
  const ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort(), webtransport: await freePort() }
  cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
  const page = await browser.newPage()
  await page.goto(cli.dashboard)
  await page.click('[data-testid=use-dev-key]')
  await page.waitForSelector('body[data-signed-in=true]')
  // `subwire send` below blocks this process, so nobody could click Accept: receive without asking
  await page.uncheck('[data-testid=ask-consent]')
  // a new file per case: a receiver that already holds a file answers at once, which measures nothing
  let files = 0
  const freshFile = async (): Promise<string> => {
    if (files > 0) await rm(join(dir, `bench-${files}.bin`), { force: true })
    const path = join(dir, `bench-${++files}.bin`)
    await randomFile(path, sizeMiB * 1024 * 1024)
    return path
  }
  await page.setInputFiles('[data-testid=file-input]', [])
  for (const addr of cli.browserAddrs) {
    const transport = await deadline(`connecting over ${addr}`, connectOnly(page, addr))
    const src = await freshFile()
    // hand the file to the page without starting the dashboard's own send
    await page.evaluate(() => { (document.getElementById('file-input') as HTMLInputElement).id = 'bench-file' })
    await page.setInputFiles('#bench-file', src)
    const r = await deadline(`browser → Node over ${transport}`, page.evaluate(async (to) => {
      const peer = (globalThis as unknown as { subwirePeer: Peer }).subwirePeer
      const file = (document.getElementById('bench-file') as HTMLInputElement).files?.[0] as File
      return await peer.sendFile(to, file)
    }, BOB))
    if (r.resumedFrom !== 0) throw new Error(`browser → Node over ${transport} resumed from ${r.resumedFrom}: it did not move the whole file`)
    await page.evaluate(() => { (document.getElementById('bench-file') as HTMLInputElement).id = 'file-input' })
    rows.push({ case: 'browser → Node file', transport, mib: sizeMiB, seconds: r.ms / 1000, mbPerS: (sizeMiB * 1048576) / 1e6 / (r.ms / 1000) })
    const lat = await deadline(`RPC over ${transport}`, page.evaluate(async ({ to, n }) => {
      const peer = (globalThis as unknown as { subwirePeer: Peer }).subwirePeer
      const body = { pad: 'x'.repeat(1000) }
      const ms: number[] = []
      for (let i = 0; i < n; i++) { const t = performance.now(); await peer.request(to, 'echo', body); ms.push(performance.now() - t) }
      ms.sort((a, b) => a - b)
      return { p50: ms[Math.floor(n * 0.5)] ?? 0, p99: ms[Math.floor(n * 0.99)] ?? 0 }
    }, { to: BOB, n: rpcCalls }))
    rows.push({ case: 'RPC 1 KiB echo, sequential', transport, calls: rpcCalls, p50Ms: lat.p50, p99Ms: lat.p99 })
  }
  // peer → browser over WebTransport: the listener itself sends (`subwire send` through its control socket)
  const wt = cli.browserAddrs.find((a) => a.includes('/webtransport/'))
  if (wt === undefined) throw new Error('the listener offers no WebTransport address')
  const transport = await deadline('connecting over WebTransport', connectOnly(page, wt))
  const me = await page.textContent('#my-ss58') ?? ''
  const ms = await deadline('Node → browser over WebTransport', cliSend(join(dir, 'bob'), me, await freshFile()))
  rows.push({ case: 'Node → browser file (OPFS)', transport, mib: sizeMiB, seconds: ms / 1000, mbPerS: (sizeMiB * 1048576) / 1e6 / (ms / 1000), from: BOB })
  // Node → browser over WebRTC-Direct and WebSockets, into OPFS (a Node peer: only Deno serves WebTransport)
  for (const t of ['webrtc-direct', 'ws'] as const) {
    const { sender: eve, addr } = await NodeSender.start(t)
    try {
      const transport = await deadline(`connecting over ${t}`, connectOnly(page, addr))
      const me = await page.textContent('#my-ss58') ?? ''
      const { result, error } = await deadline(`Node → browser over ${t}`, eve.send(await freshFile(), me))
      if (error !== undefined || result === undefined) throw new Error(`Node → browser over ${t} failed: ${error}`)
      rows.push({ case: 'Node → browser file (OPFS)', transport, mib: sizeMiB, seconds: result.ms / 1000, mbPerS: (sizeMiB * 1048576) / 1e6 / (result.ms / 1000), from: EVE })
    } finally {
      eve.stop()
    }
  }
} catch (err) {
  process.stderr.write(`failed: ${(err as Error).message}\nlistener stderr: ${cli?.stderr.slice(-3000)}\nlistener events: ${JSON.stringify(cli?.events.filter((e) => e.event !== 'listening'))}\n`)
  process.exitCode = 1
} finally {
  await browser.close()
  await cli?.kill()
  await rm(dir, { recursive: true, force: true })
}

const out = {
  kind: 'browser',
  date: new Date().toISOString(),
  machine: { node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, kernel: release(), chromium: browser.version() },
  note: 'headless Chromium and the Node peer on one 2-core machine over 127.0.0.1; file MB/s include BLAKE3 hashing of the source',
  rows
}
mkdirSync(new URL('./results', import.meta.url), { recursive: true })
const path = new URL(`./results/browser-${out.date.replace(/[:.]/g, '-')}.json`, import.meta.url)
writeFileSync(path, JSON.stringify(out, null, 2) + '\n')
if (values.out !== undefined) writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n')
for (const r of rows) {
  const what = r.mbPerS !== undefined ? `${(r.mbPerS as number).toFixed(1)} MB/s (${r.mib as number} MiB in ${(r.seconds as number).toFixed(1)} s)` : `p50 ${(r.p50Ms as number).toFixed(2)} ms, p99 ${(r.p99Ms as number).toFixed(2)} ms over ${r.calls as number} calls`
  process.stdout.write(`${String(r.case).padEnd(30)} ${String(r.transport).padEnd(14)} ${what}\n`)
}
process.stdout.write(`\nwrote ${path.pathname}\n`)
// a child the failed case left behind (a `subwire send` still retrying) must not keep this process alive
process.exit()
