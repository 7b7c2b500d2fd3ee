// Chaos harness: `npm run chaos [-- --kills 200 --max-mib 256 --seed 1]`. Two `subwire listen`
// processes (//Alice and //Bob, own homes, QUIC on 127.0.0.1 with fixed ports) exchange a
// mixed workload while this process kills one side's whole process group (`kill -9`) at a
// random moment, restarts it, and repeats:
// - files of random sizes (up to --max-mib) both ways, handed to the running listener with
//   `subwire send --detach` (queued locally when that side is down), through the outbox;
// - queued messages (`subwire message --detach`) carrying a sequence number per direction;
// - RPC `echo` queries from a third home (//Charlie, one-shot `subwire query` processes).
// The inboxes are polled all along: every file that appears must be whole and carry its
// sender's SHA-256 at first sight. At the end (after a drain) it checks that every file arrived
// exactly once with its hash, every message exactly once and in order per direction, the
// outboxes and dead-letter lists are empty (`subwire queue list|dead --json`), and that no
// peer's RSS (VmRSS of the peer child, sampled every second) passed 1.5 GiB or started each
// life higher and higher; prints a table, writes
// bench/results/chaos-<timestamp>.json, and exits 1 with the failures listed if any check failed.
// Seeded (--seed): the sides, moments, sizes and pauses replay; process timing does not.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises'
import { createSocket } from 'node:dgram'
import { cpus, loadavg, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import type { ChildProcess } from 'node:child_process'

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '200' },
    'max-mib': { type: 'string', default: '256' },
    seed: { type: 'string' },
    'min-gap': { type: 'string', default: '1000' }, // ms a peer stays up at least before a kill
    'max-gap': { type: 'string', default: '6000' },
    'drain-timeout': { type: 'string', default: '300' }, // s
    keep: { type: 'boolean', default: false },
    out: { type: 'string' }, // where to write the JSON (default bench/results/chaos-<ts>.json)
    quiet: { type: 'boolean', default: false }
  }
})
const KILLS = Number(values.kills)
const MAX_BYTES = Math.round(Number(values['max-mib']) * 1024 * 1024)
const SEED = values.seed === undefined ? (Date.now() % 2 ** 31) : Number(values.seed)
const MIN_GAP = Number(values['min-gap'])
const MAX_GAP = Number(values['max-gap'])
const DRAIN_MS = Number(values['drain-timeout']) * 1000
const BIN = new URL('../packages/peer-node/bin/subwire.js', import.meta.url).pathname
const NODE = process.execPath
/** At most this many files per direction waiting to arrive (bounds disk and keeps the outbox moving). */
const MAX_FILES_IN_FLIGHT = 2
/** Messages per direction handed over between two kills, on average. */
const MESSAGE_GAP_MS = [150, 600] as const
const RPC_GAP_MS = [500, 2500] as const

function log (line: string): void { if (!values.quiet) process.stderr.write(`[chaos ${((performance.now() - T0) / 1000).toFixed(1)}s] ${line}\n`) }
const T0 = performance.now()

// --- seeded randomness (mulberry32): one stream per concern, so a replay draws the same values
function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rand = { kill: rng(SEED), files: rng(SEED ^ 0x1111), msgs: rng(SEED ^ 0x2222), rpc: rng(SEED ^ 0x3333) }
const between = (r: () => number, lo: number, hi: number): number => lo + r() * (hi - lo)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A file size: 1 in 20 empty, else log-uniform from 1 byte to MAX_BYTES (so most are small, some are big). */
function fileSize (): number {
  if (rand.files() < 0.05) return 0
  return Math.max(1, Math.floor(Math.exp(rand.files() * Math.log(Math.max(2, MAX_BYTES)))))
}

async function freeUdpPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createSocket('udp4')
    s.once('error', reject)
    s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => { resolve(p) }) })
  })
}

/** One-shot commands still running (each in its own process group), killed if the run ends early. */
const running = new Set<number>()

