// Flood benchmark: `npm run bench:flood [-- --seconds 10]`. A `subwire listen` process
// (//Bob, default limits) on 127.0.0.1; an authenticated client (//Alice) in this process
// sends sequential 1 KiB echo requests, idle and then while a second process floods Bob
// with garbage TCP connections, random UDP datagrams at the QUIC port, garbage and
// oversized handshakes and silent connections. Also measures completed handshakes per
// second from one IP (fresh connection, full sr25519 handshake, hang up). Reports like
// btlightning's table. Then two attacks of issue 20 from a second process, each with the
// client's p50/p99, fresh clients (new connection and handshake each) answered, and the
// listener's peak RSS: 80 TCP sockets from 127.0.0.2 sending a byte a second, and 40
// authenticated peers holding 320 idle connections. Writes bench/results/flood-<timestamp>.json. No thresholds.
// `--profile DIR` runs the listener with `--cpu-prof` into DIR (stopped with SIGINT so that it writes them).
// `--attacker-cpu N` stands in for an attacker on another machine: the attacker runs on
// CPU N alone and the listener and the client on the other CPUs (`taskset`), so that the
// attacker's own work (its sockets, its crypto, the kernel's loopback processing of its
// packets) does not take CPU from them; idle is measured under the same placement.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { connect } from 'node:net'
import { readFileSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import type { Socket } from 'node:net'
import { createNodePeer, loadHotkey } from '../packages/peer-node/src/index.ts'
import { FLOOD_KINDS, flood, measure } from '../packages/peer-node/test/fixtures/flood.ts'
import type { FloodCounts, FloodKind, Latency } from '../packages/peer-node/test/fixtures/flood.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, worker: { type: 'string' }, attack: { type: 'string' }, kinds: { type: 'string' }, profile: { type: 'string' }, 'attacker-cpu': { type: 'string' } } })
const seconds = Number(values.seconds)

if (values.worker !== undefined) {
  // the flooding process
  const multiaddrs = JSON.parse(values.worker) as string[]
  if (values.attack === 'slow') {
    process.stdout.write(JSON.stringify(await slowSockets(multiaddrs, seconds * 1000)) + '\n')
  } else if (values.attack === 'table') {
    process.stdout.write(JSON.stringify(await idleTable(multiaddrs, seconds * 1000)) + '\n')
  } else {
    process.stdout.write('flooding\n') // the bench measures from here (not from this process's start-up)
    const kinds = (values.kinds ?? FLOOD_KINDS.join(',')).split(',') as FloodKind[]
    const counts = await flood({ multiaddrs }, { durationMs: seconds * 1000, workers: 4, kinds })
    process.stdout.write(JSON.stringify(counts) + '\n')
  }
  process.exit(0)
}

/** 80 TCP sockets from 127.0.0.2 sending a byte a second (never finishing Noise), reopened as they close, at most 40 a second. */
async function slowSockets (addrs: string[], ms: number): Promise<{ opened: number }> {
  const port = Number((addrs.find((a) => a.includes('/tcp/')) as string).split('/')[4])
  const open = new Set<Socket>()
  let opened = 0
  const tick = setInterval(() => { for (const s of open) s.write(new Uint8Array([0x13])) }, 1000)
  const refill = setInterval(() => {
    for (let i = 0; i < 4 && open.size < 80; i++) {
      const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
      opened++
      open.add(s)
      s.on('error', () => {})
      s.on('close', () => { open.delete(s) })
    }
  }, 100)
  setTimeout(() => { process.stdout.write('attacking\n') }, 2000) // 80 sockets open
  await new Promise((resolve) => setTimeout(resolve, ms))
  clearInterval(tick)
  clearInterval(refill)
  for (const s of open) s.destroy()
  return { opened }
}

/** 40 authenticated peers (one IP, as here on loopback), 8 idle connections each: 320 tried, against libp2p's table of 300. */
async function idleTable (addrs: string[], ms: number): Promise<{ held: number, tried: number }> {
  const dest = addrs.find((a) => a.includes('/tcp/')) as string
  const peers = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    const p = await createNodePeer({ signer: await loadHotkey({ uri: `//Idle${i}` }), netuids: [42], listen: [], transports: ['tcp'], protocol: { redial: false } })
    await p.start()
    return p
  }))
  let tried = 0
  await Promise.all(peers.map(async (p) => {
    for (let k = 0; k < 8; k++) {
      tried++
      try { await p.libp2p.dial(multiaddr(dest), { force: true, signal: AbortSignal.timeout(10_000) }) } catch {}
    }
  }))
  const held = peers.reduce((n, p) => n + p.libp2p.getConnections().length, 0)
  process.stdout.write('attacking\n')
  await new Promise((resolve) => setTimeout(resolve, ms))
  await Promise.all(peers.map(async (p) => { await p.stop() }))
  return { held, tried }
}

