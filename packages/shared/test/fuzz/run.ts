// Coverage-guided fuzzing of subwire's decoders: `npm run fuzz [-- --seconds 30 --target frame]`.
//
// Jazzer.js, the usual choice, ships a prebuilt libFuzzer that needs glibc 2.38; Debian 12
// has 2.36, so it cannot load here. This runner gets the same feedback from V8 itself:
// block-level precise coverage (node:inspector, `Profiler.takePreciseCoverage`) of the
// code under packages/shared/src after every input. An input that reaches a block (or a
// count bucket of it) no earlier input reached joins the corpus and is mutated further.
// Mutations: bit flips, byte sets (interesting and random), inserts, deletes, interesting
// integers, splices of two corpus entries, and u32 length-field rewrites, every choice drawn
// from the seeded generator (so --seed replays the same inputs).
//
// Speed: a coverage sample crosses the inspector and costs far more than most inputs, so
// inputs run in batches between samples. The batch grows (to 64) while nothing new is
// found and falls back to 1 when something is: a batch that reached a block no input
// reached before is re-run one input at a time, and only the inputs that reach something
// new on their own join the corpus. "New code" is measured on what never ran (V8's
// count-0 ranges: stable, unlike the ranges of code that ran, which V8 merges into their
// parent when the counts agree); a single input joins the corpus on new block × count
// buckets as before.
//
// A finding is an input for which a target throws anything but a typed subwire error, or
// takes longer than 1 s. Findings are written to packages/shared/test/fuzz/findings/<target>-<sha>.bin and the
// run exits 1 after every target had its time (a finding ends only its own target). Bounded in time
// per target; CI runs `npm run test:fuzz` (10 s per target). The run prints its seed; `--seed N`
// replays the same mutations. Once a finding is fixed, its input goes to regressions/ (same
// name): every run executes those first, so it cannot come back unnoticed.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { isTypedError, targets as sharedTargets } from './targets.ts'
import type { FuzzTarget } from './targets.ts'


const { values } = parseArgs({ options: { seconds: { type: 'string' }, execs: { type: 'string' }, target: { type: 'string' }, seed: { type: 'string' }, 'max-batch': { type: 'string', default: '64' }, json: { type: 'string' }, module: { type: 'string' }, findings: { type: 'string' } } })
// --execs N: run each target to N inputs (and, with --seconds too, stop at whichever comes first)
const maxExecs = values.execs === undefined ? Infinity : Number(values.execs)
const seconds = values.seconds === undefined ? (values.execs === undefined ? 30 : Infinity) : Number(values.seconds)
const maxBatch = Math.max(1, Number(values['max-batch']))
if (!(maxExecs > 0) || !(seconds > 0)) throw new Error('--execs and --seconds take positive numbers')
// the peers' own decoders (the WebTransport listener's) live with their package; loaded by
// path so that this project does not compile another's tests
const peerTargets = new URL('../../../peer-node/test/fuzz-targets.ts', import.meta.url).href
// --module PATH: fuzz that module's `targets` instead (the runner's own test plants a bug there)
const moduleUrl = values.module === undefined ? undefined : pathToFileURL(resolve(values.module)).href
const targets: FuzzTarget[] = moduleUrl !== undefined
  ? (await import(moduleUrl) as { targets: FuzzTarget[] }).targets
  : [...sharedTargets, ...(await import(peerTargets) as { webTransportTargets: FuzzTarget[] }).webTransportTargets]
const findingsDir = values.findings === undefined ? new URL('./findings/', import.meta.url) : pathToFileURL(resolve(values.findings) + '/')
const seed = values.seed === undefined ? Date.now() & 0xffffffff : Number(values.seed)
let rngState = BigInt(seed) & 0xffffffffn
process.stdout.write(`fuzz seed ${seed} (replay with --seed ${seed})\n`)
function rand (n: number): number {
  // xorshift32: reproducible with --seed
  let x = Number(rngState) | 0
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5
  rngState = BigInt(x >>> 0)
  return (x >>> 0) % Math.max(1, n)
}
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff]