/** Runs a CLI command to its end: exit code, stdout JSON lines, stderr. */
async function cli (home: string, args: string[], timeoutMs = 120_000): Promise<{ code: number | null, lines: Array<Record<string, unknown>>, stderr: string }> {
  return await new Promise((resolve) => {
    const p = spawn(NODE, [BIN, '--home', home, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    running.add(p.pid as number)
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const t = setTimeout(() => { try { process.kill(-(p.pid as number), 'SIGKILL') } catch {} }, timeoutMs)
    p.on('close', (code) => {
      clearTimeout(t)
      running.delete(p.pid as number)
      const lines = out.split('\n').flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>] } catch { return [] } })
      resolve({ code, lines, stderr: err.trim() })
    })
  })
}

async function sha256File (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

async function randomFile (path: string, size: number): Promise<string> {
  const h = createHash('sha256')
  const f = await open(path, 'w')
  try {
    for (let done = 0; done < size;) {
      const b = randomBytes(Math.min(4 << 20, size - done))
      h.update(b)
      await f.write(b)
      done += b.length
    }
  } finally {
    await f.close()
  }
  return h.digest('hex')
}

/** VmRSS of a process in MiB, or undefined once it is gone. */
function rssMiB (pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? undefined : Number(m[1]) / 1024
  } catch { return undefined }
}
function childPid (pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]
    return first === undefined || first === '' ? undefined : Number(first)
  } catch { return undefined }
}

type Event = Record<string, unknown> & { event?: string }

/** One side: a home and its `subwire listen` process, restarted after each kill. */
class Side {
  readonly name: string
  readonly home: string
  readonly uri: string
  readonly port: number
  ss58 = ''
  addr = ''
  proc: ChildProcess | undefined
  lives = 0
  starting = false
  /** When the current life started listening, and when this side was last killed (performance.now()). */
  upSince = 0
  killedAt = -Infinity
  /** RSS samples of the peer child: [life, seconds since start of run, MiB]. */
  readonly rss: Array<[number, number, number]> = []
  readonly onEvent: (e: Event, side: Side) => void
  stderrTail = ''

  constructor (name: string, home: string, uri: string, port: number, onEvent: (e: Event, side: Side) => void) {
    this.name = name
    this.home = home
    this.uri = uri
    this.port = port
    this.onEvent = onEvent
  }

  get up (): boolean { return this.proc !== undefined && !this.starting }

  async init (): Promise<void> {
    const r = await cli(this.home, ['init', '--hotkey-uri', this.uri, '--listen', `/ip4/127.0.0.1/udp/${this.port}/quic-v1`])
    if (r.code !== 0) throw new Error(`init ${this.name}: ${r.stderr}`)
  }

  async start (): Promise<void> {
    this.starting = true
    this.lives++
    const life = this.lives
    const proc = spawn(NODE, [BIN, '--home', this.home, '--json', 'listen', '--min-free', '0'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    let listening: (() => void) | undefined
    const ready = new Promise<void>((resolve) => { listening = resolve })
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let e: Event
      try { e = JSON.parse(line) as Event } catch { return }
      if (e.event === 'listening') {
        this.ss58 = String(e.ss58)
        this.addr = (e.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) ?? ''
        listening?.()
      }
      this.onEvent(e, this)
    })
    proc.stderr.on('data', (d: Buffer) => { this.stderrTail = (this.stderrTail + d.toString()).slice(-4000) })
    const exited = new Promise<never>((_resolve, reject) => { proc.once('exit', (code, sig) => { reject(new Error(`${this.name} listen exited (${code ?? sig}) before listening: ${this.stderrTail}`)) }) })
    exited.catch(() => {})
    await Promise.race([ready, exited, sleep(60_000).then(() => { throw new Error(`${this.name} not listening within 60 s: ${this.stderrTail}`) })])
    this.starting = false
    this.upSince = performance.now()
    const sample = (): void => {
      if (this.proc !== proc) return
      const child = childPid(proc.pid as number)
      const mib = child === undefined ? undefined : rssMiB(child)
      if (mib !== undefined) this.rss.push([life, Math.round((performance.now() - T0) / 100) / 10, Math.round(mib)])
      setTimeout(sample, 1000).unref()
    }
    sample()
  }

