/**
 * Authenticates every connection once with the hotkey handshake (`/subwire/auth/1.0.0`)
 * and keeps the resulting sessions: the dialler initiates, the listener responds, a
 * connection not authenticated by the deadline is closed, and an inbound refusal gets a
 * moment to reach the remote before the connection is dropped.
 *
 * @packageDocumentation
 */
import { AUTH_PROTOCOL, MAX_HANDSHAKE_FRAME_BYTES, MAX_TIMER_MS } from '../constants.ts'
import { AttestationExpiredError, ConnectionLostError, HandshakeFailedError, HandshakeTimeoutError, PeerNotStartedError, RateLimitedError, toError } from '../errors/index.ts'
import { untilAborted } from '../abort.ts'
import { verifyAttestation, SignatureCache } from '../identity/attestation.ts'
import { refuseChannel } from '../rpc/frames.ts'
import { FramedStream } from '../wire/framed-stream.ts'
import { initiateHandshake, respondHandshake } from './handshake.ts'
import type { AbortOptions } from '../abort.ts'
import type { Emitter } from '../events.ts'
import type { Attestation } from '../identity/attestation.ts'
import type { SubwireEvents } from '../types.ts'
import type { Access } from './access.ts'
import type { Attester } from './attester.ts'
import type { HandshakeResult } from './handshake.ts'
import type { ConnectionLimits } from './limits.ts'
import type { Session } from './session.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/**
 * How long a refused inbound connection may stay open for its refusal to reach the remote.
 * An honest dialler closes it as soon as it has read the refusal, so this bounds only one
 * that does not; 250 ms lost the race to a dialler on a loaded machine.
 */
const REFUSAL_GRACE_MS = 2000

interface PendingAuth {
  connection: Connection
  promise: Promise<Session>
  resolve: (s: Session) => void
  reject: (e: Error) => void
  timer: ReturnType<typeof setTimeout>
}

/** What the {@link Authenticator} is given. */
export interface AuthenticatorComponents {
  /** Makes our hello. */
  attester: Attester
  /** Admits a verified remote, or refuses it. */
  access: Access
  /** The engine's events. */
  events: Emitter<SubwireEvents>
  /** The connection-table bounds and the fair share of the pending pool. */
  limits: ConnectionLimits
  /** The `subwire:auth` logger. */
  log: Logger
}

/** Configuration of the {@link Authenticator}. */
export interface AuthenticatorInit {
  /** SS58 network prefix required of remote hotkeys. */
  ss58Prefix: number
  /** Deadline of a handshake (and of opening a stream). */
  handshakeTimeoutMs: number
  /** Tolerated clock difference when verifying an attestation. */
  maxClockSkewMs: number
  /** Our request limit per connection; a remote's announced limit is capped at 16 times it. */
  maxConcurrent: number
}

/** The handshake on every connection, and the sessions it makes. */
export class Authenticator {
  readonly #c: AuthenticatorComponents
  readonly #init: AuthenticatorInit
  readonly #sessions = new Map<string, Session>()
  readonly #pending = new Map<string, PendingAuth>()
  readonly #admittedFor = new Map<string, ReadonlySet<number>>()
  readonly #verifiedSignatures = new SignatureCache()
  /** Per session: closes its connection when the remote's attestation expires. */
  readonly #expiry = new Map<string, ReturnType<typeof setTimeout>>()
  #started = false

  constructor (components: AuthenticatorComponents, init: AuthenticatorInit) {
    this.#c = components
    this.#init = init
  }

  /** Starts authenticating connections. */
  start (): void {
    this.#started = true
  }