function mutate (input: Uint8Array, corpus: Uint8Array[]): Uint8Array {
  let out = Uint8Array.from(input)
  const rounds = 1 + rand(4)
  for (let r = 0; r < rounds; r++) {
    const op = rand(9)
    if (op === 0 && out.byteLength > 0) { const i = rand(out.byteLength); out[i] = (out[i] as number) ^ (1 << rand(8)) }
    else if (op === 1 && out.byteLength > 0) out[rand(out.byteLength)] = INTERESTING[rand(5)] as number
    else if (op === 2) { const i = rand(out.byteLength + 1); const ins = Uint8Array.from({ length: 1 + rand(16) }, () => rand(256)); out = Uint8Array.from([...out.subarray(0, i), ...ins, ...out.subarray(i)]) }
    else if (op === 3 && out.byteLength > 1) { const i = rand(out.byteLength); const n = 1 + rand(Math.min(16, out.byteLength - i)); out = Uint8Array.from([...out.subarray(0, i), ...out.subarray(i + n)]) }
    else if (op === 4 && out.byteLength >= 4) { const i = rand(out.byteLength - 3); new DataView(out.buffer).setUint32(i, INTERESTING[rand(INTERESTING.length)] as number) }
    else if (op === 5 && corpus.length > 1) { const other = corpus[rand(corpus.length)] as Uint8Array; const i = rand(out.byteLength + 1); const j = rand(other.byteLength + 1); out = Uint8Array.from([...out.subarray(0, i), ...other.subarray(j)]) }
    else if (op === 6 && out.byteLength > 0) out = out.subarray(0, rand(out.byteLength))
    else if (op === 7 && out.byteLength >= 2) { const i = rand(out.byteLength - 1); new DataView(out.buffer).setUint16(i, INTERESTING[rand(7)] as number) }
    else if (op === 8 && out.byteLength > 0) out[rand(out.byteLength)] = rand(256)
  }
  return out.byteLength > 65536 ? out.subarray(0, 65536) : out
}

const session = new Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })

interface Coverage { result: Array<{ url: string, functions: Array<{ ranges: Array<{ startOffset: number, endOffset: number, count: number }> }> }> }
type Interval = [number, number]
/** (block × log2 count bucket) features seen: what makes a single input join the corpus. */
const seen = new Set<string>()
/**
 * Per function that ran: the code no committed sample has reached yet, as offset
 * intervals. V8 merges a nested block into its parent when their counts are equal, so a
 * block's range is not a stable key; what never ran is (the count-0 ranges), and reaching
 * new code always uncovers part of one of them.
 */
const unreached = new Map<string, Interval[]>()
const SOURCES = /\/packages\/(shared|peer-node)\/src\/|\/node_modules\/msgpackr\//
const isSource = (url: string): boolean => SOURCES.test(url) || url === moduleUrl

/** `a ∩ b` for sorted, disjoint interval lists. */
function intersect (a: Interval[], b: Interval[]): Interval[] {
  const out: Interval[] = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const [as, ae] = a[i] as Interval
    const [bs, be] = b[j] as Interval
    const s = Math.max(as, bs)
    const e = Math.min(ae, be)
    if (s < e) out.push([s, e])
    if (ae < be) i++; else j++
  }
  return out
}

/** Whether every interval of `known` lies inside `zeros`' union (then nothing of it ran). */
function covered (known: Interval[], zeros: Interval[]): boolean {
  return intersect(known, zeros).reduce((n, [s, e]) => n + e - s, 0) === known.reduce((n, [s, e]) => n + e - s, 0)
}

/**
 * Takes a coverage sample (it also resets the counters) and says what is new in it:
 * `blocks`, code no committed sample reached (a function that never ran, or part of
 * its unreached code, judged against `base`), and `features`, new block × count-bucket
 * keys. Recorded only with `commit`.
 */
async function sample (commit: boolean, base: Map<string, Interval[]> = unreached): Promise<{ blocks: number, features: number }> {
  const cov = await session.post('Profiler.takePreciseCoverage') as unknown as Coverage
  let blocks = 0
  let features = 0
  for (const script of cov.result) {
    if (!isSource(script.url)) continue
    const file = script.url.slice(script.url.lastIndexOf('/') + 1)
    for (const fn of script.functions) {
      const top = fn.ranges[0]
      if (top === undefined || top.count === 0) continue
      const fnKey = `${script.url}:${top.startOffset}`
      const zeros: Interval[] = fn.ranges.filter((r) => r.count === 0).map((r): Interval => [r.startOffset, r.endOffset]).sort((x, y) => x[0] - y[0])
      const known = base.get(fnKey)
      if (known === undefined || !covered(known, zeros)) blocks++
      if (commit) {
        const now = unreached.get(fnKey)
        unreached.set(fnKey, now === undefined ? zeros : intersect(now, zeros))
      }
      for (const r of fn.ranges) {
        if (r.count === 0) continue
        const key = `${file}:${r.startOffset}:${r.endOffset}:${Math.min(8, Math.floor(Math.log2(r.count)))}`
        if (seen.has(key)) continue
        features++
        if (commit) seen.add(key)
      }
    }
  }
  return { blocks, features }
}

