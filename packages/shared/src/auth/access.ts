/**
 * Access to this peer: the allow/block lists, the fail-closed subnet firewall (with its
 * cached admitted sets) and the flood limits on inbound handshakes. The handshake asks it
 * whether to admit a verified remote; a change of lists or firewall re-checks every live
 * session.
 *
 * @packageDocumentation
 */
import { positiveNumber } from '../config.ts'
import { AccessDeniedError, InvalidConfigError, RateLimitedError, SubnetFirewallError, toError } from '../errors/index.ts'
import { ipOfMultiaddr } from './acl.ts'
import type { AccessControl, SubnetFirewallInit } from './acl.ts'
import type { ConnectionLimitsInit } from './limits.ts'
import type { Session } from './session.ts'
import type { Attestation } from '../identity/attestation.ts'
import type { Connection, Logger } from '@libp2p/interface'

/** Flood and abuse limits of the engine (libp2p's connection manager adds its own per-IP connection rate and caps). */
export interface FloodLimits extends ConnectionLimitsInit {
  /**
   * Inbound connections waiting for their handshake at once, shared fairly per source
   * (see `maxPendingHandshakesPerIp`); more are closed at once.
   *
   * @default 256
   */
  maxPendingHandshakes?: number
  /** Handshakes started per second by one IP address (default 50, burst twice that). */
  handshakesPerSecondPerIp?: number
  /** Inbound streams per connection and protocol (default 64). */
  maxInboundStreamsPerProtocol?: number
  /**
   * Bytes one connection may make us hold on its RPC and message streams (replies queued
   * for a client that does not read them, requests not yet complete); when spent, its
   * streams stop reading (requests wait, unread) until the replies drain. At least three
   * frames, so two large requests can still complete. Its inbound file streams have a
   * budget of the same size of their own (unfinished offer and chunk frames; at least two
   * file frames), so a file in progress never pauses the connection's requests.
   *
   * @default 48 MiB
   */
  maxBufferedBytesPerConnection?: number
  /**
   * The same for all connections of one PeerId together.
   *
   * @default 96 MiB
   */
  maxBufferedBytesPerPeer?: number
}

/** What {@link Access} is given. */
export interface AccessComponents {
  /** The allow/block lists (shared with the connection gater). */
  acl: AccessControl
  /** The `subwire:auth` logger. */
  log: Logger
}

/** Configuration of {@link Access}. */
export interface AccessInit {
  /** Subnets this peer serves. */
  netuids: number[]
  /** The subnet firewall, if any. */
  firewall?: SubnetFirewallInit | undefined
  /** Flood limits. */
  limits?: FloodLimits | undefined
  /** Deadline of a firewall source's answer. */
  handshakeTimeoutMs: number
}

/** The ACL, the subnet firewall and the flood limits. */
export class Access {
  readonly #acl: AccessControl
  readonly #log: Logger
  readonly #netuids: number[]
  readonly #timeoutMs: number
  #firewall: SubnetFirewallInit | undefined
  readonly #membership = new Map<number, { at: number, set: Promise<ReadonlySet<string>> }>()
  readonly #handshakeRate: number
  readonly #buckets = new Map<string, { tokens: number, at: number }>()
  /** Inbound streams per connection and protocol. */
  readonly maxInboundStreams: number
  /** Inbound handshakes pending at once, all sources together. */
  readonly maxPendingHandshakes: number

  constructor (components: AccessComponents, init: AccessInit) {
    this.#acl = components.acl
    this.#log = components.log
    this.#netuids = init.netuids
    this.#timeoutMs = init.handshakeTimeoutMs
    this.#firewall = validateFirewall(init.firewall, this.#netuids)
    this.maxPendingHandshakes = positiveNumber(init.limits?.maxPendingHandshakes, 256, 'limits.maxPendingHandshakes')
    this.#handshakeRate = positiveNumber(init.limits?.handshakesPerSecondPerIp, 50, 'limits.handshakesPerSecondPerIp')
    this.maxInboundStreams = positiveNumber(init.limits?.maxInboundStreamsPerProtocol, 64, 'limits.maxInboundStreamsPerProtocol')
  }

  /** The access-control lists enforced here. */
  get acl (): AccessControl {
    return this.#acl
  }

  /** Replaces the subnet firewall (or turns it off with `undefined`); call {@link Access.recheck} after. */
  setFirewall (firewall: SubnetFirewallInit | undefined): void {
    this.#firewall = validateFirewall(firewall, this.#netuids)
  }

