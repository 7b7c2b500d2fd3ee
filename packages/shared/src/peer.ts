/**
 * {@link SubwirePeer}: a libp2p node plus the protocol engine, with one lifecycle. The
 * Node peer and the browser peer both extend it, so their APIs cannot drift apart.
 *
 * @packageDocumentation
 */
import type { AddressBook } from './address-book.ts'
import type { FileSource, SendFileResult } from './file-transfer.ts'
import type { AbortOptions } from './identity.ts'
import type { RpcHandler } from './rpc.ts'
import type {
  HandleOptions,
  MessageOptions,
  RemotePeer,
  SendOptions,
  Subwire,
  SubwireEvents,
  SubwireSendFileOptions
} from './subwire.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** A subwire peer: a libp2p node carrying the protocol engine. */
export class SubwirePeer {
  /** The libp2p node. */
  readonly libp2p: Libp2p
  /** The protocol engine. */
  readonly subwire: Subwire
  /** The address book. */
  readonly addressBook: AddressBook

  constructor (libp2p: Libp2p, subwire: Subwire, addressBook: AddressBook) {
    this.libp2p = libp2p
    this.subwire = subwire
    this.addressBook = addressBook
  }

  /** The hotkey (SS58). */
  get ss58 (): string { return this.subwire.ss58 }
  /** The PeerId. */
  get peerId (): string { return this.libp2p.peerId.toString() }
  /** Listening multiaddrs, each ending in /p2p/<PeerId> (none for a browser). */
  get multiaddrs (): string[] { return this.libp2p.getMultiaddrs().map((ma) => ma.toString()) }

  /** Starts libp2p and the protocol (signs the attestation once). */
  async start (options: AbortOptions = {}): Promise<void> {
    await this.libp2p.start()
    try {
      await this.subwire.start(options)
    } catch (err) {
      await this.libp2p.stop()
      throw err
    }
  }

  /** Stops the protocol and libp2p, releasing every socket and timer. */
  async stop (): Promise<void> {
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
  async request (dest: string, type: string, body: unknown, options?: SendOptions): Promise<unknown> { return await this.subwire.request(dest, type, body, options) }
  /** See {@link Subwire.requestStream}. */
  requestStream (dest: string, type: string, body: unknown, options?: SendOptions): AsyncGenerator<unknown, void, undefined> { return this.subwire.requestStream(dest, type, body, options) }
  /** See {@link Subwire.message}. */
  async message (dest: string, action: string, payload: unknown, options?: MessageOptions): Promise<string> { return await this.subwire.message(dest, action, payload, options) }
  /** Sends a file from any {@link FileSource}. See {@link Subwire.sendFile}. */
  async sendFileFrom (dest: string, source: FileSource, options: SubwireSendFileOptions = {}): Promise<SendFileResult> {
    return await this.subwire.sendFile(dest, source, options)
  }

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

  /** Round-trip time to a connected peer in ms (libp2p ping), or throws if it is unreachable. */
  async ping (peerId: string | PeerId, options: AbortOptions = {}): Promise<number> {
    const ping = (this.libp2p.services as { ping?: { ping: (p: PeerId, o?: AbortOptions) => Promise<number> } }).ping
    const conn = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId.toString())
    if (ping === undefined || conn === undefined) return Number.NaN
    return await ping.ping(conn.remotePeer, options)
  }
}