const findings: string[] = []
const rows: Array<Record<string, unknown>> = []
mkdirSync(findingsDir, { recursive: true })
const regressionsDir = new URL('./regressions/', import.meta.url)
/** Inputs that once were findings, for `target`. */
function regressions (target: string): Uint8Array[] {
  if (!existsSync(regressionsDir)) return []
  return readdirSync(regressionsDir).filter((f) => f.startsWith(`${target}-`) && f.endsWith('.bin'))
    .map((f) => new Uint8Array(readFileSync(new URL(f, regressionsDir))))
}
for (const target of targets.filter((t) => values.target === undefined || t.name === values.target)) {
  const typed = target.isTyped ?? isTypedError
  const corpus: Uint8Array[] = []
  let execs = 0
  let samples = 0
  let typedErrors = 0
  const findingsBefore = findings.length
  /** Runs one input; records a finding if it throws anything untyped or takes over 1 s. */
  const run = async (input: Uint8Array, again = false): Promise<void> => {
    if (!again) execs++
    const t = performance.now()
    try {
      await target.run(input)
    } catch (err) {
      if (!typed(err)) {
        if (again) return // a finding is recorded on its first run
        const sha = createHash('sha256').update(input).digest('hex').slice(0, 16)
        const file = new URL(`${target.name}-${sha}.bin`, findingsDir)
        writeFileSync(file, input)
        findings.push(`${target.name}: ${(err as Error).name}: ${(err as Error).message} (${file.pathname})`)
      } else if (!again) typedErrors++
    }
    if (performance.now() - t > 1000) findings.push(`${target.name}: an input took ${Math.round(performance.now() - t)} ms`)
  }
  /** Runs one input with its own coverage sample; what it reached that no input did (before `base`). */
  const runAlone = async (input: Uint8Array, again = false, base = unreached): Promise<{ blocks: number, features: number }> => {
    await run(input, again)
    samples++
    return await sample(true, base)
  }
  /**
   * Re-runs halves of `group` until the inputs that reach code unreached in `before`
   * on their own are found; they join the corpus. (A block some decoders reach only
   * after certain earlier inputs, msgpackr keeping state between calls, is then found in
   * no half: it was recorded from the batch, so it does not send every later batch here.)
   */
  const locate = async (group: Uint8Array[], before: Map<string, Interval[]>): Promise<void> => {
    if (group.length === 1) {
      const fresh = await runAlone(group[0] as Uint8Array, true, before)
      if (fresh.features > 0 || fresh.blocks > 0) corpus.push(group[0] as Uint8Array)
      return
    }
    const half = group.length >> 1
    for (const part of [group.slice(0, half), group.slice(half)]) {
      for (const input of part) await run(input, true)
      samples++
      if ((await sample(false, before)).blocks > 0) await locate(part, before)
    }
  }
  await sample(true) // drop what loading did
  for (const seedInput of [...await target.seeds(), ...regressions(target.name)]) { await runAlone(seedInput); corpus.push(seedInput) }
  const started = performance.now()
  const deadline = started + seconds * 1000
  let batch = 1
  while (execs < maxExecs && performance.now() < deadline && findings.length === findingsBefore) {
    const inputs: Uint8Array[] = []
    const n = Math.min(batch, maxExecs - execs)
    for (let i = 0; i < n && findings.length === findingsBefore; i++) {
      const child = mutate(corpus[rand(corpus.length)] as Uint8Array, corpus)
      inputs.push(child)
      await run(child)
    }
    samples++
    if (inputs.length === 1) {
      const fresh = await sample(true)
      if (fresh.features > 0) corpus.push(inputs[0] as Uint8Array)
      batch = fresh.blocks > 0 ? 1 : Math.min(maxBatch, batch * 2)
      continue
    }
    const before = new Map(unreached)
    if ((await sample(true)).blocks === 0) { batch = Math.min(maxBatch, batch * 2); continue }
    // something in the batch reached new code: bisect it to the inputs that did
    await locate(inputs, before)
    batch = Math.max(1, batch >> 1)
  }
  const secondsTaken = (performance.now() - started) / 1000
  const perSecond = Math.round(execs / Math.max(secondsTaken, 1e-3))
  rows.push({ target: target.name, execs, seconds: Number(secondsTaken.toFixed(1)), execsPerSecond: perSecond, samples, corpus: corpus.length, typedErrors, features: seen.size })
  process.stdout.write(`${target.name.padEnd(18)} ${String(execs).padStart(8)} execs  ${String(perSecond).padStart(6)}/s  corpus ${String(corpus.length).padStart(4)}  typed rejections ${String(typedErrors).padStart(8)}  coverage features (all targets) ${seen.size}\n`)
}
await session.post('Profiler.stopPreciseCoverage')
session.disconnect()
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ kind: 'fuzz', date: new Date().toISOString(), seed, seconds: Number.isFinite(seconds) ? seconds : null, execs: Number.isFinite(maxExecs) ? maxExecs : null, maxBatch, rows, findings }, null, 2) + '\n')
if (findings.length > 0) {
  process.stderr.write(`\nFINDINGS:\n${findings.join('\n')}\n`)
  process.exit(1)
}
process.stdout.write(`no findings (${rows.length} targets, ${Number.isFinite(maxExecs) ? `${maxExecs} inputs` : `${seconds} s`} each)\n`)