/** `cmd args` under `taskset` on `cpus` (a list such as `0` or `0-2`), or as given when `cpus` is undefined. */
function pinned (cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]]
}
const attackerCpu = values['attacker-cpu']
const ourCpus = attackerCpu === undefined ? undefined : cpus().map((_, i) => i).filter((i) => String(i) !== attackerCpu).join(',')
if (ourCpus !== undefined) {
  // this process (the client) too; the listener is spawned under taskset
  spawnSync('taskset', ['-a', '-p', '-c', ourCpus, String(process.pid)], { stdio: 'ignore' })
}

const BIN = new URL('../packages/peer-node/bin/subwire.js', import.meta.url).pathname
const dir = await mkdtemp(join(tmpdir(), 'subwire-flood-'))
spawnSync(process.execPath, [BIN, '--home', join(dir, 'bob'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: 'ignore' })
const profileEnv = values.profile === undefined ? {} : { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${values.profile}` }
const bob = spawn(...pinned(ourCpus, process.execPath, [BIN, '--home', join(dir, 'bob'), 'listen', '--json']), { detached: true, env: { ...process.env, ...profileEnv } })
const lines: Array<Record<string, unknown>> = []
createInterface({ input: bob.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l)) } catch {} })
while (!lines.some((l) => l.event === 'listening')) await new Promise((resolve) => setTimeout(resolve, 50))
const multiaddrs = lines.find((l) => l.event === 'listening')?.multiaddrs as string[]
const dest = multiaddrs.find((a) => a.includes('/quic-v1/')) as string

const alice = await createNodePeer({ signer: await loadHotkey({ uri: '//Alice' }), netuids: [42], listen: [], transports: ['quic', 'tcp'] })
await alice.start()
/** The listener's resident memory now, in MiB (Linux): its process and every descendant (`subwire` runs the peer in a child). */
function rssMiB (): number {
  const tree = (pid: number): number[] => {
    let kids: number[] = []
    try { kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((x) => x !== '').map(Number) } catch {}
    return [pid, ...kids.flatMap(tree)]
  }
  let kb = 0
  for (const pid of tree(bob.pid as number)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m !== null) kb += Number(m[1])
    } catch {}
  }
  return Math.round(kb / 1024)
}

/**
 * One attack from a second process while Alice keeps asking on her connection and, every
 * 500 ms, a fresh client (new key, new connection, full handshake) asks once.
 */
async function abuse (attack: 'slow' | 'table'): Promise<Record<string, unknown> & { listenerPeakRssMiB: number }> {
  const w = spawn(...pinned(attackerCpu, 'nice', ['-n', '19', process.execPath, new URL(import.meta.url).pathname, '--worker', JSON.stringify(multiaddrs), '--seconds', String(seconds), '--attack', attack]))
  let wout = ''
  w.stdout.on('data', (d: Buffer) => { wout += d.toString() })
  const done = new Promise<void>((resolve) => { w.on('exit', () => { resolve() }) })
  let peak = rssMiB()
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB()) }, 100)
  // the attack is in place: the worker says so (its start-up at nice 19 takes seconds here), then 1 s more
  await new Promise<void>((resolve) => {
    const check = (): void => { if (wout.includes('attacking\n')) resolve() }
    w.stdout.on('data', check)
    void done.then(() => { resolve() })
    check()
  })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const c = new AbortController()
  const busy = measure(alice, dest, { signal: c.signal })
  let fresh = 0
  let freshOk = 0
  const freshTimes: number[] = []
  const until = performance.now() + (seconds - 4) * 1000
  while (performance.now() < until) {
    const n = await createNodePeer({ signer: await loadHotkey({ uri: `//Fresh${fresh}` }), netuids: [42], listen: [], transports: [fresh % 2 === 0 ? 'quic' : 'tcp'] })
    await n.start()
    const addr = multiaddrs.find((a) => a.includes(fresh % 2 === 0 ? '/quic-v1/' : '/tcp/')) as string
    fresh++
    const t = performance.now()
    try {
      await n.request(addr, 'echo', 1, { timeout: 10_000 })
      freshOk++
      freshTimes.push(performance.now() - t)
    } catch {}
    await n.stop()
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  c.abort()
  const honest = await busy
  await done
  clearInterval(sampler)
  freshTimes.sort((a, b) => a - b)
  return {
    attacker: JSON.parse(wout.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}') as unknown,
    honest,
    freshClients: { tried: fresh, ok: freshOk, p50Ms: freshTimes[Math.floor(freshTimes.length / 2)] ?? Number.NaN },
    listenerPeakRssMiB: peak
  }
}

/** One flood from a second process (the attacker would be another machine: here it shares our cores, so it runs at the lowest CPU priority), and Alice's latencies while it runs. */
async function floodPhase (kinds: readonly FloodKind[]): Promise<{ counts: FloodCounts, honest: Latency }> {
  const worker = spawn(...pinned(attackerCpu, 'nice', ['-n', '19', process.execPath, new URL(import.meta.url).pathname, '--worker', JSON.stringify(multiaddrs), '--seconds', String(seconds), '--kinds', kinds.join(',')]))
  let out = ''
  const flooding = Promise.withResolvers<void>()
  const floodEnded = Promise.withResolvers<void>()
  worker.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.includes('flooding\n')) flooding.resolve()
    if (/\{.*\}\n/.test(out)) floodEnded.resolve()
  })
  const workerDone = new Promise<void>((resolve) => { worker.on('exit', () => { resolve() }) })
  void workerDone.then(() => { flooding.resolve(); floodEnded.resolve() })
  const controller = new AbortController()
  // measured only while the flood runs: from its first packet to its counts (the worker's
  // start-up at nice 19 on a loaded machine takes seconds and is no flood)
  await flooding.promise
  await new Promise((resolve) => setTimeout(resolve, 500)) // the flood is under way
  const busy = measure(alice, dest, { signal: controller.signal })
  await floodEnded.promise
  controller.abort()
  const honest = await busy
  await workerDone
  // the per-IP buckets refill, refused sockets close, silent connections reach their handshake deadline (5 s)
  await new Promise((resolve) => setTimeout(resolve, 6000))
  return { counts: JSON.parse(out.trim().split('\n').pop() as string) as FloodCounts, honest }
}