  /** `kill -9` of the whole process group (the launcher and the peer). */
  async kill (): Promise<void> {
    const proc = this.proc
    if (proc === undefined) return
    this.proc = undefined
    this.killedAt = performance.now()
    const gone = new Promise((resolve) => { proc.once('exit', resolve) })
    try { process.kill(-(proc.pid as number), 'SIGKILL') } catch {}
    if (proc.exitCode === null && proc.signalCode === null) await gone
  }

  /** A clean stop (SIGINT), as at the end of the run. */
  async stop (): Promise<void> {
    const proc = this.proc
    if (proc === undefined) return
    this.proc = undefined
    const gone = new Promise((resolve) => { proc.once('exit', resolve) })
    try { process.kill(-(proc.pid as number), 'SIGINT') } catch {}
    await Promise.race([gone, sleep(15_000)])
    try { process.kill(-(proc.pid as number), 'SIGKILL') } catch {}
  }
}

// --- the run's state
interface SentFile { n: number, from: string, to: string, name: string, path: string, size: number, sha: string, itemId?: string, queuedAt: number, arrivedAt?: number, deliveredAt?: number, resumedFrom?: number }
const files = new Map<string, SentFile>() // by name (unique per run)
const filesInFlight = { AB: 0, BA: 0 }
const inboxSeen = new Map<string, { size: number, mtimeMs: number, ok: boolean }>() // by inbox path
/** The size of each file's partial (`files/partial/<key>.part`) when last sampled, and at the last kill. */
const partialSize = new Map<string, number>()
const partialAtKill = new Map<string, number>()
let partialNow = false
const problems: string[] = []
const counts = {
  kills: 0,
  killsMidTransfer: 0,
  killsBySide: { A: 0, B: 0 } as Record<string, number>,
  filesQueued: 0,
  filesArrived: 0,
  fileBytes: 0,
  resumedTransfers: 0,
  resumedBytes: 0,
  partialBytesNotKept: 0,
  fileEventsFailed: 0,
  sendHandoffFailures: 0,
  messagesQueued: 0,
  messagesReceived: 0,
  messageHandoffFailures: 0,
  rpcOk: 0,
  rpcFailed: 0,
  rpcFailedWhileUp: 0,
  rpcWrong: 0,
  retries: 0,
  deliveredEvents: 0,
  deadEvents: 0,
  inboxPolls: 0
}
const received: Record<"AB" | "BA", number[]> = { AB: [], BA: [] } // message seqs in arrival order
const sentSeq = { AB: 0, BA: 0 }
let stopping = false

const dir = await mkdtemp(join(tmpdir(), 'subwire-chaos-'))
const [portA, portB] = [await freeUdpPort(), await freeUdpPort()]
const sides: Record<string, Side> = {}
const other = (s: Side): Side => s.name === 'A' ? sides.B as Side : sides.A as Side
const dirKey = (from: Side): 'AB' | 'BA' => from.name === 'A' ? 'AB' : 'BA'

function onEvent (e: Event, side: Side): void {
  if (e.event === 'file') {
    const f = files.get(String(e.name))
    if (f === undefined) { problems.push(`${side.name} received a file nobody sent: ${String(e.name)} (${String(e.path)})`); return }
    if (f.arrivedAt !== undefined) { problems.push(`${side.name} received ${f.name} a second time (${String(e.path)})`); return }
    f.arrivedAt = Date.now()
    f.resumedFrom = Number(e.resumedFrom ?? 0)
    filesInFlight[f.from === 'A' ? 'AB' : 'BA']--
    counts.filesArrived++
    counts.fileBytes += f.size
    if (f.resumedFrom > 0) { counts.resumedTransfers++; counts.resumedBytes += f.resumedFrom }
    // written to the partial before the last kill but not kept by the resume: sent again
    counts.partialBytesNotKept += Math.max(0, (partialAtKill.get(f.name) ?? 0) - f.resumedFrom)
  } else if (e.event === 'file-failed') {
    counts.fileEventsFailed++
  } else if (e.event === 'message' && e.action === 'chaos') {
    const seq = (e.payload as { seq: number }).seq
    const key = side.name === 'B' ? 'AB' : 'BA'
    received[key].push(seq)
    counts.messagesReceived++
  } else if (e.event === 'delivered') {
    counts.deliveredEvents++
    for (const f of files.values()) if (f.itemId === e.id) f.deliveredAt = Date.now()
  } else if (e.event === 'retry') {
    counts.retries++
  } else if (e.event === 'dead') {
    counts.deadEvents++
    problems.push(`${side.name} dead-lettered ${String(e.id)}: ${String(e.error)}: ${String(e.message)}`)
  }
}

