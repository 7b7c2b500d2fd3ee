/**
 * The browser peer: a libp2p node that dials Node peers relay-less over WebRTC-Direct,
 * WebTransport (where the remote listens on it) and WebSockets, and runs the same
 * `@subwire/shared` engine as the Node peer, unchanged.
 *
 * @packageDocumentation
 */
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { webTransport } from '@libp2p/webtransport'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { CONNECTION_MONITOR, createManifest, createOutboxCipher, createSubwire, kadRecordRouting, subwireDhtInit, MemoryAddressBook, MemoryQueueStore, Outbox, PeerUnreachableError, SubwirePeer } from '@subwire/shared'
import { createLibp2p } from 'libp2p'
import { BlobFileSource, BlobFolderSource, OpfsFileStore } from './files.ts'
import { IdbQueueStore } from './queue-store.ts'
import { LimitedFileSource, UploadLimiter } from './rate-limit.ts'
import { DHT_READY_TIMEOUT_MS } from './constants.ts'
import type { KadService } from '@subwire/shared'
import type { AbortOptions, AddressBook, FileSource, FileStore, FolderSource, OutboxInit, QueuedItem, QueueStore, RemotePeer, ResolvedHotkey, SendFileResult, SendFolderResult, Signer, SubwireInit, SubwireSendFileOptions, SubwireSendFolderOptions } from '@subwire/shared'
import type { ComponentLogger, ConnectionGater, PrivateKey } from '@libp2p/interface'

/** Transports a browser peer can dial. */
export type WebTransportName = 'webtransport' | 'webrtc-direct' | 'ws'

/** Configuration of a browser peer. */
export interface WebPeerInit {
  /** The hotkey: a wallet extension account ({@link walletSigner}) or a dev key ({@link devSigner}). */
  signer: Signer
  /** Subnets this peer takes part in. */
  netuids: number[]
  /**
   * Dial loopback and private (LAN) addresses, and plain `ws://`. Browsers' libp2p
   * refuses them by default; turn this on for a peer on this machine or the LAN.
   */
  allowPrivateAddresses?: boolean
  /** Transports, in order of preference (default WebTransport, WebRTC-Direct, WebSockets). */
  transports?: WebTransportName[]
  /** Where received files go; default OPFS. `null`: this peer does not receive files. */
  files?: FileStore | null
  /** Address book (default in memory). */
  addressBook?: AddressBook
  /** libp2p key (default a fresh one per page load: the hotkey is the identity). */
  privateKey?: PrivateKey
  /** Protocol options passed to the engine. */
  protocol?: Omit<SubwireInit, 'netuids'>
  /** Logger factory (default libp2p's debug logger). */
  logger?: ComponentLogger
  /**
   * The outbox store: default IndexedDB, one database per hotkey (items survive a reload
   * or a closed tab), or memory where IndexedDB is missing. Also the delivery log. `false`: no outbox.
   */
  queue?: QueueStore | false
  /** Outbox backoff, attempts and expiry. */
  outbox?: OutboxInit
}

/** The default order: WebTransport is fastest where the remote listens on it. */
export const WEB_TRANSPORTS: readonly WebTransportName[] = ['webtransport', 'webrtc-direct', 'ws']

/** A running subwire peer in a browser. */
export class WebPeer extends SubwirePeer {
  /** Received files (OPFS), if this peer receives files. */
  readonly files: FileStore | undefined
  /** The upload limit shared by every {@link WebPeer.sendFile} (set `uploads.bytesPerSecond`; 0: none). */
  readonly uploads = new UploadLimiter()
  readonly #ownedStore: QueueStore | undefined

  constructor (peer: SubwirePeer, files: FileStore | undefined, ownedStore?: QueueStore) {
    super(peer.libp2p, peer.subwire, peer.addressBook, peer.outbox)
    this.files = files
    this.#ownedStore = ownedStore
  }

  /** Stops the peer and closes the outbox store it opened. */
  override async stop (): Promise<void> {
    await super.stop()
    await this.#ownedStore?.close()
  }

