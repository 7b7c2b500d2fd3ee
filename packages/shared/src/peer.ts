/**
 * {@link SubwirePeer}: a libp2p node plus the protocol engine, with one lifecycle. The
 * Node peer and the browser peer both extend it, so their APIs cannot drift apart.
 *
 * @packageDocumentation
 */
import { QueueNotEnabledError } from './errors/index.ts'
import type { AddressBook } from './auth/address-book.ts'
import type { Outbox } from './outbox/outbox.ts'
import type { QueueFileOptions } from './outbox/types.ts'
import type { FileSource, FolderSource, SendFileResult, SendFolderResult } from './files/types.ts'
import type { AbortOptions } from './abort.ts'
import type { RpcHandler } from './rpc/types.ts'
import type { ResolvedHotkey } from './discovery/types.ts'
import type { FanOutOptions, SubnetFanOut } from './fanout/fanout.ts'
import type { Subwire } from './subwire.ts'
import type {
  HandleOptions,
  MessageOptions,
  RemotePeer,
  SendOptions,
  SubwireRequestOptions,
  SubwireEvents,
  SubwireSendFileOptions,
  SubwireSendFolderOptions
} from './types.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** What a queued send returns at once. */
export interface QueuedItem {
  /** Message or transfer id; follow it with `outbox.waitFor(id)`. */
  id: string
  /** Always true. */
  queued: true
}

/** A subwire peer: a libp2p node carrying the protocol engine (and, if given, its outbox). */
export class SubwirePeer {
  /** The libp2p node. */
  readonly libp2p: Libp2p
  /** The protocol engine. */
  readonly subwire: Subwire
  /** The address book. */
  readonly addressBook: AddressBook
  /** The durable outbox, if this peer has one: `{ queue: true }` sends go there. */
  readonly outbox: Outbox | undefined

  constructor (libp2p: Libp2p, subwire: Subwire, addressBook: AddressBook, outbox?: Outbox) {
    this.libp2p = libp2p
    this.subwire = subwire
    this.addressBook = addressBook
    this.outbox = outbox
  }

  /** The hotkey (SS58). */
  get ss58 (): string { return this.subwire.ss58 }
  /** The PeerId. */
  get peerId (): string { return this.libp2p.peerId.toString() }
  /** Listening multiaddrs, each ending in /p2p/<PeerId> (none for a browser). */
  get multiaddrs (): string[] { return this.libp2p.getMultiaddrs().map((ma) => ma.toString()) }

  /** Starts libp2p and the protocol (signs the attestation once), then the outbox worker. */
  async start (options: AbortOptions = {}): Promise<void> {
    await this.subwire.clearRedialTags()
    await this.libp2p.start()
    try {
      await this.subwire.start(options)
      await this.outbox?.start(options)
    } catch (err) {
      await this.subwire.stop()
      await this.libp2p.stop()
      throw err
    }
  }

  /** Stops the outbox worker (queued items stay queued), the protocol and libp2p, releasing every socket and timer. */
  async stop (): Promise<void> {
    await this.outbox?.stop()
    await this.subwire.stop()
    await this.libp2p.stop()
  }

  /** See {@link Subwire.handle}. */
  handle (type: string, handler: RpcHandler, options?: HandleOptions): void { this.subwire.handle(type, handler, options) }
  /** See {@link Subwire.unhandle}. */
  unhandle (type: string, options?: HandleOptions): void { this.subwire.unhandle(type, options) }
  /** See {@link Subwire.connect}. */
  async connect (dest: string, options?: AbortOptions): Promise<RemotePeer> { return await this.subwire.connect(dest, options) }
  /** See {@link Subwire.request}. */
  async request (dest: string, type: string, body: unknown, options?: SubwireRequestOptions): Promise<unknown> { return await this.subwire.request(dest, type, body, options) }
  /** See {@link Subwire.requestStream}. */
  requestStream (dest: string, type: string, body: unknown, options?: SubwireRequestOptions): AsyncGenerator<unknown, void, undefined> { return this.subwire.requestStream(dest, type, body, options) }
  /**
   * Sends a control message (see {@link Subwire.message}). With `queue: true` it goes into
   * the durable outbox instead and the id is returned once it is stored; delivery follows
   * whenever the destination is reachable (see {@link Outbox}).
   */
  async message (dest: string, action: string, payload: unknown, options: MessageOptions & { queue?: boolean } = {}): Promise<string> {
    if (options.queue !== true) return await this.subwire.message(dest, action, payload, options)
    return await this.#outbox().enqueueMessage(dest, action, payload, options)
  }

