/**
 * `@subwire/peer-web`: the subwire peer for browsers. The same `@subwire/shared` engine
 * as the Node peer (handshake, RPC, messages, files) over WebRTC-Direct, WebTransport
 * and WebSockets, relay-less, with the hotkey from a Polkadot wallet extension.
 *
 * @example
 * ```ts
 * import { createWebPeer, walletAccounts, walletSigner } from '@subwire/peer-web'
 * const [account] = await walletAccounts()
 * const peer = await createWebPeer({ signer: await walletSigner(account.ss58), netuids: [42] })
 * await peer.start() // the extension asks once, to sign the attestation
 * await peer.sendFile('/ip4/…/udp/4702/webrtc-direct/certhash/…/p2p/12D3Koo…', file, { onProgress })
 * ```
 *
 * @packageDocumentation
 */
import { createWebPeerImpl } from './web-peer.ts'
import type { WebPeer, WebPeerInit } from './web-peer.ts'

export { WebPeer, WEB_TRANSPORTS, orderByTransport, transportOfAddr } from './web-peer.ts'
export type { ConnectFirstResult, WebPeerInit, WebTransportName } from './web-peer.ts'
export { OpfsFileStore, BlobFileSource, BlobFolderSource } from './files.ts'
export { IdbQueueStore } from './queue-store.ts'
export { LimitedFileSource, UploadLimiter } from './rate-limit.ts'
export type { InboxFile } from './files.ts'
export { walletAccounts, walletSigner, devSigner } from './wallet.ts'
export { SignatureRejectedError, WalletAccountNotFoundError, WalletUnavailableError } from './errors.ts'
export type { WalletAccount, WalletOptions, KeyValueStorage } from './wallet.ts'
export { DEFAULT_APP_NAME, OPFS_ROOT, DEV_KEY_STORAGE_KEY } from './constants.ts'

/** Creates a browser peer (not started). `start()` signs the attestation once. */
export async function createWebPeer (init: WebPeerInit): Promise<WebPeer> {
  return await createWebPeerImpl(init)
}
