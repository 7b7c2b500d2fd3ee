/**
 * Reaches a destination: an open session to it, else a dial (to the multiaddr given, or
 * to the addresses the address book has for an SS58) and its handshake, checked against
 * the hotkey or PeerId that was asked for. Reached peers are tagged for re-dial.
 *
 * @packageDocumentation
 */
import { multiaddr } from '@multiformats/multiaddr'
import { AbortError, NotStartedError, PeerUnreachableError, UnexpectedPeerError, UnknownDestinationError, toError } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import { parseDestination } from './destination.ts'
import type { AbortOptions } from '../abort.ts'
import type { AddressBook } from './address-book.ts'
import type { Authenticator } from './authenticator.ts'
import type { Session } from './session.ts'
import type { Connection, Libp2p, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The peer-store tag that asks libp2p to re-dial a peer whose connection dropped. */
const REDIAL_TAG = 'keep-alive-subwire'

/** What the {@link Connector} is given. */
export interface ConnectorComponents {
  /** The libp2p node. */
  libp2p: Libp2p
  /** The sessions. */
  auth: Authenticator
  /** Where learned addresses are kept; none: nothing is remembered. */
  addressBook: AddressBook | undefined
  /** The `subwire:auth` logger. */
  log: Logger
}

/** Finds or makes the session to a destination. */
export class Connector {
  readonly #c: ConnectorComponents
  readonly #redial: boolean
  #started = false

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
    if (!this.#started) throw new NotStartedError()
    throwIfAborted(options.signal)
    const parsed = parseDestination(dest)
    let target: Multiaddr | Multiaddr[]
    let expectedSs58: string | undefined
    let expectedPeer: string | undefined
    if (parsed.kind === 'multiaddr') {
      expectedPeer = parsed.peerId
      const open = this.#c.auth.find((s) => s.remote.peerId === parsed.peerId)
      if (open !== undefined) return open
      target = parsed.multiaddr
    } else {
      expectedSs58 = parsed.ss58
      const open = this.#c.auth.find((s) => s.remote.ss58 === parsed.ss58)
      if (open !== undefined) return open
      const entry = await this.#c.addressBook?.get(parsed.ss58, options)
      if (entry === undefined || entry.addrs.length === 0) {
        throw new UnknownDestinationError(`No address is known for ${dest}: pass a multiaddr ending in /p2p/<PeerId>`)
      }
      expectedPeer = entry.peerId
      target = entry.addrs.map((a) => multiaddr(a).encapsulate(`/p2p/${entry.peerId}`))
    }
    const connection = await this.#dial(dest, target, options)
    const session = await this.#c.auth.authenticated(connection, options)
    if (expectedSs58 !== undefined && session.remote.ss58 !== expectedSs58) {
      throw new UnexpectedPeerError(`Expected hotkey ${expectedSs58} but the peer at that address authenticated as ${session.remote.ss58}`)
    }
    if (expectedPeer !== undefined && session.remote.peerId !== expectedPeer) {
      throw new UnexpectedPeerError(`Expected PeerId ${expectedPeer} but reached ${session.remote.peerId}`)
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
      if (options.signal?.aborted === true) throw new AbortError()
      throw new PeerUnreachableError(`Could not reach ${dest}: ${toError(err).message}`, { cause: err })
    }
  }
}
