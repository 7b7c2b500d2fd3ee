/**
 * The connection table's bounds: connections per PeerId, per hotkey and per IP, a cap on
 * the whole table that evicts idle and unauthenticated inbound connections first (so a
 * table filled by one party still takes an honest newcomer), and the pending-handshake
 * pool shared fairly per source (IPv4 address, IPv6 /64).
 *
 * @packageDocumentation
 */
import { positiveNumber } from '../config.ts'
import { RateLimitedError } from '../errors/index.ts'
import { ipOfMultiaddr } from './acl.ts'
import { sourceOfAddr } from './upgrades.ts'
import type { Session } from './session.ts'
import type { Connection, Logger } from '@libp2p/interface'

/** An unauthenticated connection younger than this is ranked by age like any other (it may be an honest newcomer mid-handshake). */
const UNAUTHENTICATED_GRACE_MS = 1000

/** Connection-table bounds (part of the engine's `limits`). */
export interface ConnectionLimitsInit {
  /**
   * Open connections kept at once. A new inbound connection beyond it evicts an inbound
   * one: unauthenticated ones first (oldest first), then the authenticated one idle the
   * longest. Keep it below libp2p's `connectionManager.maxConnections` (300 by default),
   * which refuses newcomers outright once reached.
   *
   * @default 256
   */
  maxConnections?: number
  /**
   * Open connections from one PeerId; more are closed with `RateLimitedError`.
   *
   * @default 8
   */
  maxConnectionsPerPeer?: number
  /**
   * Authenticated connections of one hotkey (any number of PeerIds); more are refused in
   * the handshake with `RateLimitedError`.
   *
   * @default 16
   */
  maxConnectionsPerHotkey?: number
  /**
   * Open inbound connections from one IP address (IPv6: one /64); more are closed with
   * `RateLimitedError`.
   *
   * @default 64
   */
  maxConnectionsPerIp?: number
  /**
   * Pending inbound handshakes from one source (IPv4 address, IPv6 /64). When the whole
   * pool (`maxPendingHandshakes`) is full, a source below its fair share evicts the oldest
   * pending handshake of the source holding the most.
   *
   * @default 32
   */
  maxPendingHandshakesPerIp?: number
}

/** What {@link ConnectionLimits} is given. */
export interface ConnectionLimitsComponents {
  /** libp2p's open connections. */
  connections: () => Connection[]
  /** The session of a connection, if it is authenticated. */
  session: (connectionId: string) => Session | undefined
  /** The `subwire:auth` logger. */
  log: Logger
}

/** Where a connection comes from, for the per-IP bounds: its IPv4 address or its IPv6 /64. */
export function sourceOf (connection: Connection): string {
  return sourceOfAddr(ipOfMultiaddr(connection.remoteAddr), connection.remoteAddr.toString())
}

/** The bounds on the connection table and the pending-handshake pool. */
export class ConnectionLimits {
  readonly #c: ConnectionLimitsComponents
  readonly #max: number
  readonly #perPeer: number
  readonly #perHotkey: number
  readonly #perIp: number
  readonly #pendingPerIp: number
  /** Last activity (request served or sent) per connection id. */
  readonly #active = new Map<string, number>()

  constructor (components: ConnectionLimitsComponents, init: ConnectionLimitsInit = {}) {
    this.#c = components
    this.#max = positiveNumber(init.maxConnections, 256, 'limits.maxConnections')
    this.#perPeer = positiveNumber(init.maxConnectionsPerPeer, 8, 'limits.maxConnectionsPerPeer')
    this.#perHotkey = positiveNumber(init.maxConnectionsPerHotkey, 16, 'limits.maxConnectionsPerHotkey')
    this.#perIp = positiveNumber(init.maxConnectionsPerIp, 64, 'limits.maxConnectionsPerIp')
    this.#pendingPerIp = positiveNumber(init.maxPendingHandshakesPerIp, 32, 'limits.maxPendingHandshakesPerIp')
  }

  /** Marks a connection as in use now (a request served or sent on it). */
  touch (connectionId: string): void {
    this.#active.set(connectionId, Date.now())
  }

  /** Forgets a closed connection. */
  closed (connectionId: string): void {
    this.#active.delete(connectionId)
  }

