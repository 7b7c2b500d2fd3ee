// The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (about 5 minutes; `--only rpc,ceilings,files,browser,discovery` picks sections).
// subwire against what a user would otherwise pick and against the machine's limits, in
// one run on one machine: every server is started and stopped here, on 127.0.0.1. Writes
// bench/results/<date>.json and prints a table. Every figure is the median over the runs,
// with min and max. A baseline that cannot start is reported as missing, with the reason.
// Not a test: no thresholds (the targets are printed beside the figures).
import { sshBaselines } from './lib/ssh.ts'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'file-sizes': { type: 'string' }, targets: { type: 'string' } } })
const quick = values.quick === true
const only = values.only === undefined ? undefined : new Set(values.only.split(','))
const want = (section: string): boolean => only === undefined || only.has(section)
const ROOT = new URL('..', import.meta.url).pathname
const PY = '/usr/bin/python3'
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'
const runs = quick ? 1 : 3
const plan = quick
  ? { payloads: [1024, 102_400], cold: 10, sequential: 200, inflight: [1, 32], durationMs: 1000 }
  : { payloads: [256, 1024, 10_240, 102_400, 1_048_576], cold: 100, sequential: 1000, inflight: [1, 32, 128], durationMs: 3000 }
const fileSizes = values['file-sizes'] !== undefined ? values['file-sizes'].split(',').map(Number) : quick ? [128] : [1024, 10_240]

interface Stat { median: number, min: number, max: number }
type Missing = { missing: string }

const machine = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  kernel: release(),
  date: new Date().toISOString(),
  quick
}
const results: Record<string, unknown> = { machine, plan, runs, sections: {} }
const sections = results.sections as Record<string, unknown>

function stat (xs: number[]): Stat {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b)
  return { median: s[Math.floor((s.length - 1) / 2)] ?? Number.NaN, min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN }
}

/** Merges repeated runs of the same shape: every number becomes {median, min, max}. */
function merge (runsOut: unknown[]): unknown {
  const first = runsOut[0]
  if (typeof first === 'number') return stat(runsOut as number[])
  if (Array.isArray(first)) return first.map((_, i) => merge(runsOut.map((r) => (r as unknown[])[i])))
  if (first !== null && typeof first === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(first)) out[k] = merge(runsOut.map((r) => (r as Record<string, unknown>)[k]))
    return out
  }
  return first
}

function log (line: string): void { process.stderr.write(line + '\n') }

/** Starts a server process that prints `{addr, pid}`; resolves with it and a stop function. */
async function startServer (cmd: string, args: string[]): Promise<{ addr: string, pid: number, pids: number[], stop: () => Promise<void> }> {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => { child.on('exit', resolve) })
  const line = await Promise.race([
    new Promise<string>((resolve) => { createInterface({ input: child.stdout }).once('line', resolve) }),
    exited.then((code) => { throw new Error(`exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`) }),
    new Promise<never>((_r, reject) => setTimeout(() => { reject(new Error('did not start within 30 s')) }, 30_000))
  ])
  const { addr, pid, pids } = JSON.parse(line) as { addr: string, pid: number, pids?: number[] }
  return {
    addr,
    pid,
    pids: pids ?? [pid],
    stop: async () => {
      child.stdin.end()
      const t = setTimeout(() => { child.kill('SIGKILL') }, 5000)
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
      clearTimeout(t)
    }
  }
}

async function runClient (kind: string, transport: string, addr: string, pid: number, env: Record<string, string> = {}): Promise<unknown> {
  const r = spawnSync(process.execPath, [join(ROOT, 'bench/lib/client.ts'), kind, transport, addr, String(pid), JSON.stringify(plan)], { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 64 << 20, env: { ...process.env, ...env } })
  if (r.status !== 0) throw new Error(`client failed (${r.status}): ${(r.stderr ?? '').split('\n').filter((l) => /Error/.test(l)).slice(0, 2).join(' | ') || (r.stderr ?? '').slice(-300)}`)
  return JSON.parse(r.stdout.trim().split('\n').pop() as string)
}

// --- RPC ------------------------------------------------------------------------