const perSecond = (c: FloodCounts): Record<string, number> => {
  const s = c.ms / 1000
  return {
    seconds: s,
    tcpGarbageAcceptedPerSecond: Math.round(c.tcpGarbage / s),
    udpGarbagePerSecond: Math.round(c.udpGarbage / s),
    garbageHandshakesPerSecond: Math.round(c.garbageHandshakes / s),
    silentConnectionsPerSecond: Math.round(c.silentConnections / s),
    refusedDialsPerSecond: Math.round(c.refusedDials / s),
    tlsHangupsPerSecond: Math.round(c.tlsHangups / s)
  }
}

let result: Record<string, unknown>
try {
  await alice.request(dest, 'echo', 1)
  await measure(alice, dest, { count: 300 }) // warm-up
  // idle for as long as the flood lasts: the same exposure to the listener's periodic work (GC, outbox lease renewals)
  const idle = await measure(alice, dest, { ms: seconds * 1000 })
  const idleShort = await measure(alice, dest, { count: 3000 }) // the baseline of runs before 1 December (3,000 requests)

  // completed handshakes per second from one IP: a fresh connection each time
  const charlie = await createNodePeer({ signer: await loadHotkey({ uri: '//Charlie' }), netuids: [42], listen: [], transports: ['quic'] })
  await charlie.start()
  let handshakes = 0
  let refused = 0
  const hsStart = performance.now()
  while (performance.now() - hsStart < 3000) {
    try {
      await charlie.connect(dest)
      handshakes++
      await charlie.libp2p.hangUp(charlie.libp2p.getConnections()[0]?.remotePeer as never)
    } catch {
      refused++
    }
  }
  const handshakesPerSecond = Math.round(handshakes / ((performance.now() - hsStart) / 1000))
  await charlie.stop()
  await new Promise((resolve) => setTimeout(resolve, 1500)) // let the per-IP window pass

  // each kind of flood alone, then all of them at once (the headline row)
  const kinds: Record<string, { counts: FloodCounts, honest: Latency }> = {}
  for (const kind of FLOOD_KINDS) kinds[kind] = await floodPhase([kind])
  const all = await floodPhase(FLOOD_KINDS)
  const counts = all.counts
  const during = all.honest
  // idle again, after the floods: how far the machine itself drifted meanwhile
  const idleAfter = await measure(alice, dest, { ms: seconds * 1000 })
  const slow = await abuse('slow')
  const table = await abuse('table')
  result = {
    benchmark: 'flood',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    kernel: release(),
    note: 'listener in its own process with default limits; flood from a second process; client in a third (this one); 1 KiB echo over QUIC, sequential',
    placement: attackerCpu === undefined ? 'all processes on every CPU; the attacker at nice 19' : `attacker on CPU ${attackerCpu} alone (nice 19); listener and client on CPUs ${String(ourCpus)}`,
    flood: perSecond(counts),
    floodByKind: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, { flood: perSecond(v.counts), honest: v.honest, p99Ratio: Math.round(v.honest.p99 / idle.p99 * 100) / 100 }])),
    handshakesCompletedPerSecondFromOneIp: handshakesPerSecond,
    handshakeAttemptsRefused: refused,
    idle,
    idleAfter,
    idleShort,
    duringFlood: during,
    p99Ratio: Math.round(during.p99 / idle.p99 * 100) / 100,
    p99RatioToIdleAfter: Math.round(during.p99 / idleAfter.p99 * 100) / 100,
    slowSockets: slow,
    idleConnectionTable: table,
    listenerPeakRssMiB: Math.max(slow.listenerPeakRssMiB, table.listenerPeakRssMiB),
    listenerAlive: bob.exitCode === null
  }
} finally {
  await alice.stop()
  if (values.profile !== undefined && bob.exitCode === null) {
    // a graceful stop, so that the profiles are written
    const gone = new Promise((resolve) => { bob.once('exit', resolve) })
    try { process.kill(-(bob.pid as number), 'SIGINT') } catch {}
    await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 15_000))])
  }
  try { process.kill(-(bob.pid as number), 'SIGKILL') } catch {}
  await rm(dir, { recursive: true, force: true })
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
const file = new URL(`./results/flood-${String(result.date).replace(/[:.]/g, '-')}.json`, import.meta.url)
writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
const f = result.flood as Record<string, number>
const idle = result.idle as { p50: number, p99: number, n: number, perSecond: number }
const during = result.duringFlood as { p50: number, p99: number, n: number, failures: number, perSecond: number }
process.stdout.write(`\nflood, ${String(result.cpu)} x${String(result.cores)}, Node ${process.version}, ${f.seconds} s; ${String(result.placement)}\n`)
process.stdout.write(`garbage TCP connections accepted/s   ${f.tcpGarbageAcceptedPerSecond}\n`)
process.stdout.write(`garbage UDP datagrams/s              ${f.udpGarbagePerSecond}\n`)
process.stdout.write(`garbage/oversized handshakes/s       ${f.garbageHandshakesPerSecond}\n`)
process.stdout.write(`silent connections/s                 ${f.silentConnectionsPerSecond}\n`)
process.stdout.write(`dials refused (limits)/s             ${f.refusedDialsPerSecond}\n`)
process.stdout.write(`handshakes completed/s (one IP)      ${String(result.handshakesCompletedPerSecondFromOneIp)} (default: a burst of 50, then 10 new connections/s per IP)\n`)
const after = result.idleAfter as Latency
process.stdout.write(`client 1 KiB echo p50/p99 idle       ${idle.p50.toFixed(3)} / ${idle.p99.toFixed(3)} ms (${idle.n} requests, ${idle.perSecond}/s)\n`)
process.stdout.write(`client 1 KiB echo p50/p99 flood      ${during.p50.toFixed(3)} / ${during.p99.toFixed(3)} ms (${during.n} requests, ${during.perSecond}/s, ${during.failures} failed)\n`)
process.stdout.write(`p99 flood / idle                     ${String(result.p99Ratio)}x (${String(result.p99RatioToIdleAfter)}x against ${seconds} s idle after the floods, p99 ${after.p99.toFixed(3)} ms)\n`)
const byKind = result.floodByKind as Record<string, { flood: Record<string, number>, honest: Latency, p99Ratio: number }>
const kindLabel: Record<FloodKind, (f: Record<string, number>) => string> = {
  tcp: (f) => `${f.tcpGarbageAcceptedPerSecond} garbage TCP connections/s`,
  udp: (f) => `${f.udpGarbagePerSecond} UDP datagrams/s`,
  'libp2p-tcp': (f) => `TCP + TLS or Noise: ${f.garbageHandshakesPerSecond} garbage handshakes/s, ${f.silentConnectionsPerSecond} silent/s, ${f.refusedDialsPerSecond} refused/s`,
  'libp2p-quic': (f) => `QUIC: ${f.garbageHandshakesPerSecond} garbage handshakes/s, ${f.silentConnectionsPerSecond} silent/s, ${f.refusedDialsPerSecond} refused/s`,
  'tls-hangup': (f) => `TCP, /tls/1.0.0 agreed then reset: ${f.tlsHangupsPerSecond} certificates made/s`
}
for (const kind of FLOOD_KINDS) {
  const k = byKind[kind] as { flood: Record<string, number>, honest: Latency, p99Ratio: number }
  process.stdout.write(`  ${kind} alone (${kindLabel[kind](k.flood)}): p50/p99 ${k.honest.p50.toFixed(3)} / ${k.honest.p99.toFixed(3)} ms, ${k.honest.perSecond}/s, ${k.honest.failures} failed, p99 ${k.p99Ratio}x idle\n`)
}
for (const [label, key] of [['80 slow TCP sockets from one IP', 'slowSockets'], ['320 idle authenticated connections', 'idleConnectionTable']] as const) {
  const r = result[key] as { honest: { p50: number, p99: number, n: number, failures: number, perSecond: number }, freshClients: { tried: number, ok: number, p50Ms: number }, listenerPeakRssMiB: number }
  process.stdout.write(`${label}: client p50/p99 ${r.honest.p50.toFixed(3)} / ${r.honest.p99.toFixed(3)} ms (${r.honest.n} requests, ${r.honest.perSecond}/s, ${r.honest.failures} failed); fresh clients ${r.freshClients.ok}/${r.freshClients.tried} answered (p50 ${r.freshClients.p50Ms.toFixed(0)} ms incl. dial and handshake); listener peak RSS ${r.listenerPeakRssMiB} MiB\n`)
}
process.stdout.write(`written to ${file.pathname}\n`)
process.exit(0)
