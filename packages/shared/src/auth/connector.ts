/**
 * Reaches a destination: an open session to it, else a dial (to the multiaddr given, or
 * to the addresses {@link Discovery} resolves an SS58 to: the address book, the DHT, then
 * the metagraph) and its handshake, checked against the hotkey asked for and the PeerId the
 * source named. A cached address that no longer answers is forgotten and resolved afresh
 * once. Reached peers are tagged for re-dial.
 *
 * Only this part writes the address book, and only for connections it dialled to an
 * address a user gave (a multiaddr destination) or the book itself held: what the DHT or
 * the metagraph found stays in the discovery cache until it expires, and connections
 * libp2p or the DHT made on their own teach the book nothing.
 *
 * @packageDocumentation
 */
import { multiaddr } from '@multiformats/multiaddr'
import { OperationAbortedError, PeerNotStartedError, PeerUnreachableError, RecordPeerMismatchError, UnexpectedHotkeyError, toError } from '../errors/index.ts'
import { throwIfAborted, untilAborted } from '../abort.ts'
import { mergeAddrs } from './address-book.ts'
import { isDialable, parseDestination, stripPeerId } from './destination.ts'
import type { AbortOptions } from '../abort.ts'
import type { Discovery } from '../discovery/discovery.ts'
import type { ResolvedHotkey } from '../discovery/types.ts'
import type { AddressBook } from './address-book.ts'
import type { Authenticator } from './authenticator.ts'
import type { Session } from './session.ts'
import type { Connection, Libp2p, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The peer-store tag that asks libp2p to re-dial a peer whose connection dropped. */
const REDIAL_TAG = 'keep-alive-subwire'

/** Deadline of the TCP dial and handshake for a large transfer: past it, the transfer takes the session it has. */
const BULK_DIAL_TIMEOUT_MS = 3000

/** After a failed TCP dial for large transfers, the remote's transfers stay on their session this long before one is tried again. */
const BULK_RETRY_AFTER_MS = 60_000

/** What the {@link Connector} is given. */
export interface ConnectorComponents {
  /** The libp2p node. */
  libp2p: Libp2p
  /** The sessions. */
  auth: Authenticator
  /** Resolves an SS58 to addresses (address book, DHT, metagraph). */
  discovery: Discovery
  /** Where addresses of peers we dialled by a user's address or the book's are kept; none: nothing is remembered. */
  addressBook?: AddressBook | undefined
  /** The `subwire:auth` logger. */
  log: Logger
}

/** Finds or makes the session to a destination. */
export class Connector {
  readonly #c: ConnectorComponents
  readonly #redial: boolean
  #started = false
  /** TCP dials for large transfers in flight, by PeerId: concurrent transfers share one. */
  readonly #bulkDials = new Map<string, Promise<Session | undefined>>()
  /** When a PeerId's last TCP dial for large transfers failed (`performance.now()`). */
  readonly #bulkFailed = new Map<string, number>()

  /** `redial`: tag reached peers so libp2p re-dials them when their connection drops. */
  constructor (components: ConnectorComponents, init: { redial: boolean }) {
    this.#c = components
    this.#redial = init.redial
  }

  /** Starts reaching destinations. */
  start (): void {
    this.#started = true
  }

  /** Stops: every later call throws `NotStartedError`. */
  stop (): void {
    this.#started = false
  }

  /** The session to `dest`, dialling and authenticating if there is none open. */
  async session (dest: string, options: AbortOptions): Promise<Session> {
    if (!this.#started) throw new PeerNotStartedError()
    throwIfAborted(options.signal)
    const parsed = parseDestination(dest)
    if (parsed.kind === 'multiaddr') {
      const open = this.#c.auth.find((s) => s.remote.peerId === parsed.peerId)
      if (open !== undefined) return open
      const connection = await this.#dial(dest, parsed.multiaddr, options)
      const session = await this.#check(connection, undefined, parsed.peerId, undefined, options)
      await this.#remember(session, stripPeerId(parsed.multiaddr).toString())
      return session
    }
    const open = this.#c.auth.find((s) => s.remote.ss58 === parsed.ss58)
    if (open !== undefined) return open
    let found = await this.#c.discovery.resolve(parsed.ss58, options)
    let connection: Connection
    try {
      connection = await this.#dial(dest, targetOf(found), options)
    } catch (err) {
      if ((found.source !== 'cache' && found.source !== 'address-book') || !this.#c.discovery.canLookUp || options.signal?.aborted === true) throw err
      this.#c.log('%s address of %s did not answer, looking it up again', found.source, parsed.ss58)
      this.#c.discovery.forget(parsed.ss58)
      const stale = found
      found = await this.#c.discovery.resolve(parsed.ss58, { ...options, fresh: true }).catch(() => stale)
      if (found === stale) throw err
      connection = await this.#dial(dest, targetOf(found), options)
    }
    let session: Session
    try {
      session = await this.#check(connection, parsed.ss58, found.peerId, found, options)
    } catch (err) {
      this.#c.discovery.forget(parsed.ss58)
      throw err
    }
    if (found.source === 'address-book') await this.#remember(session, stripPeerId(connection.remoteAddr).toString())
    return session
  }

  /**
   * A session for a large transfer to the remote of `session`: over TCP when `session` runs
   * over QUIC and the remote announced a TCP address in its hello (an open TCP session to it
   * is reused; else one is dialled and authenticated like any other). On this kind of
   * machine a file moves about twice as fast through TCP + yamux (TLS or Noise) as through the QUIC
   * binding (docs/PERFORMANCE.md, "Bulk transfers over TCP"). Any failure to get one is
   * logged and `session` is used as before.
   */
  async bulkSession (session: Session, options: AbortOptions = {}): Promise<Session> {
    if (!isQuic(session.connection.remoteAddr.toString())) return session
    const { peerId } = session.remote
    const open = this.#c.auth.find((s) => s.remote.peerId === peerId && s.connection.status === 'open' && isPlainTcp(s.connection.remoteAddr.toString()))
    if (open !== undefined) return open
    const addrs = session.addrs.filter((a) => isPlainTcp(a) && isDialable(a))
    const failed = this.#bulkFailed.get(peerId)
    if (addrs.length === 0 || (failed !== undefined && performance.now() - failed < BULK_RETRY_AFTER_MS)) return session
    let dial = this.#bulkDials.get(peerId)
    if (dial === undefined) {
      dial = this.#dialBulk(session, addrs).finally(() => { this.#bulkDials.delete(peerId) })
      this.#bulkDials.set(peerId, dial)
    }
    // a caller who gives up stops waiting; the dial goes on for the others
    return await untilAborted(dial, options.signal) ?? session
  }

  /** Dials `addrs` of the remote of `session` over TCP and authenticates it; `undefined` (remembered for a while) if that fails. */
  async #dialBulk (session: Session, addrs: string[]): Promise<Session | undefined> {
    const { peerId, ss58 } = session.remote
    try {
      const target = addrs.map((a) => { const ma = multiaddr(a); return a.includes('/p2p/') ? ma : ma.encapsulate(`/p2p/${peerId}`) })
      const signal = AbortSignal.timeout(BULK_DIAL_TIMEOUT_MS)
      // force: libp2p would otherwise hand back the open QUIC connection to the same peer
      const connection = await this.#c.libp2p.dial(target, { force: true, signal })
      const bulk = await this.#check(connection, ss58, peerId, undefined, { signal })
      this.#bulkFailed.delete(peerId)
      return bulk
    } catch (err) {
      this.#bulkFailed.set(peerId, performance.now())
      if (this.#bulkFailed.size > 4096) this.#bulkFailed.delete(this.#bulkFailed.keys().next().value as string)
      this.#c.log('no TCP connection to %s for large transfers (%s); they go over %s for the next %d s', ss58, toError(err).message, session.connection.remoteAddr.toString(), BULK_RETRY_AFTER_MS / 1000)
      return undefined
    }
  }

  /** Keeps the address we dialled (first) and the ones the remote announced in the address book. */
  async #remember (session: Session, dialled: string): Promise<void> {
    const book = this.#c.addressBook
    if (book === undefined) return
    try {
      const { ss58, peerId } = session.remote
      const old = await book.get(ss58)
      const addrs = mergeAddrs([dialled, ...session.addrs].filter(isDialable), old?.peerId === peerId ? old.addrs : [])
      if (addrs.length === 0) return
      await book.put({ ss58, peerId, addrs, updatedAt: Date.now() })
    } catch (err) {
      this.#c.log('could not update the address book: %s', toError(err).message)
    }
  }

  async #check (connection: Connection, expectedSs58: string | undefined, expectedPeer: string | undefined, found: ResolvedHotkey | undefined, options: AbortOptions): Promise<Session> {
    const session = await this.#c.auth.authenticated(connection, options)
    if (expectedSs58 !== undefined && session.remote.ss58 !== expectedSs58) {
      throw new UnexpectedHotkeyError(`Expected hotkey ${expectedSs58} but the peer at that address authenticated as ${session.remote.ss58}`)
    }
    if (expectedPeer !== undefined && session.remote.peerId !== expectedPeer) {
      if (found?.record !== undefined) throw new RecordPeerMismatchError(`The record of ${found.ss58} names PeerId ${expectedPeer} but ${session.remote.peerId} answered`)
      throw new UnexpectedHotkeyError(`Expected PeerId ${expectedPeer} but reached ${session.remote.peerId}`)
    }
    if (this.#redial) {
      this.#c.libp2p.peerStore.merge(connection.remotePeer, { tags: { [REDIAL_TAG]: { value: 1 } } })
        .catch((err: unknown) => { this.#c.log('could not tag %s for re-dial: %s', session.remote.peerId, toError(err).message) })
    }
    return session
  }

  /** Forgets the re-dial tags a previous run left in a persistent peer store; returns how many. */
  async clearRedialTags (): Promise<number> {
    const peerStore = this.#c.libp2p.peerStore
    const tagged = await peerStore.all({ filters: [(p) => p.tags.has(REDIAL_TAG)] })
    for (const p of tagged) await peerStore.merge(p.id, { tags: { [REDIAL_TAG]: undefined } })
    return tagged.length
  }

  async #dial (dest: string, target: Multiaddr | Multiaddr[], options: AbortOptions): Promise<Connection> {
    try {
      return await this.#c.libp2p.dial(target, options.signal === undefined ? {} : { signal: options.signal })
    } catch (err) {
      if (options.signal?.aborted === true) throw new OperationAbortedError()
      throw new PeerUnreachableError(`Could not reach ${dest}: ${toError(err).message}`, { cause: err })
    }
  }
}

/** The dial target of a resolution: its addresses with `/p2p/<PeerId>` when the source named one (the metagraph does not). */
function targetOf (found: ResolvedHotkey): Multiaddr[] {
  return found.multiaddrs.map((a) => {
    const ma = multiaddr(a)
    return found.peerId === undefined || a.includes('/p2p/') ? ma : ma.encapsulate(`/p2p/${found.peerId}`)
  })
}

/** True for a QUIC address. */
function isQuic (addr: string): boolean {
  return addr.includes('/quic')
}

/** True for a TCP address that is not WebSockets (or another protocol over TCP). */
function isPlainTcp (addr: string): boolean {
  return /\/tcp\/\d+(\/p2p\/[^/]+)?$/.test(addr)
}