/** Looks at every file in both inboxes: each must be a whole file we sent, with its hash. */
async function pollInboxes (): Promise<void> {
  counts.inboxPolls++
  for (const side of Object.values(sides)) {
    const inbox = join(side.home, 'files', 'inbox')
    let senders: string[] = []
    try { senders = await readdir(inbox) } catch { continue }
    for (const s of senders) {
      for (const name of await readdir(join(inbox, s))) {
        const path = join(inbox, s, name)
        let st
        try { st = await stat(path) } catch { continue }
        const seen = inboxSeen.get(path)
        if (seen !== undefined && seen.size === st.size && seen.mtimeMs === st.mtimeMs) continue
        if (seen !== undefined) problems.push(`${path} changed after it appeared (${seen.size} -> ${st.size} bytes)`)
        const f = files.get(name)
        if (f === undefined) {
          problems.push(`unexpected file in ${side.name}'s inbox: ${name} (${st.size} bytes; a duplicate or a stray)`)
          inboxSeen.set(path, { size: st.size, mtimeMs: st.mtimeMs, ok: false })
          continue
        }
        if (st.size !== f.size) problems.push(`partial file in ${side.name}'s inbox: ${name} has ${st.size} of ${f.size} bytes`)
        const sha = st.size === f.size ? await sha256File(path) : ''
        const ok = sha === f.sha
        if (st.size === f.size && !ok) problems.push(`corrupted file in ${side.name}'s inbox: ${name} (sha256 ${sha.slice(0, 16)}… != ${f.sha.slice(0, 16)}…)`)
        inboxSeen.set(path, { size: st.size, mtimeMs: st.mtimeMs, ok })
      }
    }
  }
}

/** Samples the receivers' partial files: which transfers are under way, and how far each got. */
async function pollPartials (): Promise<void> {
  let now = false
  for (const side of Object.values(sides)) {
    const partial = join(side.home, 'files', 'partial')
    let names: string[] = []
    try { names = await readdir(partial) } catch { continue }
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      try {
        const p = JSON.parse(readFileSync(join(partial, n), 'utf8')) as { name: string }
        const size = (await stat(join(partial, n.replace(/\.json$/, '.part')))).size
        if (size > 0 && files.get(p.name)?.arrivedAt === undefined) now = true
        partialSize.set(p.name, size)
      } catch {} // written or removed as we read it
    }
  }
  partialNow = now
}

async function sendFiles (): Promise<void> {
  let n = 0
  while (!stopping) {
    const from = rand.files() < 0.5 ? sides.A as Side : sides.B as Side
    const key = dirKey(from)
    const size = fileSize()
    if (filesInFlight[key] >= MAX_FILES_IN_FLIGHT) { await sleep(300); continue }
    n++
    const name = `f${String(n).padStart(5, '0')}-${from.name}${other(from).name}-${size}.bin`
    const path = join(dir, `src-${from.name}`, name)
    const sha = await randomFile(path, size)
    const f: SentFile = { n, from: from.name, to: other(from).name, name, path, size, sha, queuedAt: Date.now() }
    files.set(name, f)
    filesInFlight[key]++
    counts.filesQueued++
    // a handoff that fails is run again: a re-run of the same send joins the item already queued
    for (let attempt = 0; ; attempt++) {
      const r = await cli(from.home, ['send', other(from).addr, path, '--detach'])
      const q = r.lines.find((l) => l.event === 'queued' || l.event === 'joined')
      if (r.code === 0 && q !== undefined) { f.itemId = String(q.id); break }
      counts.sendHandoffFailures++
      log(`send ${name} handoff failed (exit ${String(r.code)}, ${r.lines.length} lines): ${r.stderr.split('\n').pop() ?? ''}; again`)
      await sleep(500)
    }
    await sleep(between(rand.files, 200, 1500))
  }
}

