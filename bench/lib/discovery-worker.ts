// One worker process of the discovery benchmark (bench/discovery.ts): holds a slice of
// the N peers, each a real libp2p peer with its own peer key and its own sr25519 hotkey
// (`//subwire-bench/<i>`) listening on 127.0.0.1, and runs what the coordinator asks over
// the IPC channel. Several workers spread the peers over the cores and let the
// coordinator kill 10 % of them with SIGKILL (no goodbye, as a crash would).
import { createNodePeer, loadHotkey } from '@subwire/peer-node'
import type { NodePeer } from '@subwire/peer-node'
import type { FanOutResult, FanOutSummary } from '@subwire/shared'
import { Session } from 'node:inspector/promises'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'

export interface PeerInfo { i: number, ss58: string, peerId: string, addr: string }
export type Op =
  | { op: 'start', ids: number[], bootstrap: string[], netuid: number, transport: 'quic' | 'tcp', startConcurrency: number, autoPublish: boolean }
  | { op: 'resolve', from: number, ss58: string, reach: boolean, timeoutMs: number }
  | { op: 'direct', from: number, addr: string, timeoutMs: number }
  | { op: 'fanout', from: number, netuid: number, timeoutMs: number, members?: string[] | undefined }
  | { op: 'members', from: number, netuid: number, timeoutMs: number }
  | { op: 'publish', timeoutMs: number, concurrency: number, budgetMs: number }
  | { op: 'memory' }
  | { op: 'stop' }

const peers = new Map<number, NodePeer>()
const loop = monitorEventLoopDelay({ resolution: 20 })
loop.enable()
const round = (ms: number): number => Math.round(ms * 100) / 100
const send = (msg: unknown): void => { process.send?.(msg) }
const peer = (i: number): NodePeer => {
  const p = peers.get(i)
  if (p === undefined) throw new Error(`peer ${i} is not in this worker`)
  return p
}

/** What the peers of this worker did (diagnosis): DHT queries by who started them, inbound DHT RPCs by type, connections by direction. */
const counts: Record<string, number> = {}
const count = (k: string): void => { counts[k] = (counts[k] ?? 0) + 1 }
/** One error message per counter of a failure. */
const samples: Record<string, string> = {}
const QUERY_ORIGINS: Array<[string, RegExp]> = [['refresh', /routing-table\/refresh/], ['self', /query-self/], ['put', /content-fetching.*put|\bput\b.*content-fetching/], ['get', /content-fetching/], ['provide', /content-routing.*provide|provide.*content-routing/], ['findProviders', /content-routing/], ['closestPeers', /peer-routing/]]
function instrument (p: NodePeer): void {
  const dht = (p.libp2p.services as { dht?: any }).dht
  p.libp2p.addEventListener('connection:open', (e) => { count(`conn:${e.detail.direction}`) })
  p.libp2p.addEventListener('connection:close', () => { count('conn:closed') })
  p.subwire.on('handshake:failed', (e) => {
    const k = `handshake-failed:${e.direction}:${e.error.name}`
    count(k)
    samples[k] ??= `${e.error.message.slice(0, 160)}${e.error.cause === undefined ? '' : ` (cause: ${String((e.error.cause as Error).message ?? e.error.cause).slice(0, 100)})`}`
  })
  const ping = (p.libp2p.services as { ping?: any }).ping
  if (ping !== undefined) {
    const f = ping.ping.bind(ping)
    ping.ping = async (peer: any, options: unknown) => { count(p.libp2p.getConnections(peer).length > 0 ? 'ping:connected' : 'ping:dial'); return await f(peer, options) }
  }
  if (dht === undefined) return
  for (const m of ['put', 'get', 'provide', 'findProviders']) {
    const f = dht[m].bind(dht)
    dht[m] = (...args: unknown[]) => { count(`dht:${m}`); return f(...args) }
  }
  const handle = dht.rpc.handleMessage.bind(dht.rpc)
  dht.rpc.handleMessage = async (peerId: unknown, msg: { type: number }) => { count(`rpc-in:${msg.type}`); return await handle(peerId, msg) }
  const run = dht.queryManager.run.bind(dht.queryManager)
  dht.queryManager.run = (key: unknown, fn: unknown, options: unknown) => {
    const stack = new Error().stack ?? ''
    count(`query:${QUERY_ORIGINS.find(([, re]) => re.test(stack))?.[0] ?? 'other'}`)
    return run(key, fn, options)
  }
}

