// The discovery benchmark (issue 17): N real peers (each its own libp2p peer key and sr25519
// hotkey, QUIC on 127.0.0.1) in a few worker processes form subwire's DHT from one
// bootstrap peer and publish their signed hotkey records. Measures: the time until every
// peer resolves another by hotkey and every hotkey is resolvable, resolution latency
// (hotkey → verified record, and → first reply) against dialling a known multiaddr, a
// fan-out to the subnet against a fan-out to known multiaddrs, the same fan-out with 10 %
// of the peers killed (kill -9 of the worker that holds them), and memory per peer.
//
//   node bench/discovery.ts [--peers 50] [--out file.json] [--deadline-s 170]
//
// Not a test: nothing is asserted. A deadline ends the run with what was measured so far.
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { ChildProcess } from 'node:child_process'
import type { PeerInfo } from './lib/discovery-worker.ts'

const { values } = parseArgs({ options: { peers: { type: 'string', default: '50' }, out: { type: 'string' }, 'deadline-s': { type: 'string', default: '170' }, lookups: { type: 'string' } } })
const N = Number(values.peers)
const LOOKUPS = Number(values.lookups ?? (N <= 50 ? 100 : 200))
const DEADLINE_MS = Number(values['deadline-s']) * 1000
const NETUID = 7
const FANOUT_TIMEOUT_MS = 5000
// phase budgets: the whole run must fit its deadline on a busy 2-core machine
const PUBLISH_BUDGET_MS = N <= 50 ? 75_000 : 240_000
const BOOTSTRAP_BUDGET_MS = N <= 50 ? 30_000 : 120_000
const LOOKUP_BUDGET_MS = N <= 50 ? 20_000 : 90_000
const started = Date.now()
const out: Record<string, unknown> = { peers: N, transport: 'quic', netuid: NETUID, fanOutTimeoutMs: FANOUT_TIMEOUT_MS }
const progress: string[] = []
out.progress = progress
/** Logs a phase to stderr and into the JSON (a run the deadline ends still says how far it got). */
const log = (s: string): void => {
  const line = `[discovery ${((Date.now() - started) / 1000).toFixed(1)} s] ${s}`
  progress.push(line.slice(0, 300))
  process.stderr.write(line + '\n')
}

// the last 10 % of the peers live in a worker of their own, so one SIGKILL kills exactly them
const victims = Math.max(1, Math.round(N / 10))
// ~25-40 peers per process: a 200-peer run with 60 per process (one event loop and one heap
// each) had its loops late by 0.5-1 s p50 while publishing, and the starved handshakes timed out
const liveWorkers = Math.max(2, Math.ceil(N / 40))
const groups: number[][] = Array.from({ length: liveWorkers + 1 }, () => [])
for (let i = 0; i < N; i++) (i >= N - victims ? groups[liveWorkers] : groups[i % liveWorkers])?.push(i)

interface Worker { child: ChildProcess, ids: number[], call: (op: Record<string, unknown>) => Promise<any>, exited: Promise<unknown> }
const workers: Worker[] = []

function spawnWorker (ids: number[]): Promise<Worker> {
  const child = fork(new URL('./lib/discovery-worker.ts', import.meta.url).pathname, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  child.stderr?.on('data', (d: Buffer) => { if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(d) })
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  let next = 0
  const exited = new Promise((resolve) => { child.on('exit', (code, sig) => { for (const p of pending.values()) p.reject(new Error(`worker exited (${code ?? sig})`)); resolve(code) }) })
  const call = async (op: Record<string, unknown>): Promise<any> => await new Promise((resolve, reject) => {
    const id = ++next
    pending.set(id, { resolve, reject })
    child.send({ id, op })
  })
  return new Promise((resolve, reject) => {
    child.on('message', (m: { ready?: boolean, id?: number, value?: unknown, error?: string }) => {
      if (m.ready === true) { resolve({ child, ids, call, exited }); return }
      const p = pending.get(m.id as number)
      if (p === undefined) return
      pending.delete(m.id as number)
      if (m.error !== undefined) p.reject(new Error(m.error)); else p.resolve(m.value)
    })
    child.once('exit', () => { reject(new Error('worker exited before it was ready')) })
  })
}

const round = (x: number): number => Math.round(x * 10) / 10
function pct (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number)
}
const dist = (xs: number[]): Record<string, number> => ({ n: xs.length, p50: pct(xs, 0.5), p99: pct(xs, 0.99), max: pct(xs, 1) })
const rand = (n: number): number => Math.floor(Math.random() * n)
/** Runs the jobs `concurrency` at a time; none is started after `until` (performance.now()), so the result may be shorter. */
async function pool<T> (jobs: Array<() => Promise<T>>, concurrency: number, until = Infinity): Promise<T[]> {
  const res: T[] = []
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < jobs.length && performance.now() < until) { const k = next++; res[k] = await (jobs[k] as () => Promise<T>)() }
  }))
  return res.filter((x) => x !== undefined)
}