async function sendMessages (from: Side): Promise<void> {
  const key = dirKey(from)
  while (!stopping) {
    const seq = sentSeq[key] + 1
    sentSeq[key] = seq
    counts.messagesQueued++
    for (let attempt = 0; ; attempt++) {
      // the same id on every try: a handoff whose outcome we could not see is joined or de-duplicated, not sent twice
      const r = await cli(from.home, ['message', other(from).addr, 'chaos', JSON.stringify({ seq, dir: key }), '--detach', '--id', `chaos-${SEED}-${key}-${seq}`])
      const q = r.lines.find((l) => l.event === 'queued' || l.event === 'joined')
      if (r.code === 0 && q !== undefined) break
      counts.messageHandoffFailures++
      log(`message ${key} #${seq} handoff failed (exit ${String(r.code)}, ${r.lines.length} lines): ${r.stderr.split('\n').pop() ?? ''}; again`)
      await sleep(300)
    }
    await sleep(between(rand.msgs, MESSAGE_GAP_MS[0], MESSAGE_GAP_MS[1]))
  }
}

async function queries (client: string): Promise<void> {
  let k = 0
  while (!stopping) {
    const to = rand.rpc() < 0.5 ? sides.A as Side : sides.B as Side
    const body = { k: ++k, pad: 'x'.repeat(Math.floor(rand.rpc() * 4096)) }
    const start = performance.now()
    const upBefore = to.up && start - to.upSince >= 2000
    const r = await cli(client, ['query', to.addr, 'echo', JSON.stringify(body), '--timeout', '5000'], 30_000)
    const reply = r.lines.find((l) => 'body' in l)
    if (r.code === 0 && reply !== undefined) {
      if (JSON.stringify(reply.body) === JSON.stringify(body)) counts.rpcOk++
      else { counts.rpcWrong++; problems.push(`RPC echo to ${to.name} answered a different body`) }
    } else {
      counts.rpcFailed++
      // up for 2 s before the query and not killed during it: a failure the kills do not explain
      if (upBefore && to.killedAt < start) {
        counts.rpcFailedWhileUp++
        log(`RPC to ${to.name} failed while it was up: ${r.stderr.split('\n').pop() ?? ''}`)
      }
    }
    await sleep(between(rand.rpc, RPC_GAP_MS[0], RPC_GAP_MS[1]))
  }
}

async function killLoop (): Promise<void> {
  for (let i = 0; i < KILLS; i++) {
    const gap = between(rand.kill, MIN_GAP, MAX_GAP)
    const side = rand.kill() < 0.5 ? sides.A as Side : sides.B as Side
    const down = between(rand.kill, 0, 1500)
    // half the kills land at a random moment, half while a file is being written (a partial
    // grows at its receiver), so that transfers are cut and resumed, from either end
    const midTransfer = rand.kill() < 0.5
    await sleep(midTransfer ? MIN_GAP : gap)
    let cut = false
    if (midTransfer) {
      const until = performance.now() + 2 * MAX_GAP
      while (!partialNow && performance.now() < until) await sleep(100)
      cut = partialNow
    }
    await side.kill()
    for (const [name, size] of partialSize) partialAtKill.set(name, size)
    counts.kills++
    if (cut) counts.killsMidTransfer++
    counts.killsBySide[side.name] = (counts.killsBySide[side.name] ?? 0) + 1
    log(`kill ${i + 1}/${KILLS}: ${side.name} (life ${side.lives}${cut ? ', mid-transfer' : ''}); down ${Math.round(down)} ms; files ${counts.filesArrived}/${counts.filesQueued}, messages ${counts.messagesReceived}/${counts.messagesQueued}`)
    await sleep(down)
    await side.start()
  }
}