async function start (op: Extract<Op, { op: 'start' }>): Promise<unknown> {
  const rssBefore = process.memoryUsage().rss
  const t0 = performance.now()
  const out: PeerInfo[] = []
  let next = 0
  const listen = op.transport === 'quic' ? '/ip4/127.0.0.1/udp/0/quic-v1' : '/ip4/127.0.0.1/tcp/0'
  await Promise.all(Array.from({ length: op.startConcurrency }, async () => {
    while (next < op.ids.length) {
      const i = op.ids[next++] as number
      const p = await createNodePeer({
        signer: await loadHotkey({ uri: `//subwire-bench/${i}` }),
        netuids: [op.netuid],
        transports: [op.transport],
        listen: [listen],
        queue: false,
        bootstrap: op.bootstrap,
        // every peer shares 127.0.0.1: libp2p's per-IP inbound limit and subwire's per-IP
        // bounds (connections, pending handshakes and upgrades) would count all of them as one
        // host; on a real subnet each peer has its own IP, so those limits do not apply here
        inboundConnectionsPerSecond: 100_000,
        upgrades: { maxPendingUpgradesPerIp: 100_000 },
        protocol: {
          limits: { maxConnectionsPerIp: 100_000, maxPendingHandshakesPerIp: 100_000 },
          // the coordinator's publish phase is this peer's publish (one per peer, as a peer
          // publishes once at start): a second one at start doubled the DHT's start-up work
          discovery: { publish: op.autoPublish }
        }
      })
      instrument(p)
      await p.start()
      peers.set(i, p)
      out.push({ i, ss58: p.ss58, peerId: p.peerId, addr: p.multiaddrs.find((a) => a.includes(op.transport === 'quic' ? '/quic-v1' : '/tcp/')) as string })
    }
  }))
  return { peers: out, ms: round(performance.now() - t0), rssBefore, rssAfter: process.memoryUsage().rss }
}

async function resolve (op: Extract<Op, { op: 'resolve' }>): Promise<unknown> {
  const p = peer(op.from)
  const signal = AbortSignal.timeout(op.timeoutMs)
  const t0 = performance.now()
  try {
    const r = await p.resolve(op.ss58, { signal })
    const resolveMs = performance.now() - t0
    if (!op.reach) return { ok: true, source: r.source, resolveMs: round(resolveMs) }
    await p.request(op.ss58, 'echo', 'x', { signal, timeout: op.timeoutMs })
    return { ok: true, source: r.source, resolveMs: round(resolveMs), reachMs: round(performance.now() - t0) }
  } catch (err) {
    return { ok: false, error: (err as Error).name, message: (err as Error).message.slice(0, 200), ms: round(performance.now() - t0) }
  }
}

async function direct (op: Extract<Op, { op: 'direct' }>): Promise<unknown> {
  const p = peer(op.from)
  const t0 = performance.now()
  try {
    await p.request(op.addr, 'echo', 'x', { signal: AbortSignal.timeout(op.timeoutMs), timeout: op.timeoutMs })
    return { ok: true, reachMs: round(performance.now() - t0) }
  } catch (err) {
    return { ok: false, error: (err as Error).name, ms: round(performance.now() - t0) }
  }
}