const RPC_TARGETS: Array<{ name: string, kind: string, transport: string, server: () => [string, string[]], what: string }> = [
  { name: 'subwire QUIC', kind: 'subwire', transport: 'quic', server: () => [process.execPath, ['bench/lib/servers.ts', 'subwire', 'quic']], what: 'subwire RPC over QUIC: hotkey handshake per connection, one multiplexed stream' },
  ...(quick
    ? []
    : [{ name: 'subwire QUIC, large requests over TCP', kind: 'subwire', transport: 'quic+tcp', server: (): [string, string[]] => [process.execPath, ['bench/lib/servers.ts', 'subwire', 'quic+tcp']], what: 'the QUIC row, to a peer that also listens on TCP: requests of 256 KiB or more go over a TCP + TLS connection to it (SubwireInit.bulk)' }]),
  { name: 'subwire TCP', kind: 'subwire', transport: 'tcp', server: () => [process.execPath, ['bench/lib/servers.ts', 'subwire', 'tcp']], what: 'subwire RPC over TCP + TLS 1.3 + yamux' },
  { name: 'libp2p perf QUIC', kind: 'perf', transport: 'quic', server: () => [process.execPath, ['bench/lib/servers.ts', 'perf', 'quic']], what: 'raw js-libp2p, /perf/1.0.0, a stream per request, no subwire layer' },
  { name: 'libp2p perf TCP', kind: 'perf', transport: 'tcp', server: () => [process.execPath, ['bench/lib/servers.ts', 'perf', 'tcp']], what: 'raw js-libp2p over TCP + TLS 1.3 + yamux, /perf/1.0.0' },
  { name: 'FastAPI axon', kind: 'axon', transport: 'http', server: () => [PY, ['bench/lib/axon.py']], what: 'bittensor axon stack: FastAPI + uvicorn, HTTP/1.1 JSON, base64 payload, per-request ed25519 signature (Debian has no sr25519 package)' },
  { name: 'plain TCP', kind: 'tcp', transport: 'tcp', server: () => [process.execPath, ['bench/lib/servers.ts', 'tcp']], what: 'node:net, u32-length frames, pipelined: the ceiling, no security' }
]

if (want('rpc')) {
  const rpc: Record<string, unknown> = {}
  const pick = values.targets === undefined ? undefined : values.targets.split(',').map((x) => x.trim().toLowerCase())
  for (const t of RPC_TARGETS.filter((x) => pick === undefined || pick.some((p) => x.name.toLowerCase().includes(p)))) {
    log(`rpc: ${t.name}…`)
    const outs: unknown[] = []
    try {
      for (let i = 0; i < runs; i++) {
        const [cmd, args] = t.server()
        const server = await startServer(cmd, args)
        try {
          outs.push(await runClient(t.kind, t.transport, server.addr, server.pid))
        } finally {
          await server.stop()
        }
      }
      rpc[t.name] = { what: t.what, ...(merge(outs) as Record<string, unknown>) }
    } catch (err) {
      rpc[t.name] = { what: t.what, missing: (err as Error).message } satisfies Missing & { what: string }
      log(`  missing: ${(err as Error).message}`)
    }
  }
  // the local API (issue 18): Python through its peer's API, and a Python handler behind its peer
  const apiRows: Array<{ name: string, what: string, run: () => Promise<unknown> }> = [
    {
      name: 'Python client → subwire API → peer',
      what: 'clients/python on the Unix socket of a dial-only peer (//Alice), which queries the subwire QUIC server\'s echo; CPU counts Python and both peers',
      run: async () => {
        const remote = await startServer(process.execPath, ['bench/lib/servers.ts', 'subwire', 'quic'])
        const local = await startServer(process.execPath, ['bench/lib/servers.ts', 'api'])
        try {
          const r = spawnSync(PY, [join(ROOT, 'bench/lib/api_client.py'), local.addr, remote.addr, [...local.pids, remote.pid].join(','), JSON.stringify(plan)], { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 64 << 20 })
          if (r.status !== 0) throw new Error(`Python client failed (${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`)
          return JSON.parse(r.stdout.trim().split('\n').pop() as string)
        } finally {
          await local.stop()
          await remote.stop()
        }
      }
    },
    {
      name: 'peer → subwire API → Python handler',
      what: 'the subwire Node client over QUIC to a peer whose RPC type is served by a Python handler through its local API (bench/lib/api_handler.py); CPU counts the peer and Python',
      run: async () => {
        const server = await startServer(process.execPath, ['bench/lib/servers.ts', 'api-handler', 'quic'])
        try {
          return await runClient('subwire', 'quic', server.addr, server.pid, { SUBWIRE_BENCH_TYPE: 'bench', SUBWIRE_BENCH_PIDS: server.pids.slice(1).join(',') })
        } finally {
          await server.stop()
        }
      }
    }
  ]
  for (const t of apiRows.filter((x) => pick === undefined || pick.some((p) => x.name.toLowerCase().includes(p)))) {
    log(`rpc: ${t.name}…`)
    try {
      const outs: unknown[] = []
      for (let i = 0; i < runs; i++) outs.push(await t.run())
      rpc[t.name] = { what: t.what, ...(merge(outs) as Record<string, unknown>) }
    } catch (err) {
      rpc[t.name] = { what: t.what, missing: (err as Error).message }
      log(`  missing: ${(err as Error).message}`)
    }
  }
  sections.rpc = rpc
}