  /** Fails every pending handshake and forgets every session. */
  stop (): void {
    this.#started = false
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer)
      p.reject(new PeerNotStartedError('Peer stopped'))
      this.#pending.delete(id)
    }
    for (const t of this.#expiry.values()) clearTimeout(t)
    this.#expiry.clear()
    this.#sessions.clear()
  }

  /** The live sessions. */
  sessions (): IterableIterator<Session> {
    return this.#sessions.values()
  }

  /** The session of a connection id, if it is authenticated. */
  session (connectionId: string): Session | undefined {
    return this.#sessions.get(connectionId)
  }

  /** An open session that `match` accepts. */
  find (match: (s: Session) => boolean): Session | undefined {
    for (const s of this.#sessions.values()) {
      if (s.connection.status === 'open' && match(s)) return s
    }
    return undefined
  }

  /**
   * The session of a connection a stream arrived on. A dialler only opens streams after its
   * handshake completed, so on an inbound connection an unauthenticated stream has none. On
   * an outbound one the remote may open a stream just before we have processed its
   * handshake reply: wait for that (bounded).
   */
  async sessionOf (connection: Connection): Promise<Session | undefined> {
    const session = this.#sessions.get(connection.id)
    if (session !== undefined || connection.direction !== 'outbound') return session
    return await this.authenticated(connection).catch(() => undefined)
  }

  /** The typed refusal of a stream from `session` if its remote is blocked now (see {@link Access.blocked}). */
  blocked (session: Session): Error | undefined {
    return this.#c.access.blocked(session)
  }

  /** Waits for the connection's handshake. */
  async authenticated (connection: Connection, options: AbortOptions = {}): Promise<Session> {
    const s = this.#sessions.get(connection.id)
    if (s !== undefined) return s
    if (connection.status !== 'open') throw new ConnectionLostError()
    return await untilAborted(this.#pendingFor(connection).promise, options.signal)
  }

  /** A connection opened: refuse a flood, else start (outbound) or await (inbound) its handshake. */
  opened (connection: Connection): void {
    if (!this.#started || this.#sessions.has(connection.id)) return
    if (connection.direction === 'inbound' && !this.#pending.has(connection.id)) {
      const refusal = this.#c.access.refuseInbound(connection) ?? this.#c.limits.checkInbound(connection) ?? this.#sharePending(connection) ?? this.#c.limits.makeRoom(connection)
      if (refusal !== undefined) {
        this.#c.log('refusing connection %s from %s: %s', connection.id, connection.remoteAddr.toString(), refusal.message)
        this.#c.events.emit('handshake:failed', { peerId: connection.remotePeer.toString(), direction: connection.direction, error: refusal })
        connection.abort(refusal)
        return
      }
    }
    this.#pendingFor(connection)
    if (connection.direction === 'outbound') void this.#initiate(connection)
  }

  /** The pool of pending handshakes, shared fairly per source: a refusal, or room made by evicting the largest holder's oldest. */
  #sharePending (connection: Connection): Error | undefined {
    const pending = [...this.#pending.values()].filter((p) => p.connection.direction === 'inbound').map((p) => p.connection)
    const share = this.#c.limits.sharePending(connection, pending, this.#c.access.maxPendingHandshakes)
    if ('refuse' in share) return share.refuse
    if (share.evict !== undefined) {
      const victim = share.evict
      const err = new RateLimitedError('Evicted: the pending-handshake pool is full and this source holds the most of it')
      this.#c.log('pending-handshake pool full: evicting connection %s from %s', victim.id, victim.remoteAddr.toString())
      const p = this.#pending.get(victim.id)
      if (p !== undefined) {
        clearTimeout(p.timer)
        this.#pending.delete(victim.id)
        p.reject(err)
      }
      victim.abort(err)
    }
    return undefined
  }

  /** A connection closed: fail its handshake, or end its session. */
  closed (connection: Connection): void {
    const p = this.#pending.get(connection.id)
    if (p !== undefined) {
      clearTimeout(p.timer)
      this.#pending.delete(connection.id)
      p.reject(new ConnectionLostError('Connection closed before the handshake completed'))
    }
    this.#admittedFor.delete(connection.id)
    this.#c.limits.closed(connection.id)
    clearTimeout(this.#expiry.get(connection.id))
    this.#expiry.delete(connection.id)
    const s = this.#sessions.get(connection.id)
    if (s !== undefined) {
      this.#sessions.delete(connection.id)
      this.#c.events.emit('peer:disconnected', { ...s.remote })
    }
  }

  /** Answers a remote's handshake (the `/subwire/auth/1.0.0` handler). */
  async respond (stream: Stream, connection: Connection): Promise<void> {
    const framed = new FramedStream(stream, { maxFrameBytes: MAX_HANDSHAKE_FRAME_BYTES, log: this.#c.log })
    if (this.#sessions.has(connection.id)) {
      await refuseChannel(framed, new HandshakeFailedError('Connection is already authenticated'))
      return
    }
    this.#pendingFor(connection)
    const signal = AbortSignal.timeout(this.#init.handshakeTimeoutMs)
    try {
      const result = await respondHandshake(framed, async () => await this.#c.attester.hello({ signal }), this.#verifier(connection), { signal })
      this.#established(connection, result)
    } catch (err) {
      this.#fail(connection, toError(err))
    }
  }

  async #initiate (connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.#init.handshakeTimeoutMs)
    try {
      // optimistic protocol selection: the protocol id goes out with the hello, saving a round trip
      const stream = await connection.newStream(AUTH_PROTOCOL, { signal, runOnLimitedConnection: false, negotiateFully: false })
      const framed = new FramedStream(stream, { maxFrameBytes: MAX_HANDSHAKE_FRAME_BYTES, log: this.#c.log })
      const result = await initiateHandshake(framed, await this.#c.attester.hello({ signal }), this.#verifier(connection), { signal })
      this.#established(connection, result)
    } catch (err) {
      const e = toError(err)
      this.#fail(connection, signal.aborted && e.name !== HandshakeFailedError.name
        ? new HandshakeTimeoutError(`Handshake with ${connection.remotePeer.toString()} timed out`)
        : e)
    }
  }

  /** Verifies the remote's attestation, then applies the SS58 rules, the lists and the firewall. */
  #verifier (connection: Connection): (bytes: Uint8Array, signature: Uint8Array) => Promise<Attestation> {
    return async (bytes, signature) => {
      const a = verifyAttestation(bytes, signature, {
        expectedPeerId: connection.remotePeer.toString(),
        ss58Prefix: this.#init.ss58Prefix,
        maxClockSkewMs: this.#init.maxClockSkewMs,
        verified: this.#verifiedSignatures
      })
      const admitted = await this.#c.access.admit(connection, a)
      if (connection.direction === 'inbound') this.#c.limits.checkHotkey(a.ss58, this.#sessions.values())
      this.#admittedFor.set(connection.id, admitted)
      return a
    }
  }

  #established (connection: Connection, result: HandshakeResult): void {
    const p = this.#pending.get(connection.id)
    if (p !== undefined) {
      clearTimeout(p.timer)
      this.#pending.delete(connection.id)
    }
    if (connection.status !== 'open') {
      p?.reject(new ConnectionLostError())
      return
    }
    const a = result.attestation
    const admitted = this.#admittedFor.get(connection.id) ?? new Set<number>()
    this.#admittedFor.delete(connection.id)
    const session: Session = {
      connection,
      admitted,
      attestation: a,
      maxConcurrent: Math.min(result.maxConcurrent, this.#init.maxConcurrent * 16),
      addrs: result.addrs,
      remote: {
        ss58: a.ss58,
        peerId: a.peerId,
        netuids: [...a.netuids],
        connectionId: connection.id,
        remoteAddr: connection.remoteAddr.toString(),
        direction: connection.direction,
        authenticatedAt: Date.now(),
        e2e: a.encryptionKey !== undefined
      }
    }
    this.#sessions.set(connection.id, session)
    this.#closeAtExpiry(connection, a)
    this.#c.log('authenticated %s (%s) on %s connection %s', a.ss58, a.peerId, connection.direction, connection.id)
    p?.resolve(session)
    this.#c.events.emit('peer:authenticated', { ...session.remote })
  }

  /**
   * A session lasts as long as the attestation it was admitted on: at its expiry the
   * connection is closed (a dialler that still wants it reconnects with a fresh one).
   */
  #closeAtExpiry (connection: Connection, a: Attestation): void {
    const ms = Math.min(Math.max(0, a.expiresAt - Date.now()), MAX_TIMER_MS)
    const timer = setTimeout(() => {
      this.#expiry.delete(connection.id)
      if (connection.status !== 'open') return
      const err = new AttestationExpiredError(`The attestation of ${a.ss58} expired: closing its session`)
      this.#c.log('closing connection %s: %s', connection.id, err.message)
      connection.abort(err)
    }, ms)
    ;(timer as { unref?: () => void }).unref?.()
    this.#expiry.set(connection.id, timer)
  }

  #fail (connection: Connection, err: Error): void {
    const p = this.#pending.get(connection.id)
    if (p !== undefined) {
      clearTimeout(p.timer)
      this.#pending.delete(connection.id)
      p.reject(err)
    }
    this.#c.log('closing %s connection %s from %s: %s: %s', connection.direction, connection.id, connection.remotePeer.toString(), err.name, err.message)
    this.#c.events.emit('handshake:failed', { peerId: connection.remotePeer.toString(), direction: connection.direction, error: err })
    if (connection.direction === 'outbound') {
      connection.abort(err)
      return
    }
    // inbound: our refusal frame is on its way; aborting at once may drop it and the remote
    // would see only a closed connection. It closes on reading the refusal; if not, we do
    // after the grace (the connection serves nothing meanwhile: it has no session, and it
    // counts against its source's connection bounds).
    const timer = setTimeout(() => { if (connection.status === 'open') connection.abort(err) }, REFUSAL_GRACE_MS)
    ;(timer as { unref?: () => void }).unref?.()
  }

  #pendingFor (connection: Connection): PendingAuth {
    let p = this.#pending.get(connection.id)
    if (p !== undefined) return p
    const { promise, resolve, reject } = Promise.withResolvers<Session>()
    promise.catch(() => {})
    const timer = setTimeout(() => {
      const err = new HandshakeTimeoutError(`No subwire handshake from ${connection.remotePeer.toString()} within ${this.#init.handshakeTimeoutMs} ms`)
      this.#fail(connection, err)
    }, this.#init.handshakeTimeoutMs)
    p = { connection, promise, resolve, reject, timer }
    this.#pending.set(connection.id, p)
    return p
  }
}
