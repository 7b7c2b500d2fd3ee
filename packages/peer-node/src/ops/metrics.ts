/**
 * Prometheus metrics of a running peer: libp2p's own (`@libp2p/prometheus-metrics`,
 * given to libp2p through {@link libp2pMetrics}) and subwire's, counted from the peer's
 * public events and read from the peer at scrape time. `serveMetrics` serves them as
 * Prometheus text on `GET /metrics`.
 *
 * @packageDocumentation
 */
import { createServer } from 'node:http'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { Transfers } from './transfers.ts'
import type { NodePeer, NodePeerInit } from '../node-peer.ts'
import type { TransferChange } from './transfers.ts'
import type { Server } from 'node:http'

/** Distinct request types labelled by name; more become `_other` (a remote chooses the type). */
const MAX_TYPE_LABELS = 64

/** Seconds buckets of the request latency histogram (1 ms to 60 s). */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The transport of a multiaddr, as a label. */
export function transportLabel (addr: string): string {
  if (addr.includes('/webrtc-direct')) return 'webrtc-direct'
  if (addr.includes('/webtransport')) return 'webtransport'
  if (addr.includes('/quic-v1')) return 'quic'
  if (addr.includes('/ws')) return 'ws'
  if (addr.includes('/p2p-circuit')) return 'relay'
  if (addr.includes('/tcp/')) return 'tcp'
  return 'other'
}

/** Why a handshake was refused, as a label (the error's name, lower-cased families). */
function refusalReason (name: string): string {
  switch (name) {
    case 'AccessDeniedError': return 'acl'
    case 'SubnetFirewallError': return 'firewall'
    case 'RateLimitedError': return 'flood'
    default: return name
  }
}

/** libp2p's metrics into `registry` (pass as {@link NodePeerInit.metrics}). */
export function libp2pMetrics (registry: Registry): NonNullable<NodePeerInit['metrics']> {
  return prometheusMetrics({ registry, collectDefaultMetrics: true, preserveExistingMetrics: true })
}

/** subwire's metrics of one peer, registered in a prom-client {@link Registry}. */
export class SubwireMetrics {
  /** The registry that holds subwire's (and, through {@link libp2pMetrics}, libp2p's) metrics. */
  readonly registry: Registry
  readonly #peer: NodePeer
  readonly #transfers: Transfers
  readonly #types = new Set<string>()
  readonly #offs: Array<() => void> = []
  readonly #c: Counters

  /** Registers the metrics in `registry` (default a new one); {@link SubwireMetrics.start} begins counting. */
  constructor (components: { peer: NodePeer, registry?: Registry }) {
    this.#peer = components.peer
    this.registry = components.registry ?? new Registry()
    this.#c = counters(this.registry, this.#peer)
    this.#transfers = new Transfers({ peer: this.#peer }, { onChange: (c) => { this.#onTransfer(c) } })
  }

