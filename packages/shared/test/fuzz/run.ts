// Coverage-guided fuzzing of subwire's decoders: `npm run fuzz [-- --seconds 30 --target frame]`.
//
// Jazzer.js, the usual choice, ships a prebuilt libFuzzer that needs glibc 2.38; Debian 12
// has 2.36, so it cannot load here. This runner gets the same feedback from V8 itself:
// block-level precise coverage (node:inspector, `Profiler.takePreciseCoverage`) of the
// code under packages/shared/src after every input. An input that reaches a block (or a
// count bucket of it) no earlier input reached joins the corpus and is mutated further.
// Mutations: bit flips, byte sets, inserts, deletes, interesting integers, splices of two
// corpus entries, and u32 length-field rewrites.
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
import { parseArgs } from 'node:util'
import { isTypedError, targets } from './targets.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, target: { type: 'string' }, seed: { type: 'string' } } })
const seconds = Number(values.seconds)
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
    const op = rand(8)
    if (op === 0 && out.byteLength > 0) { const i = rand(out.byteLength); out[i] = (out[i] as number) ^ (1 << rand(8)) }
    else if (op === 1 && out.byteLength > 0) out[rand(out.byteLength)] = INTERESTING[rand(5)] as number
    else if (op === 2) { const i = rand(out.byteLength + 1); const ins = crypto.getRandomValues(new Uint8Array(1 + rand(16))); out = Uint8Array.from([...out.subarray(0, i), ...ins, ...out.subarray(i)]) }
    else if (op === 3 && out.byteLength > 1) { const i = rand(out.byteLength); const n = 1 + rand(Math.min(16, out.byteLength - i)); out = Uint8Array.from([...out.subarray(0, i), ...out.subarray(i + n)]) }
    else if (op === 4 && out.byteLength >= 4) { const i = rand(out.byteLength - 3); new DataView(out.buffer).setUint32(i, INTERESTING[rand(INTERESTING.length)] as number) }
    else if (op === 5 && corpus.length > 1) { const other = corpus[rand(corpus.length)] as Uint8Array; const i = rand(out.byteLength + 1); const j = rand(other.byteLength + 1); out = Uint8Array.from([...out.subarray(0, i), ...other.subarray(j)]) }
    else if (op === 6 && out.byteLength > 0) out = out.subarray(0, rand(out.byteLength))
    else if (op === 7 && out.byteLength >= 2) { const i = rand(out.byteLength - 1); new DataView(out.buffer).setUint16(i, INTERESTING[rand(7)] as number) }
  }
  return out.byteLength > 65536 ? out.subarray(0, 65536) : out
}

const session = new Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })

interface Coverage { result: Array<{ url: string, functions: Array<{ ranges: Array<{ startOffset: number, endOffset: number, count: number }> }> }> }
const seen = new Set<string>()
/** New coverage features since the last call (block × log2 count bucket), for our sources only. */
async function newFeatures (): Promise<number> {
  const cov = await session.post('Profiler.takePreciseCoverage') as unknown as Coverage
  let fresh = 0
  for (const script of cov.result) {
    if (!/\/packages\/shared\/src\/|\/node_modules\/msgpackr\//.test(script.url)) continue
    const file = script.url.slice(script.url.lastIndexOf('/') + 1)
    for (const fn of script.functions) {
      for (const r of fn.ranges) {
        if (r.count === 0) continue
        const key = `${file}:${r.startOffset}:${r.endOffset}:${Math.min(8, Math.floor(Math.log2(r.count)))}`
        if (!seen.has(key)) { seen.add(key); fresh++ }
      }
    }
  }
  return fresh
}

const findings: string[] = []
const rows: Array<Record<string, unknown>> = []
mkdirSync(new URL('./findings/', import.meta.url), { recursive: true })
const regressionsDir = new URL('./regressions/', import.meta.url)
/** Inputs that once were findings, for `target`. */
function regressions (target: string): Uint8Array[] {
  if (!existsSync(regressionsDir)) return []
  return readdirSync(regressionsDir).filter((f) => f.startsWith(`${target}-`) && f.endsWith('.bin'))
    .map((f) => new Uint8Array(readFileSync(new URL(f, regressionsDir))))
}
for (const target of targets.filter((t) => values.target === undefined || t.name === values.target)) {
  const corpus: Uint8Array[] = []
  let execs = 0
  let typedErrors = 0
  const findingsBefore = findings.length
  const exec = async (input: Uint8Array): Promise<boolean> => {
    execs++
    const t = performance.now()
    try {
      await target.run(input)
    } catch (err) {
      if (!isTypedError(err)) {
        const sha = createHash('sha256').update(input).digest('hex').slice(0, 16)
        writeFileSync(new URL(`./findings/${target.name}-${sha}.bin`, import.meta.url), input)
        findings.push(`${target.name}: ${(err as Error).name}: ${(err as Error).message} (packages/shared/test/fuzz/findings/${target.name}-${sha}.bin)`)
      } else typedErrors++
    }
    if (performance.now() - t > 1000) findings.push(`${target.name}: an input took ${Math.round(performance.now() - t)} ms`)
    return (await newFeatures()) > 0
  }
  await newFeatures() // drop what loading did
  for (const s of [...await target.seeds(), ...regressions(target.name)]) { await exec(s); corpus.push(s) }
  const deadline = performance.now() + seconds * 1000
  while (performance.now() < deadline && findings.length === findingsBefore) {
    const parent = corpus[rand(corpus.length)] as Uint8Array
    const child = mutate(parent, corpus)
    if (await exec(child)) corpus.push(child)
  }
  rows.push({ target: target.name, execs, corpus: corpus.length, typedErrors, features: seen.size })
  process.stdout.write(`${target.name.padEnd(18)} ${String(execs).padStart(7)} execs  corpus ${String(corpus.length).padStart(4)}  typed rejections ${String(typedErrors).padStart(7)}  coverage features (all targets) ${seen.size}\n`)
}
await session.post('Profiler.stopPreciseCoverage')
session.disconnect()
if (findings.length > 0) {
  process.stderr.write(`\nFINDINGS:\n${findings.join('\n')}\n`)
  process.exit(1)
}
process.stdout.write(`no findings (${rows.length} targets, ${seconds} s each)\n`)