async function outboxState (side: Side): Promise<{ pending: Array<Record<string, unknown>>, dead: Array<Record<string, unknown>> }> {
  const list = await cli(side.home, ['queue', 'list'])
  const dead = await cli(side.home, ['queue', 'dead'])
  if (list.code !== 0 || dead.code !== 0) throw new Error(`queue list/dead on ${side.name} failed: ${list.stderr} ${dead.stderr}`)
  return { pending: list.lines, dead: dead.lines }
}

function rssSummary (side: Side): Record<string, unknown> {
  const lifePeaks = new Map<number, number>()
  const lifeStarts = new Map<number, number>() // the first sample, just after it began listening
  for (const [life, , mib] of side.rss) {
    lifePeaks.set(life, Math.max(lifePeaks.get(life) ?? 0, mib))
    if (!lifeStarts.has(life)) lifeStarts.set(life, mib)
  }
  const peaks = [...lifePeaks.values()]
  const starts = [...lifeStarts.values()]
  const third = Math.max(1, Math.floor(peaks.length / 3))
  const mean = (xs: number[]): number => xs.length === 0 ? 0 : Math.round(xs.reduce((a, b) => a + b, 0) / xs.length)
  const first = mean(peaks.slice(0, third))
  const last = mean(peaks.slice(-third))
  // the longest life (the last one runs through the drain): its samples' trend in MiB per minute
  const lastLife = side.lives
  const s = side.rss.filter(([l]) => l === lastLife)
  let slope = 0
  if (s.length >= 10) {
    const xs = s.map(([, t]) => t)
    const ys = s.map(([, , m]) => m)
    const mx = mean(xs)
    const my = mean(ys)
    const num = xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] as number) - my), 0)
    const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0)
    slope = den === 0 ? 0 : Math.round(num / den * 60 * 10) / 10
  }
  return {
    peakMiB: Math.max(0, ...peaks),
    lives: side.lives,
    samples: side.rss.length,
    firstThirdMeanPeakMiB: first,
    lastThirdMeanPeakMiB: last,
    firstThirdMeanStartMiB: mean(starts.slice(0, third)),
    lastThirdMeanStartMiB: mean(starts.slice(-third)),
    lastLifeSamples: s.length,
    lastLifeSlopeMiBPerMin: slope
  }
}