  /** Starts counting the peer's events. */
  start (): void {
    if (this.#offs.length > 0) return
    const peer = this.#peer
    const c = this.#c
    this.#offs.push(
      peer.on('peer:authenticated', (p) => { c.handshakes.inc({ transport: transportLabel(p.remoteAddr), direction: p.direction }) }),
      peer.on('handshake:failed', ({ direction, error }) => {
        const reason = refusalReason(error.name)
        c.refused.inc({ direction, reason })
        if (reason === 'acl' || reason === 'firewall') c.access.inc({ reason })
        if (reason === 'flood') c.flood.inc({ limit: 'handshakes' })
      }),
      peer.on('request:served', (s) => {
        const type = this.#typeLabel(s.type, s.outcome)
        c.requests.inc({ kind: s.kind, type, outcome: s.outcome })
        if (s.outcome !== 'UnknownRpcTypeError' && s.outcome !== 'TooManyRequestsError') c.latency.observe({ kind: s.kind, type }, s.ms / 1000)
        if (s.outcome === 'TooManyRequestsError') c.flood.inc({ limit: 'requests' })
      }),
      peer.on('message', () => { c.messages.inc({ direction: 'in' }) })
    )
    const outbox = peer.outbox
    if (outbox !== undefined) {
      this.#offs.push(
        outbox.on('queue:added', (i) => { c.queued.inc({ kind: i.kind }) }),
        outbox.on('queue:delivered', ({ item }) => {
          c.delivered.inc({ kind: item.kind })
          if (item.kind === 'message') c.messages.inc({ direction: 'out' })
        }),
        outbox.on('queue:retry', ({ item }) => { c.retries.inc({ kind: item.kind }) }),
        outbox.on('queue:dead', ({ item }) => { c.dead.inc({ kind: item.kind }) })
      )
    }
    this.#transfers.start()
  }

  /** Stops counting (the registry keeps its values). */
  stop (): void {
    for (const off of this.#offs.splice(0)) off()
    this.#transfers.stop()
  }

  /** The metrics as Prometheus text. */
  async text (): Promise<string> {
    return await this.registry.metrics()
  }

  #typeLabel (type: string, outcome: string): string {
    if (outcome === 'UnknownRpcTypeError') return '_unknown'
    if (this.#types.has(type)) return type
    if (this.#types.size >= MAX_TYPE_LABELS) return '_other'
    this.#types.add(type)
    return type
  }

  #onTransfer (change: TransferChange): void {
    const direction = change.transfer.direction
    const c = this.#c
    if (change.type === 'started') {
      c.transfersActive.inc({ direction })
      c.transfersStarted.inc({ direction })
    } else if (change.type === 'bytes') {
      c.transferBytes.inc({ direction }, change.delta)
    } else {
      c.transfersActive.dec({ direction })
      if (change.outcome === 'completed') c.transfersCompleted.inc({ direction })
      else c.transfersFailed.inc({ direction })
      if (change.resumed) c.transfersResumed.inc({ direction })
    }
  }
}

/** The counters, gauges and histogram that {@link SubwireMetrics} updates from events. */
interface Counters {
  handshakes: Counter<'transport' | 'direction'>
  refused: Counter<'direction' | 'reason'>
  access: Counter<'reason'>
  flood: Counter<'limit'>
  requests: Counter<'kind' | 'type' | 'outcome'>
  latency: Histogram<'kind' | 'type'>
  messages: Counter<'direction'>
  queued: Counter<'kind'>
  delivered: Counter<'kind'>
  retries: Counter<'kind'>
  dead: Counter<'kind'>
  transfersActive: Gauge<'direction'>
  transfersStarted: Counter<'direction'>
  transfersCompleted: Counter<'direction'>
  transfersFailed: Counter<'direction'>
  transfersResumed: Counter<'direction'>
  transferBytes: Counter<'direction'>
}

/** The gauges read at scrape time: live connections, authenticated peers, buffered bytes and the outbox. */
function scrapeGauges (registry: Registry, peer: NodePeer): void {
  const registers = [registry]
  // read at scrape time: the live connections and the outbox
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'subwire_connections',
    help: 'Open libp2p connections by transport and direction',
    labelNames: ['transport', 'direction'],
    registers,
    collect () {
      this.reset()
      for (const conn of peer.libp2p.getConnections()) this.inc({ transport: transportLabel(conn.remoteAddr.toString()), direction: conn.direction })
    }
  })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'subwire_peers_authenticated',
    help: 'Remote peers with a completed subwire handshake',
    registers,
    collect () { this.set(peer.peers().length) }
  })
  // eslint-disable-next-line no-new
  new Counter({
    name: 'subwire_sockets_refused_total',
    help: 'Inbound TCP and WebSockets sockets reset before libp2p saw them: their IP was over the inbound connection rate',
    registers,
    collect () { this.reset(); this.inc(peer.socketsRefused) }
  })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'subwire_buffered_bytes',
    help: 'Bytes held for remotes on RPC and message streams: replies not yet read, unfinished request frames (bounded per connection and per peer)',
    registers,
    collect () { this.set(peer.subwire.bufferedBytes) }
  })
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'subwire_outbox_items',
    help: 'Outbox items by state: pending (waiting or being sent) and dead (dead-lettered)',
    labelNames: ['state'],
    registers,
    async collect () {
      const outbox = peer.outbox
      if (outbox === undefined) return
      const [pending, dead] = await Promise.all([outbox.list(), outbox.dead()])
      this.set({ state: 'pending' }, pending.length)
      this.set({ state: 'dead' }, dead.length)
    }
  })
}