  /**
   * Sends a `File` or `Blob` (read slice by slice) or any {@link FileSource}. With
   * `queue: true` it is copied into the outbox (sealed) and delivered when the peer is
   * reachable, across reloads. A direct send is paced by {@link WebPeer.uploads} (the limit
   * applies to the bytes sent: a `File` is hashed as it is sent, a `Blob` at full speed first).
   */
  async sendFile (dest: string, source: Blob | FileSource, options: SubwireSendFileOptions & { name?: string, queue: true }): Promise<QueuedItem>
  async sendFile (dest: string, source: Blob | FileSource, options?: SubwireSendFileOptions & { name?: string, queue?: false }): Promise<SendFileResult>
  async sendFile (dest: string, source: Blob | FileSource, options: SubwireSendFileOptions & { name?: string, queue?: boolean } = {}): Promise<SendFileResult | QueuedItem> {
    const src = source instanceof Blob ? new BlobFileSource(source, options.name) : source
    if (options.queue === true) return await this.sendFileFrom(dest, src, options)
    const { queue: _q, ...direct } = options
    // a file hashed first is hashed at full speed when a limit is on; the pacer wraps the reads of
    // the sending pass (also with no limit now, so a limit set while the file moves applies from
    // its next chunk). A streamed manifest is hashed in that pass.
    const hashedFirst = direct.hashFirst === true || src.outboard?.sourceKey === undefined
    const manifest = direct.manifest ?? (this.uploads.bytesPerSecond > 0 && hashedFirst ? await createManifest(src, direct) : undefined)
    return await this.sendFileFrom(dest, new LimitedFileSource(src, this.uploads), manifest === undefined ? direct : { ...direct, manifest })
  }

  /**
   * Where `ss58` can be reached, asked of the Node peers this browser is connected to (see
   * {@link SubwirePeer.resolve}); waits first, bounded, for the DHT to learn of a peer just connected.
   */
  override async resolve (ss58: string, options: AbortOptions = {}): Promise<ResolvedHotkey> {
    await this.#dhtReady(options)
    return await super.resolve(ss58, options)
  }

  /** A subnet's members, as the connected Node peers' DHT knows them (see {@link SubwirePeer.members}); waits as {@link WebPeer.resolve} does. */
  override async members (netuid: number, options: AbortOptions = {}): Promise<ResolvedHotkey[]> {
    await this.#dhtReady(options)
    return await super.members(netuid, options)
  }

  /**
   * The DHT's routing table learns a Node peer from identify, which runs after the subwire
   * handshake: a lookup made at once after connecting would find the table empty and answer
   * "unknown". While a session is open and the table is empty, wait (at most
   * {@link DHT_READY_TIMEOUT_MS}) for it to fill.
   */
  async #dhtReady (options: AbortOptions): Promise<void> {
    const table = (this.libp2p.services as { dht?: { routingTable?: { size: number } } }).dht?.routingTable
    const deadline = Date.now() + DHT_READY_TIMEOUT_MS
    while (table !== undefined && table.size === 0 && this.peers().length > 0 && Date.now() < deadline) {
      options.signal?.throwIfAborted()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /**
   * Sends several files as one folder transfer: a {@link FolderSource}, or `File`s (their
   * `webkitRelativePath` inside a picked folder, or the `path` given) under the folder `name`.
   */
  override async sendFolder (dest: string, folder: FolderSource | { name: string, files: ReadonlyArray<File | { file: Blob, path: string }> }, options: SubwireSendFolderOptions = {}): Promise<SendFolderResult> {
    const source = 'files' in folder ? new BlobFolderSource(folder.name, folder.files) : folder
    return await super.sendFolder(dest, source, options)
  }

  /** The transport of the connection to a peer: `webrtc-direct`, `webtransport`, `ws` or `unknown`. */
  transportTo (peerId: string): WebTransportName | 'unknown' {
    const conn = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)
    return transportOfAddr(conn?.remoteAddr.toString() ?? '')
  }

  /**
   * Connects to a peer through the first of `addrs` that works, trying WebTransport, then
   * WebRTC-Direct, then WebSockets (each attempt bounded by `perAttemptMs`, default 10 s).
   * Resolves with the peer, the transport used and the attempts that failed; throws
   * {@link PeerUnreachableError} (naming every failure) when none works.
   */
  async connectFirst (addrs: string[], options: AbortOptions & { perAttemptMs?: number } = {}): Promise<ConnectFirstResult> {
    const ordered = orderByTransport(addrs)
    const failed: ConnectFirstResult['failed'] = []
    for (const addr of ordered) {
      options.signal?.throwIfAborted()
      const signal = AbortSignal.any([AbortSignal.timeout(options.perAttemptMs ?? 10_000), ...(options.signal === undefined ? [] : [options.signal])])
      try {
        const remote = await this.connect(addr, { signal })
        return { remote, addr, transport: this.transportTo(remote.peerId), failed }
      } catch (err) {
        if (options.signal?.aborted === true) throw err
        failed.push({ addr, transport: transportOfAddr(addr), error: err instanceof Error ? err : new Error(String(err)) })
      }
    }
    throw new PeerUnreachableError(`No address worked: ${failed.map((f) => `${f.transport}: ${f.error.message}`).join('; ') || 'none given'}`)
  }
}