  /** Checks a new inbound connection against the per-PeerId and per-IP bounds: an error to close it with, if it is over one. */
  checkInbound (connection: Connection): Error | undefined {
    const peer = connection.remotePeer.toString()
    const source = sourceOf(connection)
    let fromPeer = 0
    let fromSource = 0
    for (const c of this.#c.connections()) {
      if (c.id === connection.id || c.direction !== 'inbound' || c.status !== 'open') continue
      if (c.remotePeer.toString() === peer) fromPeer++
      if (sourceOf(c) === source) fromSource++
    }
    if (fromPeer >= this.#perPeer) return new RateLimitedError(`${peer} already has ${fromPeer} connections here (at most ${this.#perPeer})`)
    if (fromSource >= this.#perIp) return new RateLimitedError(`${source} already has ${fromSource} connections here (at most ${this.#perIp})`)
    return undefined
  }

  /**
   * Makes room for a new inbound connection when the table is over its cap by closing the
   * idlest other inbound connections; an error to close the new one with when none can go.
   */
  makeRoom (connection: Connection): Error | undefined {
    const all = this.#c.connections().filter((c) => c.status === 'open')
    const over = all.length - this.#max
    for (let i = 0; i < over; i++) {
      const victim = this.#idlest(all, connection)
      if (victim === undefined) return new RateLimitedError(`the connection table is full (${all.length} connections, none idle to evict)`)
      this.#c.log('connection table full (%d): evicting idle connection %s from %s', all.length, victim.id, victim.remoteAddr.toString())
      victim.abort(new RateLimitedError('Evicted: the connection table is full and this connection was idle'))
      all.splice(all.indexOf(victim), 1)
    }
    return undefined
  }

  /** Refuses a verified hotkey that already holds its share of authenticated connections. */
  checkHotkey (ss58: string, sessions: Iterable<Session>): void {
    let n = 0
    for (const s of sessions) {
      if (s.remote.ss58 === ss58 && s.connection.status === 'open') n++
    }
    if (n >= this.#perHotkey) throw new RateLimitedError(`${ss58} already has ${n} connections here (at most ${this.#perHotkey})`)
  }

  /**
   * Fair share of the pending-handshake pool for a new inbound connection: an error when
   * its source already holds its per-source share, or the pool is full and its source
   * already holds at least as many as any other; otherwise the pending connection to evict
   * (the oldest of the largest holder) when the pool is full, or nothing.
   */
  sharePending (connection: Connection, pending: readonly Connection[], maxPending: number): { refuse: Error } | { evict: Connection | undefined } {
    const source = sourceOf(connection)
    const bySource = new Map<string, Connection[]>()
    for (const c of pending) {
      const s = sourceOf(c)
      let list = bySource.get(s)
      if (list === undefined) { list = []; bySource.set(s, list) }
      list.push(c)
    }
    const mine = bySource.get(source)?.length ?? 0
    if (mine >= this.#pendingPerIp) return { refuse: new RateLimitedError(`${mine} handshakes from ${source} are already pending (at most ${this.#pendingPerIp})`) }
    if (pending.length < maxPending) return { evict: undefined }
    let largest: Connection[] = []
    for (const list of bySource.values()) if (list.length > largest.length) largest = list
    if (largest.length <= mine + 1) return { refuse: new RateLimitedError(`${pending.length} handshakes are already pending`) }
    return { evict: largest[0] }
  }

  /**
   * The inbound connection to evict first: one unauthenticated for over a second (oldest
   * first), then the one idle the longest (authenticated: since its last request; a fresh
   * unauthenticated one: since it opened); never one carrying a file.
   */
  #idlest (all: readonly Connection[], except: Connection): Connection | undefined {
    const now = Date.now()
    let best: Connection | undefined
    let bestScore = Infinity
    for (const c of all) {
      if (c.id === except.id || c.direction !== 'inbound') continue
      const session = this.#c.session(c.id)
      let score: number
      if (session === undefined) {
        score = now - c.timeline.open > UNAUTHENTICATED_GRACE_MS ? c.timeline.open - now : c.timeline.open
      } else {
        if (c.streams.some((s) => s.protocol?.includes('/file/') === true)) continue
        score = this.#active.get(c.id) ?? session.remote.authenticatedAt
      }
      if (score < bestScore) { bestScore = score; best = c }
    }
    return best
  }
}
