/**
 * Bounds on inbound connections still being upgraded (security handshake and muxer not
 * yet done). libp2p's pool of them (`maxIncomingPendingConnections`, 64) is shared by
 * every source and transport, and each may take the inbound upgrade timeout (10 s): a
 * few dozen TCP sockets sending a byte a second from one IP kept every other inbound
 * connection out, QUIC included. Here each source (IPv4 address, IPv6 /64) may have a
 * few upgrades pending at once, and each beyond its first gets a much shorter deadline.
 * New connections from a source are also let in at a bounded rate ({@link ConnectionRate}).
 * It runs as a libp2p connection gater: before the security handshake on TCP and
 * WebSockets, after QUIC's (which the QUIC binding completes before libp2p sees the
 * connection).
 *
 * @packageDocumentation
 */
import { positiveNumber } from '../config.ts'
import { RateLimitedError } from '../errors/index.ts'
import { ipOfMultiaddr } from './acl.ts'
import type { ConnectionRate } from './rate.ts'
import type { ConnectionGater, Logger, MultiaddrConnection, PeerId } from '@libp2p/interface'

/** Limits on pending inbound upgrades. */
export interface UpgradeLimitsInit {
  /**
   * Inbound connections from one source (IPv4 address, IPv6 /64) being upgraded at once;
   * more are refused before their security handshake.
   *
   * @default 8
   */
  maxPendingUpgradesPerIp?: number
  /**
   * Deadline of an inbound upgrade that starts while its source already has one pending
   * (the first keeps libp2p's `inboundUpgradeTimeout`). A TCP + TLS or Noise + yamux upgrade
   * takes milliseconds on a working link.
   *
   * @default 2000
   */
  crowdedUpgradeTimeoutMs?: number
}

/** What {@link UpgradeLimiter} is given. */
export interface UpgradeLimiterComponents {
  /** Logger. */
  log: Logger
  /** New connections let in per source; none: no rate here (libp2p's own threshold still applies). */
  rate?: ConnectionRate
  /**
   * True for a connection whose socket was already counted against the rate below libp2p
   * (the Node peer's TCP and WebSockets guards): it is not counted twice.
   */
  ratedBelow?: ((maConn: MultiaddrConnection) => boolean) | undefined
}

interface Pending { conns: Set<MultiaddrConnection> }

/** The source of an address for the per-IP bounds: an IPv4 address or an IPv6 /64. */
export function sourceOfAddr (ip: string | undefined, fallback: string): string {
  if (ip === undefined) return fallback
  if (!ip.includes(':')) return ip
  // an IPv4 client of a dual-stack socket (::ffff:1.2.3.4) is that IPv4 address, not a /64 shared by every IPv4 client
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped !== null) return mapped[1] as string
  const [head = '', tail] = ip.toLowerCase().split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t]
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64'
}

/** Counts inbound upgrades per source and cuts the crowded ones short. */
export class UpgradeLimiter {
  readonly #log: Logger
  readonly #rate: ConnectionRate | undefined
  readonly #ratedBelow: ((maConn: MultiaddrConnection) => boolean) | undefined
  readonly #max: number
  readonly #crowdedMs: number
  readonly #pending = new Map<string, Pending>()
  readonly #timers = new Map<MultiaddrConnection, ReturnType<typeof setTimeout>>()

  constructor (components: UpgradeLimiterComponents, init: UpgradeLimitsInit = {}) {
    this.#log = components.log
    this.#rate = components.rate
    this.#ratedBelow = components.ratedBelow
    this.#max = positiveNumber(init.maxPendingUpgradesPerIp, 8, 'maxPendingUpgradesPerIp')
    this.#crowdedMs = positiveNumber(init.crowdedUpgradeTimeoutMs, 2000, 'crowdedUpgradeTimeoutMs')
  }

  /** Upgrades pending now, all sources together. */
  get pending (): number {
    let n = 0
    for (const p of this.#pending.values()) n += p.conns.size
    return n
  }

  /** `base` with these limits added: either refusing refuses. */
  gater (base: ConnectionGater = {}): ConnectionGater {
    return {
      ...base,
      denyInboundConnection: async (maConn: MultiaddrConnection) => {
        if (await base.denyInboundConnection?.(maConn) === true) return true
        return this.#enter(maConn)
      },
      denyInboundUpgradedConnection: async (peerId: PeerId, maConn: MultiaddrConnection) => {
        this.#leave(maConn)
        return await base.denyInboundUpgradedConnection?.(peerId, maConn) === true
      }
    }
  }

  /** Stops every deadline timer (the connections themselves are libp2p's). */
  stop (): void {
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
    this.#pending.clear()
  }

  /** True to refuse: the source already has its share of pending upgrades. */
  #enter (maConn: MultiaddrConnection): boolean {
    const source = sourceOfAddr(ipOfMultiaddr(maConn.remoteAddr), maConn.remoteAddr.toString())
    // a caller that asks about an address before any connection exists (the WebTransport
    // listener, before it accepts a session) gets the verdict; there is nothing to track.
    // Its token is taken when the session's connection comes here, after QUIC, HTTP/3 and
    // Noise: a source already out of tokens is refused before them, a flood of sessions
    // that never finish Noise is bounded by the pending-upgrade cap instead
    const real = typeof (maConn as Partial<MultiaddrConnection>).addEventListener === 'function'
    if (this.#rate !== undefined && this.#ratedBelow?.(maConn) !== true && !this.#rate.admit(source, performance.now(), !real)) {
      this.#log('refusing inbound connection from %s: %s is over its connection rate', maConn.remoteAddr.toString(), source)
      return true
    }
    let p = this.#pending.get(source)
    if (p === undefined) { p = { conns: new Set() }; this.#pending.set(source, p) }
    if (p.conns.size >= this.#max) {
      this.#log('refusing inbound connection from %s: %d upgrades from %s already pending', maConn.remoteAddr.toString(), p.conns.size, source)
      if (p.conns.size === 0) this.#pending.delete(source)
      return true
    }
    if (!real) {
      if (p.conns.size === 0) this.#pending.delete(source)
      return false
    }
    const crowded = p.conns.size > 0
    p.conns.add(maConn)
    const own = p
    maConn.addEventListener('close', () => {
      this.#leave(maConn)
      if (own.conns.size === 0 && this.#pending.get(source) === own) this.#pending.delete(source)
    }, { once: true })
    if (crowded) {
      const timer = setTimeout(() => {
        this.#timers.delete(maConn)
        if (!own.conns.has(maConn)) return
        this.#log('inbound upgrade from %s took over %d ms while its source had others pending: closing it', maConn.remoteAddr.toString(), this.#crowdedMs)
        maConn.abort(new RateLimitedError(`Inbound upgrade not finished within ${this.#crowdedMs} ms`))
      }, this.#crowdedMs)
      ;(timer as { unref?: () => void }).unref?.()
      this.#timers.set(maConn, timer)
    }
    return false
  }

  #leave (maConn: MultiaddrConnection): void {
    const timer = this.#timers.get(maConn)
    if (timer !== undefined) { clearTimeout(timer); this.#timers.delete(maConn) }
    for (const [source, p] of this.#pending) {
      if (p.conns.delete(maConn)) {
        if (p.conns.size === 0) this.#pending.delete(source)
        return
      }
    }
  }
}
