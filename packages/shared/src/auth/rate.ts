/**
 * New inbound connections per source (IPv4 address, IPv6 /64): a token bucket, so that a
 * burst is let in at once (a validator reconnecting to a crowd of neighbours) and a
 * sustained flood only at the steady rate.
 *
 * Each connection let in costs the listener a full security handshake (libp2p TLS, which
 * makes a certificate per connection, Noise, or QUIC's TLS) and a subwire handshake deadline. A flood from one IP at libp2p's former fixed 50
 * a second kept the listener's main thread in handshakes often enough to raise an
 * authenticated client's p99 4.6-4.8x in a probe with the attacker on a CPU of its own;
 * with this bucket (a burst of 50, then 10 a second) 2.4x over TCP + Noise and 2.7x over
 * QUIC (docs/PERFORMANCE.md, "Flood").
 *
 * @packageDocumentation
 */
import { positiveNumber } from '../config.ts'

/** New connections let in at once from one source after a quiet spell, by default. */
export const DEFAULT_CONNECTION_BURST = 50

/** New connections let in per second from one source, sustained, by default. */
export const DEFAULT_CONNECTIONS_PER_SECOND = 10

/** The bucket's size and refill. */
export interface ConnectionRateInit {
  /**
   * New connections a source is let in per second, sustained.
   *
   * @default 10
   */
  perSecond?: number | undefined
  /**
   * New connections a source is let in at once after a quiet spell (the bucket's size).
   *
   * @default the larger of 50 and `perSecond`
   */
  burst?: number | undefined
}

/** Sources tracked before the full buckets are forgotten (a full bucket is the same as none), at most once a second. */
const SWEEP_AT = 4096

/** Sources tracked at most: beyond, the oldest bucket is forgotten (its source gets a fresh burst). */
const MAX_SOURCES = 4 * SWEEP_AT

/** A token bucket per source; see the module comment. */
export class ConnectionRate {
  /** Tokens added per ms. */
  readonly #rate: number
  readonly #perSecond: number
  readonly #burst: number
  readonly #buckets = new Map<string, { tokens: number, at: number }>()
  #swept = -Infinity

  constructor (init: ConnectionRateInit = {}) {
    const perSecond = positiveNumber(init.perSecond, DEFAULT_CONNECTIONS_PER_SECOND, 'inboundConnectionsPerSecond')
    this.#perSecond = perSecond
    this.#rate = perSecond / 1000
    this.#burst = Math.max(1, Math.floor(positiveNumber(init.burst, Math.max(DEFAULT_CONNECTION_BURST, perSecond), 'inboundConnectionsBurst')))
  }

  /** The bucket's size. */
  get burst (): number {
    return this.#burst
  }

  /** New connections let in per second, sustained. */
  get perSecond (): number {
    return this.#perSecond
  }

  /** Sources tracked now (bounded: buckets that have refilled are forgotten). */
  get sources (): number {
    return this.#buckets.size
  }

  /**
   * Takes a token for a new connection from `source` (see `sourceOfAddr`); false when it
   * has none left, and the connection is to be refused. `peek` only tells, taking nothing.
   */
  admit (source: string, now: number = performance.now(), peek = false): boolean {
    let b = this.#buckets.get(source)
    if (b === undefined) {
      if (this.#buckets.size >= SWEEP_AT && now - this.#swept >= 1000) this.#sweep(now)
      if (this.#buckets.size >= MAX_SOURCES) this.#buckets.delete(this.#buckets.keys().next().value as string)
      b = { tokens: this.#burst, at: now }
      if (!peek) this.#buckets.set(source, b)
    } else {
      // a clock stepped back adds nothing (and takes nothing away)
      b.tokens = Math.min(this.#burst, b.tokens + Math.max(0, now - b.at) * this.#rate)
      b.at = now
    }
    if (b.tokens < 1) return false
    if (!peek) b.tokens -= 1
    return true
  }

  /** Forgets every bucket that has refilled (bounds the map under a flood from many sources). */
  #sweep (now: number): void {
    this.#swept = now
    for (const [source, b] of this.#buckets) {
      if (b.tokens + Math.max(0, now - b.at) * this.#rate >= this.#burst) this.#buckets.delete(source)
    }
  }
}