  /**
   * Sends a file from any {@link FileSource} (see {@link Subwire.sendFile}). With
   * `queue: true` it is queued instead (hashed now, then referenced or copied) and the
   * transfer id is returned.
   */
  async sendFileFrom (dest: string, source: FileSource, options: SubwireSendFileOptions & { queue: true }): Promise<QueuedItem>
  async sendFileFrom (dest: string, source: FileSource, options?: SubwireSendFileOptions & { queue?: false }): Promise<SendFileResult>
  async sendFileFrom (dest: string, source: FileSource, options?: SubwireSendFileOptions & { queue?: boolean }): Promise<SendFileResult | QueuedItem>
  async sendFileFrom (dest: string, source: FileSource, options: SubwireSendFileOptions & { queue?: boolean } = {}): Promise<SendFileResult | QueuedItem> {
    if (options.queue !== true) return await this.subwire.sendFile(dest, source, options)
    const { queue: _q, manifest: _m, stallTimeoutMs: _s, ...rest } = options
    const id = await this.#outbox().enqueueFile(dest, source, rest as QueueFileOptions)
    return { id, queued: true }
  }

  #outbox (): Outbox {
    if (this.outbox === undefined) throw new QueueNotEnabledError('This peer was created without an outbox store')
    return this.outbox
  }

  /** See {@link Subwire.resolve}. */
  /** Sends a folder from any {@link FolderSource} as one transfer (see {@link Subwire.sendFolder}). */
  async sendFolder (dest: string, folder: FolderSource, options: SubwireSendFolderOptions = {}): Promise<SendFolderResult> {
    return await this.subwire.sendFolder(dest, folder, options)
  }

  async resolve (ss58: string, options?: AbortOptions): Promise<ResolvedHotkey> { return await this.subwire.resolve(ss58, options) }
  /** See {@link Subwire.members}. */
  async members (netuid: number, options?: AbortOptions): Promise<ResolvedHotkey[]> { return await this.subwire.members(netuid, options) }
  /** See {@link Subwire.querySubnet}. */
  querySubnet (netuid: number, type: string, body: unknown, options?: FanOutOptions): SubnetFanOut { return this.subwire.querySubnet(netuid, type, body, options) }
  /** See {@link Subwire.messageSubnet}. */
  messageSubnet (netuid: number, action: string, payload: unknown, options?: FanOutOptions): SubnetFanOut { return this.subwire.messageSubnet(netuid, action, payload, options) }

  /** See {@link Subwire.cancelTransfer}. */
  cancelTransfer (id: string, reason?: string): boolean { return this.subwire.cancelTransfer(id, reason) }
  /** See {@link Subwire.on}. */
  on<K extends keyof SubwireEvents> (event: K, listener: (detail: SubwireEvents[K]) => void | Promise<void>): () => void { return this.subwire.on(event, listener) }
  /** Peers with an authenticated connection now. */
  peers (): RemotePeer[] { return this.subwire.peers() }

  /** The last round-trip time libp2p's connection monitor measured to a connected peer (ms), if any. */
  rtt (peerId: string): number | undefined {
    return this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)?.rtt
  }

  /**
   * Round-trip time to a connected peer in ms (libp2p ping). `NaN` if the node has no ping
   * service or no open connection to that peer; a ping that fails rejects with its error.
   */
  async ping (peerId: string | PeerId, options: AbortOptions = {}): Promise<number> {
    const ping = (this.libp2p.services as { ping?: { ping: (p: PeerId, o?: AbortOptions) => Promise<number> } }).ping
    const conn = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId.toString())
    if (ping === undefined || conn === undefined) return Number.NaN
    return await ping.ping(conn.remotePeer, options)
  }
}