async function fanout (op: Extract<Op, { op: 'fanout' }>): Promise<unknown> {
  const p = peer(op.from)
  const t0 = performance.now()
  const run = p.querySubnet(op.netuid, 'echo', 'x', { timeout: op.timeoutMs, members: op.members })
  const results: Array<{ ss58: string, ok: boolean, ms: number, at: number, reason?: string, error?: string }> = []
  for await (const r of run as AsyncIterable<FanOutResult>) {
    results.push(r.ok ? { ss58: r.ss58, ok: true, ms: r.ms, at: round(performance.now() - t0) } : { ss58: r.ss58, ok: false, ms: r.ms, at: round(performance.now() - t0), reason: r.reason, error: r.error.name })
  }
  const summary: FanOutSummary = await run.summary
  return { results, summary, totalMs: round(performance.now() - t0) }
}

async function members (op: Extract<Op, { op: 'members' }>): Promise<unknown> {
  const t0 = performance.now()
  const m = await peer(op.from).members(op.netuid, { signal: AbortSignal.timeout(op.timeoutMs) })
  return { members: m.map((x) => x.ss58), ms: round(performance.now() - t0) }
}

/** Publishes every peer's record now (as `subwire.publish()` does), a few at a time: how many DHT peers took each. */
async function publish (op: Extract<Op, { op: 'publish' }>): Promise<unknown> {
  const list = [...peers.values()]
  const reached: number[] = []
  const ms: number[] = []
  const failed: string[] = []
  let next = 0
  const until = performance.now() + op.budgetMs
  await Promise.all(Array.from({ length: op.concurrency }, async () => {
    while (next < list.length && performance.now() < until) {
      const p = list[next++] as NodePeer
      const t0 = performance.now()
      try { reached.push(await p.subwire.publish({ signal: AbortSignal.timeout(op.timeoutMs) })); ms.push(round(performance.now() - t0)) } catch (err) { failed.push(`${(err as Error).name}: ${(err as Error).message.slice(0, 120)}`) }
    }
  }))
  // how full each routing table is after the publish (what a lookup can start from)
  const tables = list.map((p) => (p.libp2p.services as { dht?: { routingTable?: { size: number } } }).dht?.routingTable?.size ?? -1)
  return { reached, ms, failed, tables, skipped: list.length - next }
}

async function handle (op: Op): Promise<unknown> {
  switch (op.op) {
    case 'publish': return await publish(op)
    case 'start': return await start(op)
    case 'resolve': return await resolve(op)
    case 'direct': return await direct(op)
    case 'fanout': return await fanout(op)
    case 'members': return await members(op)
    case 'memory': {
      const m = process.memoryUsage()
      // how late this worker's event loop ran since the last call (starvation: the peers share its one thread)
      const lag = { p50: round(loop.percentile(50) / 1e6), p99: round(loop.percentile(99) / 1e6), max: round(loop.max / 1e6) }
      loop.reset()
      return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, peers: peers.size, counts: { ...counts }, samples, lag }
    }
    case 'stop':
      await writeProfile()
      await Promise.all([...peers.values()].map(async (p) => { await p.stop().catch(() => {}) }))
      peers.clear()
      return {}
  }
}

// BENCH_CPU_PROF=dir: a CPU profile of this worker from start to 'stop' (a worker killed with SIGKILL writes none)
const profiler = process.env.BENCH_CPU_PROF === undefined ? undefined : new Session()
if (profiler !== undefined) {
  profiler.connect()
  await profiler.post('Profiler.setSamplingInterval', { interval: 1000 })
  await profiler.post('Profiler.enable')
  await profiler.post('Profiler.start')
}
async function writeProfile (): Promise<void> {
  if (profiler === undefined) return
  const { profile } = await profiler.post('Profiler.stop')
  writeFileSync(join(process.env.BENCH_CPU_PROF as string, `worker-${process.pid}.cpuprofile`), JSON.stringify(profile))
}

process.on('message', (msg: { id: number, op: Op }) => {
  handle(msg.op).then(
    (value) => { send({ id: msg.id, value }) },
    (err: unknown) => { send({ id: msg.id, error: `${(err as Error).name}: ${(err as Error).message}` }) }
  )
})
process.on('disconnect', () => { process.exit(0) })
send({ ready: true, pid: process.pid })