/** Registers the scrape-time gauges, then the counters (in the order the text lists them). */
function counters (registry: Registry, peer: NodePeer): Counters {
  scrapeGauges(registry, peer)
  const registers = [registry]
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> => new Counter({ name, help, labelNames, registers })
  return {
    handshakes: counter('subwire_handshakes_completed_total', 'subwire handshakes completed, by transport and direction', ['transport', 'direction']),
    refused: counter('subwire_handshakes_refused_total', 'Connections refused or failed at the subwire handshake, by direction and reason (acl, firewall, flood, or the error name)', ['direction', 'reason']),
    access: counter('subwire_access_refusals_total', 'Verified remotes refused by the allow/block lists (acl) or the subnet firewall', ['reason']),
    flood: counter('subwire_flood_drops_total', 'What the flood limits dropped: handshakes (per-IP rate, pending cap) and requests (per-connection concurrency)', ['limit']),
    requests: counter('subwire_rpc_requests_total', 'Incoming requests (rpc) and control messages (msg) by type and outcome (ok or the error name)', ['kind', 'type', 'outcome']),
    latency: new Histogram({ name: 'subwire_rpc_request_duration_seconds', help: 'Time to answer an incoming request or message', labelNames: ['kind', 'type'], buckets: LATENCY_BUCKETS, registers }),
    messages: counter('subwire_messages_total', 'Control messages received (in) and delivered by the outbox (out)', ['direction']),
    queued: counter('subwire_outbox_queued_total', 'Items queued in the outbox', ['kind']),
    delivered: counter('subwire_outbox_delivered_total', 'Outbox items delivered', ['kind']),
    retries: counter('subwire_outbox_retries_total', 'Outbox attempts that failed and will be retried', ['kind']),
    dead: counter('subwire_outbox_dead_letters_total', 'Outbox items moved to the dead-letter list', ['kind']),
    transfersActive: new Gauge({ name: 'subwire_transfers_active', help: 'File transfers in flight (in: receiving, out: sending)', labelNames: ['direction'], registers }),
    transfersStarted: counter('subwire_transfers_started_total', 'File transfers started (each attempt of an outgoing one)', ['direction']),
    transfersCompleted: counter('subwire_transfers_completed_total', 'File transfers completed and verified', ['direction']),
    transfersFailed: counter('subwire_transfers_failed_total', 'File transfer attempts that failed', ['direction']),
    transfersResumed: counter('subwire_transfers_resumed_total', 'Completed file transfers that resumed an earlier partial one', ['direction']),
    transferBytes: counter('subwire_transfer_bytes_total', 'File bytes moved (acknowledged by the receiver), by direction', ['direction'])
  }
}

/** A running `/metrics` HTTP server. */
export interface MetricsServer {
  /** The address it listens on, `host:port`. */
  readonly address: string
  /** Stops it. */
  close(): Promise<void>
}

/** Serves `GET /metrics` (Prometheus text) from `metrics` on `host:port`. */
export async function serveMetrics (metrics: { registry: Registry }, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n')
      return
    }
    metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType, connection: 'close' }).end(text)
    }, (err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const a = server.address()
  const bound = typeof a === 'object' && a !== null ? a.port : port
  return {
    address: `${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    }
  }
}