// --- the run
let exitCode = 0
const started = new Date()
let result: Record<string, unknown> = {}
try {
  sides.A = new Side('A', join(dir, 'alice'), '//Alice', portA, onEvent)
  sides.B = new Side('B', join(dir, 'bob'), '//Bob', portB, onEvent)
  const client = join(dir, 'charlie')
  mkdirSync(join(dir, 'src-A'))
  mkdirSync(join(dir, 'src-B'))
  await Promise.all([sides.A.init(), sides.B.init(), cli(client, ['init', '--hotkey-uri', '//Charlie', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'])])
  await Promise.all([sides.A.start(), sides.B.start()])
  log(`seed ${SEED}; A ${sides.A.addr}; B ${sides.B.addr}; ${KILLS} kills, files up to ${values['max-mib']} MiB; in ${dir}`)
  const poller = (async () => { while (!stopping) { await pollInboxes(); await sleep(1000) } })()
  const partials = (async () => { while (!stopping) { await pollPartials(); await sleep(200) } })()
  const workers = [sendFiles(), sendMessages(sides.A), sendMessages(sides.B), queries(client)]
  await killLoop()
  stopping = true
  await Promise.all(workers)
  await poller
  await partials
  log(`kills done; draining (files ${counts.filesArrived}/${counts.filesQueued}, messages ${counts.messagesReceived}/${counts.messagesQueued})`)
  // drain: every file and message arrived and both outboxes are empty
  const drainStart = Date.now()
  let state: Record<string, Awaited<ReturnType<typeof outboxState>>> = {}
  for (;;) {
    await pollInboxes()
    const allFiles = [...files.values()].every((f) => f.arrivedAt !== undefined)
    const allMessages = counts.messagesReceived >= counts.messagesQueued
    state = { A: await outboxState(sides.A), B: await outboxState(sides.B) }
    const empty = Object.values(state).every((s) => s.pending.length === 0)
    if (allFiles && allMessages && empty) break
    if (Date.now() - drainStart > DRAIN_MS) {
      problems.push(`not drained after ${DRAIN_MS / 1000} s: ${[...files.values()].filter((f) => f.arrivedAt === undefined).map((f) => f.name).join(', ') || 'all files in'}; messages ${counts.messagesReceived}/${counts.messagesQueued}; outbox A ${state.A?.pending.length}, B ${state.B?.pending.length}`)
      for (const [n, s] of Object.entries(state)) for (const i of s.pending) problems.push(`  ${n} still holds ${String(i.kind)} ${String(i.id)} "${String(i.label)}", attempts ${String(i.attempts)}, next in ${Math.round((Number(i.nextAttemptAt) - Date.now()) / 1000)} s, last error ${JSON.stringify(i.lastError)}`)
      break
    }
    await sleep(2000)
  }
  const drainMs = Date.now() - drainStart
  await sleep(2000) // a late duplicate would show now
  await pollInboxes()

  // --- checks
  for (const f of files.values()) {
    if (f.arrivedAt === undefined) problems.push(`lost: ${f.name} (${f.from} -> ${f.to}, ${f.size} bytes) never arrived`)
    const inbox = join(sides[f.to]?.home as string, 'files', 'inbox', sides[f.from]?.ss58 as string, f.name)
    const seen = inboxSeen.get(inbox)
    if (f.arrivedAt !== undefined && seen?.ok !== true) problems.push(`${f.name}: the inbox copy is missing or does not carry the sender's hash`)
  }
  for (const [key, seqs] of Object.entries(received)) {
    const sent = sentSeq[key as 'AB' | 'BA']
    const dup = seqs.length - new Set(seqs).size
    if (dup > 0) problems.push(`messages ${key}: ${dup} delivered twice (${seqs.filter((s, i) => seqs.indexOf(s) !== i).slice(0, 10).join(', ')})`)
    const missing = []
    for (let s = 1; s <= sent; s++) if (!seqs.includes(s)) missing.push(s)
    if (missing.length > 0) problems.push(`messages ${key}: ${missing.length} lost (${missing.slice(0, 10).join(', ')})`)
    const firstSeen = seqs.filter((s, i) => seqs.indexOf(s) === i)
    const outOfOrder = firstSeen.filter((s, i) => i > 0 && s < (firstSeen[i - 1] as number)).length
    if (outOfOrder > 0) problems.push(`messages ${key}: ${outOfOrder} out of order`)
  }
  for (const [n, s] of Object.entries(state)) {
    if (s.pending.length > 0) problems.push(`outbox of ${n} not empty: ${s.pending.length} item(s)`)
    if (s.dead.length > 0) problems.push(`dead-letter list of ${n} not empty: ${s.dead.map((i) => `${String(i.id)} ${JSON.stringify(i.lastError)}`).join('; ')}`)
  }
  const rss = { A: rssSummary(sides.A), B: rssSummary(sides.B) }
  for (const [n, r] of Object.entries(rss)) {
    // bounded: a life's peak follows its workload (a big transfer in flight costs ~100-200 MiB),
    // so what must not rise is where each life starts (state read back from the home, such as
    // the delivery log, would carry a leak across restarts), and no peak may pass the cap
    const first = r.firstThirdMeanStartMiB as number
    const last = r.lastThirdMeanStartMiB as number
    if (last > first * 1.5 + 64) problems.push(`RSS of ${n} grew across restarts: a life started at ${first} MiB on average in the first third of its lives, at ${last} MiB in the last third`)
    if ((r.peakMiB as number) > 1536) problems.push(`RSS of ${n} peaked at ${String(r.peakMiB)} MiB`)
  }
  const sizes = [...files.values()].map((f) => f.size)
  result = {
    benchmark: 'chaos',
    date: started.toISOString(),
    seed: SEED,
    options: { kills: KILLS, maxMiB: Number(values['max-mib']), minGapMs: MIN_GAP, maxGapMs: MAX_GAP },
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    kernel: release(),
    loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
    seconds: Math.round((performance.now() - T0) / 1000),
    drainSeconds: Math.round(drainMs / 1000),
    counts: { ...counts, messagesDuplicated: Object.values(received).reduce((a, s) => a + s.length - new Set(s).size, 0), largestFileBytes: Math.max(0, ...sizes) },
    rss,
    passed: problems.length === 0,
    problems
  }
} catch (err) {
  problems.push(`harness error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  result = { benchmark: 'chaos', date: started.toISOString(), seed: SEED, counts, passed: false, problems }
} finally {
  stopping = true
  for (const pid of running) { try { process.kill(-pid, 'SIGKILL') } catch {} }
  await Promise.all(Object.values(sides).map(async (s) => { await s.stop() }))
  if (!values.keep) await rm(dir, { recursive: true, force: true })
}

if (problems.length > 0) exitCode = 1
const file = values.out ?? new URL(`./results/chaos-${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url).pathname
mkdirSync(join(file, '..'), { recursive: true })
writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
const c = result.counts as typeof counts & { messagesDuplicated: number, largestFileBytes: number }
const rows: Array<[string, string]> = [
  ['seed', String(SEED)],
  ['kills (A / B; mid-transfer)', `${c.kills} (${c.killsBySide.A ?? 0} / ${c.killsBySide.B ?? 0}; ${c.killsMidTransfer})`],
  ['files queued / arrived', `${c.filesQueued} / ${c.filesArrived}`],
  ['file bytes arrived', `${(c.fileBytes / 2 ** 20).toFixed(1)} MiB (largest ${((c.largestFileBytes ?? 0) / 2 ** 20).toFixed(1)} MiB)`],
  ['resumed transfers', `${c.resumedTransfers} (${(c.resumedBytes / 2 ** 20).toFixed(1)} MiB kept, not sent again)`],
  ['partial bytes seen but not kept (re-sent)', `${(c.partialBytesNotKept / 2 ** 20).toFixed(1)} MiB (sampled every 200 ms: a lower bound)`],
  ['incoming transfers failed (retried)', String(c.fileEventsFailed)],
  ['messages queued / received', `${c.messagesQueued} / ${c.messagesReceived} (${c.messagesDuplicated ?? 0} twice)`],
  ['RPC echo ok / failed (target up throughout) / wrong', `${c.rpcOk} / ${c.rpcFailed} (${c.rpcFailedWhileUp}) / ${c.rpcWrong}`],
  ['outbox retries, deliveries, dead', `${c.retries}, ${c.deliveredEvents}, ${c.deadEvents}`],
  ['handoffs run again (send / message)', `${c.sendHandoffFailures} / ${c.messageHandoffFailures}`],
  ['inbox polls', String(c.inboxPolls)]
]
for (const [n, r] of Object.entries((result.rss ?? {}) as Record<string, Record<string, number>>)) {
  rows.push([`RSS ${n}: peak; at start, peak (first / last third of lives)`, `${r.peakMiB} MiB; ${r.firstThirdMeanStartMiB} / ${r.lastThirdMeanStartMiB}, ${r.firstThirdMeanPeakMiB} / ${r.lastThirdMeanPeakMiB} MiB (${r.lives} lives; last life ${r.lastLifeSlopeMiBPerMin} MiB/min)`])
}
rows.push(['time (drain)', `${String(result.seconds)} s (${String(result.drainSeconds)} s)`])
const w = Math.max(...rows.map(([k]) => k.length))
process.stdout.write(`\nchaos, ${String(cpus()[0]?.model)} x${cpus().length}, Node ${process.version}\n`)
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`)
process.stdout.write(problems.length === 0 ? 'PASS: nothing lost, nothing twice, outboxes and dead-letter lists empty\n' : `FAIL: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}\n`)
process.stdout.write(`written to ${file}\n`)
process.exit(exitCode)