/** What {@link WebPeer.connectFirst} resolves with. */
export interface ConnectFirstResult {
  /** The authenticated peer. */
  remote: RemotePeer
  /** The address that worked. */
  addr: string
  /** Its transport. */
  transport: WebTransportName | 'unknown'
  /** Addresses tried before it, with why each failed. */
  failed: Array<{ addr: string, transport: WebTransportName | 'unknown', error: Error }>
}

/** The browser transport a multiaddr uses. */
export function transportOfAddr (addr: string): WebTransportName | 'unknown' {
  if (addr.includes('/webrtc-direct')) return 'webrtc-direct'
  if (addr.includes('/webtransport')) return 'webtransport'
  if (addr.includes('/ws')) return 'ws'
  return 'unknown'
}

/** `addrs` in the order {@link WEB_TRANSPORTS} prefers (stable within a transport). */
export function orderByTransport (addrs: string[]): string[] {
  const rank = (a: string): number => { const i = WEB_TRANSPORTS.indexOf(transportOfAddr(a) as WebTransportName); return i < 0 ? WEB_TRANSPORTS.length : i }
  return addrs.map((a, i) => ({ a, i })).sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i).map((x) => x.a)
}

function gater (allowPrivate: boolean): ConnectionGater | undefined {
  // undefined keeps libp2p's browser default: no private addresses, no plain ws://
  return allowPrivate ? { denyDialMultiaddr: () => false } : undefined
}

/** Creates (but does not start) a browser peer. */
export async function createWebPeerImpl (init: WebPeerInit): Promise<WebPeer> {
  const order = init.transports ?? WEB_TRANSPORTS
  const transports = order.map((t) => t === 'webtransport' ? webTransport() : t === 'webrtc-direct' ? webRTCDirect() : webSockets())
  const g = gater(init.allowPrivateAddresses === true)
  const libp2p = await createLibp2p({
    start: false,
    privateKey: init.privateKey ?? await generateKeyPair('Ed25519'),
    ...(init.logger === undefined ? {} : { logger: init.logger }),
    addresses: { listen: [] },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(g === undefined ? {} : { connectionGater: g }),
    connectionMonitor: { ...CONNECTION_MONITOR },
    services: {
      identify: identify(),
      ping: ping(),
      // subwire's DHT in client mode: a browser asks the Node peers it is connected to, and is never asked
      dht: kadDHT({ ...subwireDhtInit(), clientMode: true, peerInfoMapper: init.allowPrivateAddresses === true ? passthroughMapper : removePrivateAddressesMapper, logPrefix: 'libp2p:subwire-kad' })
    }
  })
  const dht = kadRecordRouting({
    dht: libp2p.services.dht as unknown as KadService,
    identify: libp2p.services.identify,
    connection: (id) => libp2p.getConnections().find((c) => c.id === id),
    connected: (peerId) => libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId),
    log: libp2p.logger.forComponent('subwire:discovery')
  })
  const files = init.files === null ? undefined : (init.files ?? new OpfsFileStore())
  // partials of senders that never came back (a week by default) go at start, in the background
  if (files instanceof OpfsFileStore) {
    const log = libp2p.logger.forComponent('subwire:files')
    files.collect().then((n) => { if (n > 0) log('collected %d abandoned partial transfers', n) }, (err: unknown) => { log('could not collect abandoned partials: %s', (err as Error).message) })
  }
  const addressBook = init.addressBook ?? new MemoryAddressBook()
  const ownedStore = init.queue === undefined
    ? (typeof indexedDB === 'undefined' ? new MemoryQueueStore() : await IdbQueueStore.open(init.signer.ss58))
    : undefined
  const store = init.queue === false ? undefined : init.queue ?? ownedStore
  const subwire = createSubwire({ libp2p, signer: init.signer, addressBook, logger: init.logger, files, deliveries: store, dht }, { ...init.protocol, netuids: init.netuids })
  let outbox: Outbox | undefined
  if (store !== undefined) {
    const key = store instanceof IdbQueueStore ? await store.atRestKey() : crypto.getRandomValues(new Uint8Array(32))
    outbox = new Outbox({ store, cipher: await createOutboxCipher(key), transport: subwire, log: libp2p.logger.forComponent('subwire:outbox') }, init.outbox)
  }
  return new WebPeer(new SubwirePeer(libp2p, subwire, addressBook, outbox), files, ownedStore)
}
