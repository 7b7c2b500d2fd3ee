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
import { CONNECTION_MONITOR, createSubwire, MemoryAddressBook, SubwirePeer } from '@subwire/shared'
import { createLibp2p } from 'libp2p'
import { BlobFileSource, OpfsFileStore } from './files.ts'
import type { AddressBook, FileSource, FileStore, SendFileResult, Signer, SubwireInit, SubwireSendFileOptions } from '@subwire/shared'
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
}

/** The default order: WebTransport is fastest where the remote listens on it. */
export const WEB_TRANSPORTS: readonly WebTransportName[] = ['webtransport', 'webrtc-direct', 'ws']

/** A running subwire peer in a browser. */
export class WebPeer extends SubwirePeer {
  /** Received files (OPFS), if this peer receives files. */
  readonly files: FileStore | undefined

  constructor (peer: SubwirePeer, files: FileStore | undefined) {
    super(peer.libp2p, peer.subwire, peer.addressBook)
    this.files = files
  }

  /** Sends a `File` or `Blob` (read slice by slice) or any {@link FileSource}. */
  async sendFile (dest: string, source: Blob | FileSource, options: SubwireSendFileOptions & { name?: string } = {}): Promise<SendFileResult> {
    const src = source instanceof Blob ? new BlobFileSource(source, options.name) : source
    return await this.sendFileFrom(dest, src, options)
  }

  /** The transport of the connection to a peer: `webrtc-direct`, `webtransport`, `ws` or `unknown`. */
  transportTo (peerId: string): WebTransportName | 'unknown' {
    const conn = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)
    const addr = conn?.remoteAddr.toString() ?? ''
    if (addr.includes('/webrtc-direct')) return 'webrtc-direct'
    if (addr.includes('/webtransport')) return 'webtransport'
    if (addr.includes('/ws')) return 'ws'
    return 'unknown'
  }
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
    services: { identify: identify(), ping: ping() }
  })
  const files = init.files === null ? undefined : (init.files ?? new OpfsFileStore())
  const addressBook = init.addressBook ?? new MemoryAddressBook()
  const subwire = createSubwire({ libp2p, signer: init.signer, addressBook, logger: init.logger, files }, { ...init.protocol, netuids: init.netuids })
  return new WebPeer(new SubwirePeer(libp2p, subwire, addressBook), files)
}