const info: PeerInfo[] = []
const workerOf = (i: number): Worker => workers.find((w) => w.ids.includes(i)) as Worker
const liveIds = (): number[] => info.filter((p) => p.i < N - victims).map((p) => p.i)
const usedPairs = new Set<string>()
function freshPair (from: number[], to: number[]): [number, number] {
  for (let k = 0; k < 1000; k++) {
    const a = from[rand(from.length)] as number
    const b = to[rand(to.length)] as number
    if (a !== b && !usedPairs.has(`${a}>${b}`)) { usedPairs.add(`${a}>${b}`); return [a, b] }
  }
  throw new Error('no unused pair left')
}
/** The live workers' counters summed (diagnosis: what the DHT did so far). */
async function counts (): Promise<Record<string, number>> {
  const sum: Record<string, number> = {}
  for (const m of await memory()) for (const [k, v] of Object.entries(m.counts)) sum[k] = (sum[k] ?? 0) + v
  return sum
}
async function memory (): Promise<Array<{ rss: number, heapUsed: number, peers: number, counts: Record<string, number>, samples: Record<string, string>, lag: { p50: number, p99: number, max: number } }>> {
  return await Promise.all(workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).map(async (w) => await w.call({ op: 'memory' })))
}
const MiB = (b: number): number => round(b / 1048576)