// --- machine ceilings -----------------------------------------------------------

async function nodeTcpCeiling (bytes: number): Promise<number> {
  const server = createServer((s) => { s.on('data', () => {}); s.on('error', () => {}) })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as { port: number }).port
  const block = Buffer.alloc(1 << 20)
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve) => { socket.once('connect', resolve) })
  const t0 = performance.now()
  for (let sent = 0; sent < bytes; sent += block.byteLength) {
    if (!socket.write(block)) await new Promise((resolve) => { socket.once('drain', resolve) })
  }
  await new Promise<void>((resolve) => { socket.end(resolve) })
  const secs = (performance.now() - t0) / 1000
  socket.destroy()
  server.close()
  return Math.round(bytes / 1e6 / secs)
}

if (want('ceilings')) {
  const ceilings: Record<string, unknown> = {}
  log('ceilings: iperf3, plain Node TCP…')
  const iperf: number[] = []
  try {
    for (let i = 0; i < runs; i++) {
      const port = 5201 + Math.floor(Math.random() * 1000)
      const srv = spawn('iperf3', ['-s', '-1', '-p', String(port)], { stdio: 'ignore' })
      await new Promise((resolve) => setTimeout(resolve, 500))
      const c = spawnSync('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', quick ? '2' : '5', '-J'], { encoding: 'utf8' })
      srv.kill()
      if (c.status !== 0) throw new Error(c.stderr || c.stdout || `iperf3 exited ${c.status}`)
      iperf.push(Math.round((JSON.parse(c.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 8 / 1e6))
    }
    ceilings.iperf3 = { what: 'iperf3 TCP on loopback (Debian package)', mbPerSecond: stat(iperf) }
  } catch (err) {
    ceilings.iperf3 = { what: 'iperf3 TCP on loopback', missing: `iperf3 could not run (${(err as Error).message.split('\n')[0]}); apt-get install iperf3` }
  }
  const node: number[] = []
  for (let i = 0; i < runs; i++) node.push(await nodeTcpCeiling(quick ? 2 ** 30 : 4 * 2 ** 30))
  ceilings.nodeTcp = { what: 'one node:net socket, 1 MiB writes, receiver discards', mbPerSecond: stat(node) }
  sections.ceilings = ceilings
}

// --- files ------------------------------------------------------------------------

async function dropCaches (): Promise<boolean> {
  try {
    spawnSync('sync')
    await writeFile('/proc/sys/vm/drop_caches', '3')
    return true
  } catch {
    return false
  }
}

async function nginxCurl (dir: string, sizeMiB: number): Promise<Record<string, unknown>> {
  if (spawnSync(NGINX, ['-v']).error !== undefined) return { missing: 'nginx is not installed (apt-get install nginx)' }
  if (spawnSync('curl', ['--version']).error !== undefined) return { missing: 'curl is not installed' }
  const www = join(dir, 'www')
  mkdirSync(www, { recursive: true })
  const file = join(www, 'blob.bin')
  const fh = await open(file, 'w')
  for (let done = 0; done < sizeMiB; done += 64) await fh.write(randomBytes(Math.min(64, sizeMiB - done) << 20))
  await fh.close()
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const conf = join(dir, 'nginx.conf')
  await writeFile(conf, `daemon off; worker_processes 1; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'nginx.err')};
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${port}; root ${www}; } }
`)
  const nginx = spawn(NGINX, ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  nginx.stderr.on('data', (d: Buffer) => { err += d.toString() })
  await new Promise((resolve) => setTimeout(resolve, 700))
  if (nginx.exitCode !== null) return { missing: `nginx did not start: ${err.trim()}` }
  const rates: number[] = []
  try {
    for (let i = 0; i < runs; i++) {
      const dropped = await dropCaches()
      const c = spawnSync('curl', ['-s', '-o', join(dir, 'got.bin'), '-w', '%{speed_download}', `http://127.0.0.1:${port}/blob.bin`], { encoding: 'utf8' })
      if (c.status !== 0) return { missing: `curl failed: ${c.stderr}` }
      rates.push(Math.round(Number(c.stdout) / 1e6))
      void dropped
    }
  } finally {
    nginx.kill('SIGQUIT')
  }
  return { what: 'nginx (sendfile) serving the file to curl over HTTP/1.1, disk to disk, no verification, no encryption', sizeMiB, mbPerSecond: stat(rates) }
}

/**
 * Resume cost: a QUIC, encrypted send is killed (`kill -9` of the sender) once half the
 * file is acknowledged; the same send again resumes from the receiver's verified offset.
 */
async function resumeCost (dir: string, sizeMiB: number): Promise<Record<string, unknown>> {
  const BIN = join(ROOT, 'packages/peer-node/bin/subwire.js')
  const home = (n: string): string => join(dir, 'resume', n)
  for (const [n, uri] of [['alice', '//Alice'], ['bob', '//Bob']] as const) {
    spawnSync(process.execPath, [BIN, '--home', home(n), 'init', '--hotkey-uri', uri, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { stdio: 'ignore' })
  }
  const file = join(dir, 'resume.bin')
  const fh = await open(file, 'w')
  for (let done = 0; done < sizeMiB; done += 64) await fh.write(randomBytes(Math.min(64, sizeMiB - done) << 20))
  await fh.close()
  const bob = spawn(process.execPath, [BIN, '--home', home('bob'), 'listen', '--json', '--min-free', '0'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const bobLines: Array<Record<string, unknown>> = []
  createInterface({ input: bob.stdout }).on('line', (l) => { try { bobLines.push(JSON.parse(l) as Record<string, unknown>) } catch {} })
  try {
    const deadline = Date.now() + 20_000
    while (!bobLines.some((l) => l.event === 'listening')) {
      if (Date.now() > deadline) throw new Error('the receiver did not start')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const addr = (bobLines.find((l) => l.event === 'listening')?.multiaddrs as string[])[0] as string
    const send = (): { lines: Array<Record<string, unknown>>, child: ReturnType<typeof spawn>, exited: Promise<number | null> } => {
      // its own process group: the launcher may run the CLI in a child, and kill -9 must take both
      const child = spawn(process.execPath, [BIN, '--home', home('alice'), 'send', addr, file, '--json', '--no-queue'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true })
      const lines: Array<Record<string, unknown>> = []
      createInterface({ input: child.stdout! }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch {} })
      return { lines, child, exited: new Promise((resolve) => { child.on('exit', resolve) }) }
    }
    const first = send()
    const half = sizeMiB * 1024 * 1024 / 2
    while (!first.lines.some((l) => l.event === 'progress' && Number(l.bytes) >= half)) {
      if (first.child.exitCode !== null) throw new Error('the first send ended before half the file')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    process.kill(-(first.child.pid as number), 'SIGKILL')
    await first.exited
    const t0 = performance.now()
    const second = send()
    const code = await second.exited
    const secs = (performance.now() - t0) / 1000
    const sent = second.lines.find((l) => l.event === 'sent') as { bytesSent: number, resumedFrom: number, ms: number } | undefined
    if (code !== 0 || sent === undefined) throw new Error(`the resumed send failed (exit ${String(code)})`)
    return {
      what: 'QUIC, encrypted: the sender killed (kill -9) once half the file was sent, then the same send again',
      sizeMiB,
      resumedFromMiB: Math.round(sent.resumedFrom / 1048576),
      resentMiB: Math.round(sent.bytesSent / 1048576),
      secondSendSeconds: Math.round(secs * 10) / 10,
      secondSendHashingIncluded: true
    }
  } finally {
    const gone = new Promise((resolve) => { bob.on('exit', resolve) })
    bob.kill('SIGINT')
    await gone
  }
}

if (want('files')) {
  const files: Record<string, unknown> = {}
  const dir = await mkdtemp(join(tmpdir(), 'subwire-bench-run-'))
  files.pageCacheDropped = await dropCaches()
  try {
    for (const size of fileSizes) {
      log(`files: subwire ${size} MiB…`)
      const out = join(dir, `files-${size}.json`)
      const r = spawnSync(process.execPath, [join(ROOT, 'bench/file-transfer.ts'), '--size-mib', String(size), '--runs', String(runs), '--out', out], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 60 * 60_000 })
      if (r.status !== 0 || !existsSync(out)) {
        files[`subwire ${size} MiB`] = { missing: `file benchmark failed: ${(r.stderr ?? '').slice(-400)}` }
        continue
      }
      const rows = (JSON.parse(readFileSync(out, 'utf8')) as { rows: Array<Record<string, unknown>> }).rows
      const groups = new Map<string, Array<Record<string, unknown>>>()
      for (const row of rows) {
        const k = `${String(row.transport)} ${row.encrypted === true ? 'encrypted' : 'plain'}${row.resend === true ? ', re-send (outboard kept)' : ''}`
        groups.set(k, [...(groups.get(k) ?? []), row])
      }
      const agg: Record<string, unknown> = {}
      for (const [k, g] of groups) {
        agg[k] = {
          ok: g.every((x) => x.ok === true),
          transferMBps: stat(g.map((x) => Number(x.mbPerSecondTransfer))),
          totalMBps: stat(g.map((x) => Number(x.mbPerSecondTotal))),
          senderPeakRssMiB: stat(g.map((x) => Number(x.senderPeakRssMiB))),
          receiverPeakRssMiB: stat(g.map((x) => Number(x.receiverPeakRssMiB))),
          firstProgressSeconds: stat(g.map((x) => Number(x.firstProgressSeconds))),
          senderCpuSecondsPerGiB: stat(g.map((x) => Number(x.senderCpuSecondsPerGiB))),
          receiverCpuSecondsPerGiB: stat(g.map((x) => Number(x.receiverCpuSecondsPerGiB)))
        }
      }
      files[`subwire ${size} MiB`] = agg
      log(`files: nginx + curl ${size} MiB…`)
      files[`nginx+curl ${size} MiB`] = await nginxCurl(dir, size)
      log(`files: scp and rsync over ssh ${size} MiB…`)
      Object.assign(files, await sshBaselines(dir, size, runs, dropCaches, stat))
    }
    log(`files: resume after kill -9 at 50 %, ${fileSizes[0] as number} MiB…`)
    try {
      files.resumeAfterKill = await resumeCost(dir, fileSizes[0] as number)
    } catch (err) {
      files.resumeAfterKill = { missing: `resume run failed: ${(err as Error).message}` }
    }
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
  }
  sections.files = files
}

// --- browser ----------------------------------------------------------------------

if (want('browser')) {
  log('browser: Chromium…')
  const dir = await mkdtemp(join(tmpdir(), 'subwire-bench-br-'))
  const out = join(dir, 'browser.json')
  const r = spawnSync(process.execPath, [join(ROOT, 'bench/browser.ts'), '--size-mib', quick ? '32' : '256', '--rpc', quick ? '200' : '1000', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: (quick ? 10 : 30) * 60_000 })
  sections.browser = r.status === 0 && existsSync(out)
    ? JSON.parse(readFileSync(out, 'utf8'))
    : { missing: `browser benchmark failed: ${(r.stderr ?? '').slice(-400)}` }
  await rm(dir, { recursive: true, force: true })
}

// --- discovery (issue 17) -----------------------------------------------------------

if (want('discovery')) {
  const peers = quick ? 50 : 200
  log(`discovery: ${peers} peers, DHT, resolve, fan-out…`)
  const dir = await mkdtemp(join(tmpdir(), 'subwire-bench-disc-'))
  const out = join(dir, 'discovery.json')
  // its own deadline ends it with what was measured; the child timeout is the backstop
  const deadlineS = quick ? 170 : 900
  const r = spawnSync(process.execPath, [join(ROOT, 'bench/discovery.ts'), '--peers', String(peers), '--deadline-s', String(deadlineS), '--out', out], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: (deadlineS + 30) * 1000, killSignal: 'SIGKILL' })
  sections.discovery = existsSync(out)
    ? JSON.parse(readFileSync(out, 'utf8'))
    : { missing: `discovery benchmark failed (${r.error?.message ?? `exit ${String(r.status)}`}): ${(r.stderr ?? '').slice(-400)}` }
  await rm(dir, { recursive: true, force: true })
}

// published anchors, not measured here
results.anchors = {
  note: 'published by their authors on other hardware; NOT measured here, shown for reference only',
  btlightning: { source: 'btlightning README (Rust QUIC RPC, sr25519 handshake per connection), Apple silicon', rpc1KiB: { reqPerSec: 68_650, p50Ms: 0.05 } },
  btlightningPython: { source: 'btlightning README, its Python bindings, Apple silicon', rpc1KiB: { reqPerSec: 26_539 } }
}
results.targets = { pythonClientVsAxon1KiB: 5, pythonHandlerVsAxon1KiB: 3, rpc1KiBAt32ReqPerSec: 30_000, sequentialP50Ms: 0.15, setupP50Ms: 3, encryptedFileMBps: 1000, fileRssMiB: 256 }

// --- output -----------------------------------------------------------------------

mkdirSync(join(ROOT, 'bench/results'), { recursive: true })
const path = join(ROOT, 'bench/results', `${machine.date.replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`)
writeFileSync(path, JSON.stringify(results, null, 2) + '\n')
const { renderTable } = await import('./table.ts')
process.stdout.write(renderTable(results) + `\nwritten to ${path}\n`)