  /** Why a new inbound connection is refused before its handshake (flood limits), if it is. */
  refuseInbound (connection: Connection): Error | undefined {
    if (!this.#handshakeAllowed(connection)) return new RateLimitedError(`more than ${this.#handshakeRate} handshakes per second from ${ipOfMultiaddr(connection.remoteAddr) ?? 'this address'}`)
    return undefined
  }

  /**
   * Applies the lists and the firewall to a verified remote before anything is served:
   * throws if it is blocked, or (inbound) admitted to none of our subnets; else returns
   * the subnets it is admitted to.
   */
  async admit (connection: Connection, a: Attestation): Promise<ReadonlySet<number>> {
    const inbound = connection.direction === 'inbound'
    const d = this.#acl.check({ ip: ipOfMultiaddr(connection.remoteAddr), peerId: a.peerId, ss58: a.ss58 }, inbound)
    if (!d.allowed) throw new AccessDeniedError(d.reason)
    const admitted = await this.#admitted(a.ss58)
    if (inbound && admitted.size === 0 && this.#netuids.length > 0) {
      throw new SubnetFirewallError(`${a.ss58} is not admitted to any subnet this peer serves (${this.#netuids.join(', ')})`)
    }
    return admitted
  }

  /**
   * Why a stream from a live session is refused, if its remote is on the block list now (a
   * block added after the handshake, without closing the connection): every RPC, message
   * and file stream it opens is refused with this typed error, which reaches the sender.
   */
  blocked (s: Session): AccessDeniedError | undefined {
    const d = this.#acl.check({ ip: ipOfMultiaddr(s.connection.remoteAddr), peerId: s.remote.peerId, ss58: s.remote.ss58 }, false)
    return d.allowed ? undefined : new AccessDeniedError(d.reason)
  }

  /**
   * Re-checks live sessions against the current lists and firewall: a now-blocked peer is
   * disconnected with `AccessDeniedError`; one that lost a subnet it had is disconnected so
   * its next connection gets the new set. Returns how many connections were closed.
   */
  async recheck (sessions: Iterable<Session>): Promise<number> {
    this.#membership.clear()
    let closed = 0
    for (const s of [...sessions]) {
      const inbound = s.connection.direction === 'inbound'
      const d = this.#acl.check({ ip: ipOfMultiaddr(s.connection.remoteAddr), peerId: s.remote.peerId, ss58: s.remote.ss58 }, inbound)
      let reason: Error | undefined
      if (!d.allowed) {
        reason = new AccessDeniedError(d.reason)
      } else {
        const admitted = await this.#admitted(s.remote.ss58)
        if ([...s.admitted].some((n) => !admitted.has(n))) {
          reason = new SubnetFirewallError(`${s.remote.ss58} is no longer admitted to subnet(s) ${[...s.admitted].filter((n) => !admitted.has(n)).join(', ')}`)
        }
      }
      if (reason !== undefined && s.connection.status === 'open') {
        this.#log('closing connection %s to %s: %s', s.connection.id, s.remote.ss58, reason.message)
        s.connection.abort(reason)
        closed++
      }
    }
    return closed
  }

  /** The subnets whose protocols `ss58` may open here. */
  async #admitted (ss58: string): Promise<ReadonlySet<number>> {
    const firewall = this.#firewall
    const out = new Set<number>()
    for (const n of this.#netuids) {
      if (firewall === undefined || !firewall.netuids.includes(n)) {
        out.add(n)
        continue
      }
      const members = await this.#members(firewall, n)
      if (members.has(ss58)) out.add(n)
    }
    return out
  }

  /** The firewall's admitted set for a subnet, cached; a failing or empty source denies everyone (logged). */
  async #members (firewall: SubnetFirewallInit, netuid: number): Promise<ReadonlySet<string>> {
    const now = Date.now()
    let cached = this.#membership.get(netuid)
    if (cached === undefined || now - cached.at > (firewall.cacheMs ?? 60_000)) {
      const set = (async (): Promise<ReadonlySet<string>> => {
        try {
          const members = await firewall.source.allowed(netuid, { signal: AbortSignal.timeout(this.#timeoutMs) })
          if (members.size === 0) this.#log.error('subnet firewall: the admitted set of subnet %d is empty: every hotkey is denied', netuid)
          return members
        } catch (err) {
          this.#log.error('subnet firewall: the source failed for subnet %d (%s): every hotkey is denied', netuid, toError(err).message)
          this.#membership.delete(netuid) // retry on the next handshake
          return new Set()
        }
      })()
      cached = { at: now, set }
      this.#membership.set(netuid, cached)
    }
    return await cached.set
  }

  /** Per-IP token bucket on inbound handshakes. */
  #handshakeAllowed (connection: Connection): boolean {
    const ip = ipOfMultiaddr(connection.remoteAddr) ?? connection.remoteAddr.toString()
    const now = performance.now()
    const burst = this.#handshakeRate * 2
    const b = this.#buckets.get(ip) ?? { tokens: burst, at: now }
    b.tokens = Math.min(burst, b.tokens + (now - b.at) / 1000 * this.#handshakeRate)
    b.at = now
    if (this.#buckets.size > 10_000) this.#buckets.clear()
    this.#buckets.set(ip, b)
    if (b.tokens < 1) return false
    b.tokens--
    return true
  }
}

function validateFirewall (firewall: SubnetFirewallInit | undefined, served: number[]): SubnetFirewallInit | undefined {
  if (firewall === undefined) return undefined
  if (!Array.isArray(firewall.netuids) || typeof firewall.source?.allowed !== 'function') {
    throw new InvalidConfigError('firewall needs netuids: number[] and a source with allowed(netuid)')
  }
  for (const n of firewall.netuids) {
    if (!served.includes(n)) throw new InvalidConfigError(`firewall: subnet ${n} is not served by this peer (it serves ${served.join(', ') || 'none'})`)
  }
  if (firewall.cacheMs !== undefined) positiveNumber(firewall.cacheMs, 1, 'firewall.cacheMs')
  return { ...firewall, netuids: [...firewall.netuids] }
}