async function run (): Promise<void> {
  log(`${N} peers in ${groups.length} workers (${victims} to be killed in the last)`)
  workers.push(...await Promise.all(groups.map(spawnWorker)))
  log('workers ready')
  const idle = await memory()
  out.workers = { count: workers.length, idleRssMiB: idle.map((m) => MiB(m.rss)) }

  // 1. bootstrap: peer 0 first, then everyone else with its address
  const t0 = performance.now()
  const boot = await workerOf(0).call({ op: 'start', ids: [0], bootstrap: [], netuid: NETUID, transport: 'quic', startConcurrency: 1, autoPublish: false })
  info.push(...boot.peers)
  const bootstrap = [boot.peers[0].addr as string]
  const starts = await Promise.all(workers.map(async (w) => await w.call({ op: 'start', ids: w.ids.filter((i) => i !== 0), bootstrap, netuid: NETUID, transport: 'quic', startConcurrency: 8, autoPublish: false })))
  for (const s of starts) info.push(...s.peers)
  info.sort((a, b) => a.i - b.i)
  const startedMs = performance.now() - t0
  const boot0: Record<string, unknown> = { startAllMs: round(startedMs) }
  out.bootstrap = boot0
  log(`all ${info.length} peers started in ${round(startedMs)} ms`)
  const phaseCounts: Record<string, Record<string, number>> = {}
  out.counts = { what: 'summed over the live workers since start: DHT queries by who started them, inbound DHT RPCs by message type (0 PUT_VALUE, 1 GET_VALUE, 2 ADD_PROVIDER, 3 GET_PROVIDERS, 4 FIND_NODE, 5 PING), connections opened by direction', byPhase: phaseCounts }
  const mark = async (phase: string): Promise<void> => {
    const m = await memory()
    phaseCounts[phase] = await counts()
    const lag = m.map((x) => x.lag)
    log(`counts after ${phase}: ${JSON.stringify(phaseCounts[phase])}; event-loop delay per worker (ms): ${JSON.stringify(lag)}`)
    ;(out.counts as Record<string, unknown>)[`eventLoopDelayMs:${phase}`] = lag
    const samples: Record<string, string> = Object.assign({}, ...m.map((x) => x.samples))
    ;(out.counts as Record<string, unknown>).failureSamples = samples
  }
  await mark('start')
  // the peers were started with their publish at start off: this is each one's publish (subwire.publish())
  // 12 publishes in flight in all (4 per worker at 50 peers), whatever the number of workers
  const pubs = await Promise.all(workers.map(async (w) => await w.call({ op: 'publish', timeoutMs: 30_000, concurrency: Math.max(1, Math.floor(12 / workers.length)), budgetMs: PUBLISH_BUDGET_MS })))
  const reached = pubs.flatMap((x) => x.reached as number[])
  const publishedMs = performance.now() - t0
  boot0.publishedAllMs = round(publishedMs)
  log(`all records published at ${round(publishedMs)} ms (${reached.length}/${N}; ${pubs.flatMap((x) => x.failed as string[]).length} failed)`)
  await mark('publish')

  // every peer resolves one other (a random derangement: every hotkey is looked up once), retried until all succeed
  const perm = info.map((p) => p.i)
  for (let k = perm.length - 1; k > 0; k--) { const j = rand(k); [perm[k], perm[j]] = [perm[j] as number, perm[k] as number] }
  let pending = info.map((p) => p.i).map((i) => [i, perm[i] as number] as [number, number])
  for (const [a, b] of pending) usedPairs.add(`${a}>${b}`)
  const firstRound: number[] = []
  let rounds = 0
  let firstOk = 0
  const errorsByRound: string[] = []
  const roundsUntil = performance.now() + BOOTSTRAP_BUDGET_MS
  while (pending.length > 0 && performance.now() < roundsUntil) {
    rounds++
    const res = await pool(pending.map(([a, b]) => async () => ({ a, b, r: await workerOf(a).call({ op: 'resolve', from: a, ss58: info[b]?.ss58, reach: false, timeoutMs: 10_000 }) })), 8, roundsUntil)
    const done = new Set(res.filter((x) => x.r.ok === true).map((x) => `${x.a}>${x.b}`))
    if (rounds === 1) { firstOk = res.filter((x) => x.r.ok === true).length; firstRound.push(...res.filter((x) => x.r.ok === true).map((x) => x.r.resolveMs as number)) }
    pending = pending.filter(([a, b]) => !done.has(`${a}>${b}`))
    const why = [...new Set(res.filter((x) => x.r.ok !== true).map((x) => x.r.error as string))].map((e) => `${e} ×${res.filter((x) => x.r.error === e).length}`).join(', ')
    errorsByRound.push(why)
    if (pending.length > 0) { log(`round ${rounds}: ${pending.length} lookups failed (${why}), retrying`); await new Promise((resolve) => setTimeout(resolve, 500)) }
  }
  out.bootstrap = {
    what: 'peer 0 started, then the others with its address (8 at a time per worker), then each published its record with subwire.publish() (4 at a time per worker, none started after the publish budget); then every peer resolves one other by hotkey (a random permutation, so every hotkey is looked up once), failures retried',
    startAllMs: round(startedMs),
    publishedAllMs: round(publishedMs),
    publishReachedPeers: dist(reached),
    publishMs: dist(pubs.flatMap((x) => x.ms as number[])),
    publishFailed: pubs.flatMap((x) => x.failed as string[]).length,
    publishNotStartedInBudget: pubs.reduce((n, x) => n + (x.skipped as number), 0),
    publishErrors: [...new Set(pubs.flatMap((x) => x.failed as string[]))].slice(0, 3),
    routingTableSizeAfterPublish: dist(pubs.flatMap((x) => x.tables as number[])),
    emptyRoutingTables: pubs.flatMap((x) => x.tables as number[]).filter((n) => n === 0).length,
    everyHotkeyResolvedMs: pending.length === 0 ? round(performance.now() - t0) : null,
    unresolvedAfterBudget: pending.length,
    rounds,
    errorsByRound,
    firstRoundSuccess: `${firstOk}/${N}`,
    firstRoundResolveMs: dist(firstRound)
  }
  log(`bootstrap: ${JSON.stringify(out.bootstrap)}`)
  await mark('first lookups')
  const afterBoot = await memory()
  const rssAll = afterBoot.reduce((s, m) => s + m.rss, 0)
  const rssIdle = idle.reduce((s, m) => s + m.rss, 0)
  out.memory = { what: 'RSS of all worker processes after bootstrap, divided by N; "added" subtracts the RSS the workers had before any peer started', rssTotalMiB: MiB(rssAll), perPeerMiB: round(rssAll / N / 1048576), perPeerAddedMiB: round((rssAll - rssIdle) / N / 1048576), heapPerPeerMiB: round(afterBoot.reduce((s, m) => s + m.heapUsed, 0) / N / 1048576) }

  // 2. fan-out to every member, the members found in the DHT (as a user calls it), and the baseline with known multiaddrs
  const fanFrom = liveIds()[1] as number
  const summarize = (r: any, expectLive: Set<string>, expectDead: Set<string>): Record<string, unknown> => {
    const res = r.results as Array<{ ss58: string, ok: boolean, ms: number, at: number, reason?: string, error?: string }>
    const oks = res.filter((x) => x.ok)
    return {
      totalMs: round(r.totalMs),
      membersAsked: r.summary.members,
      answered: oks.length,
      liveAnswered: `${oks.filter((x) => expectLive.has(x.ss58)).length}/${expectLive.size}`,
      ...(expectDead.size > 0 ? { deadTypedFailures: `${res.filter((x) => !x.ok && expectDead.has(x.ss58)).length}/${expectDead.size}`, deadReasons: Object.fromEntries([...new Set(res.filter((x) => !x.ok).map((x) => `${x.reason as string} (${x.error as string})`))].map((k) => [k, res.filter((x) => !x.ok && `${x.reason as string} (${x.error as string})` === k).length])) } : {}),
      failed: r.summary.failed,
      perMemberMs: dist(oks.map((x) => x.ms)),
      firstResultAtMs: round(Math.min(...res.map((x) => x.at))),
      lastResultAtMs: round(Math.max(...res.map((x) => x.at)))
    }
  }
  const everyone = new Set(info.filter((p) => p.i !== fanFrom).map((p) => p.ss58))
  const listed = await workerOf(fanFrom).call({ op: 'members', from: fanFrom, netuid: NETUID, timeoutMs: 5000 })
  out.members = { what: 'peer.members(netuid): the DHT\'s providers of the subnet, each one\'s record looked up and verified', found: `${listed.members.length}/${everyone.size}`, ms: round(listed.ms) }
  const fan = await workerOf(fanFrom).call({ op: 'fanout', from: fanFrom, netuid: NETUID, timeoutMs: FANOUT_TIMEOUT_MS })
  const baseFrom = liveIds()[2] as number
  const baseFan = await workerOf(baseFrom).call({ op: 'fanout', from: baseFrom, netuid: NETUID, timeoutMs: FANOUT_TIMEOUT_MS, members: info.filter((p) => p.i !== baseFrom).map((p) => p.addr) })
  out.fanOut = {
    what: `querySubnet(${NETUID}, 'echo') from one peer, ${FANOUT_TIMEOUT_MS} ms deadline, default concurrency; members listed from the DHT within half the deadline`,
    all: summarize(fan, everyone, new Set()),
    baselineKnownAddrs: { what: 'the same fan-out from another peer to the members\' known multiaddrs (no DHT)', ...summarize(baseFan, new Set(info.filter((p) => p.i !== baseFrom).map((p) => p.addr)), new Set()) }
  }
  log(`fan-out: ${JSON.stringify(out.fanOut)}`)
  await mark('fan-out')

  // 3. kill 10 % (SIGKILL of their worker), then fan out again from a peer that has not fanned out
  const dead = new Set(info.filter((p) => p.i >= N - victims).map((p) => p.ss58))
  const victim = workers[workers.length - 1] as Worker
  victim.child.kill('SIGKILL')
  await victim.exited
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const killFrom = liveIds()[3] as number
  const liveSet = new Set(info.filter((p) => p.i !== killFrom && !dead.has(p.ss58)).map((p) => p.ss58))
  const t1 = performance.now()
  const killedFan = await workerOf(killFrom).call({ op: 'fanout', from: killFrom, netuid: NETUID, timeoutMs: FANOUT_TIMEOUT_MS })
  const wallMs = performance.now() - t1
  const givenFrom = liveIds()[4] as number
  const givenFan = await workerOf(givenFrom).call({ op: 'fanout', from: givenFrom, netuid: NETUID, timeoutMs: FANOUT_TIMEOUT_MS, members: info.filter((p) => p.i !== givenFrom).map((p) => p.ss58) })
  out.fanOutKilled = {
    what: `${victims} of ${N} peers killed with SIGKILL (no goodbye), 1 s later a fan-out from a peer that had not fanned out`,
    listedFromDht: { ...summarize(killedFan, liveSet, dead), wallMs: round(wallMs) },
    membersGiven: { what: 'the same from another peer with every hotkey given as members (so each dead one must come back as a typed failure)', ...summarize(givenFan, new Set(info.filter((p) => p.i !== givenFrom && !dead.has(p.ss58)).map((p) => p.ss58)), dead) }
  }
  log(`fan-out with 10 % killed: ${JSON.stringify(out.fanOutKilled)}`)
  // 4. resolution latency among the live peers (last: the fan-outs are the core and must fit the deadline); fresh (from, to) pairs, so nothing is cached; 4 in flight
  const lookups = await pool(Array.from({ length: LOOKUPS }, () => freshPair(liveIds(), liveIds())).map(([a, b]) => async () => await workerOf(a).call({ op: 'resolve', from: a, ss58: info[b]?.ss58, reach: true, timeoutMs: 10_000 })), 4, performance.now() + LOOKUP_BUDGET_MS)
  const ok = lookups.filter((r) => r.ok === true)
  const direct = await pool(Array.from({ length: Math.max(1, lookups.length) }, () => freshPair(liveIds(), liveIds())).map(([a, b]) => async () => await workerOf(a).call({ op: 'direct', from: a, addr: info[b]?.addr, timeoutMs: 10_000 })), 4)
  const dOk = direct.filter((r) => r.ok === true)
  out.resolve = {
    what: `${lookups.length} lookups (of ${LOOKUPS} planned, within a ${LOOKUP_BUDGET_MS / 1000} s budget, after the kill: live peers only) of a hotkey from a random live peer that had not looked it up (4 in flight): DHT lookup with its verified record, then the first reply from the resolved peer (dial + subwire handshake + echo)`,
    success: `${ok.length}/${lookups.length}`,
    sources: Object.fromEntries([...new Set(ok.map((r) => r.source))].map((s) => [s, ok.filter((r) => r.source === s).length])),
    errors: Object.fromEntries([...new Set(lookups.filter((r) => r.ok !== true).map((r) => r.error))].map((e) => [e, lookups.filter((r) => r.error === e).length])),
    resolveMs: dist(ok.map((r) => r.resolveMs)),
    resolveAndReplyMs: dist(ok.map((r) => r.reachMs)),
    baselineDirectDial: { what: 'the same from fresh pairs, but the multiaddr with /p2p/ is known: dial + handshake + echo, no DHT', success: `${dOk.length}/${direct.length}`, replyMs: dist(dOk.map((r) => r.reachMs)) }
  }
  log(`resolve: ${JSON.stringify(out.resolve)}`)
  await mark('resolve')

}

const deadline = setTimeout(() => {
  out.incomplete = `the ${DEADLINE_MS / 1000} s deadline ended the run`
  finish(1)
}, DEADLINE_MS)

function finish (code: number): void {
  clearTimeout(deadline)
  out.seconds = round((Date.now() - started) / 1000)
  const json = JSON.stringify(out, null, 2) + '\n'
  if (values.out !== undefined) writeFileSync(values.out, json); else process.stdout.write(json)
  for (const w of workers) w.child.kill('SIGKILL')
  process.exit(code)
}

run().then(async () => {
  await Promise.race([Promise.all(workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).map(async (w) => await w.call({ op: 'stop' }).catch(() => {}))), new Promise((resolve) => setTimeout(resolve, 10_000))])
  finish(0)
}, (err: unknown) => {
  out.error = (err as Error).stack ?? String(err)
  finish(1)
})
