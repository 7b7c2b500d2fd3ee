/**
 * `@subwire/peer-node`: the subwire peer for Node servers and the `subwire` CLI.
 *
 * @example
 * ```ts
 * import { createNodePeer, loadHotkey } from '@subwire/peer-node'
 * const peer = await createNodePeer({ signer: await loadHotkey({ uri: '//Bob' }), netuids: [42], listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] })
 * await peer.start()
 * peer.handle('score', async (body, { caller }) => ({ for: caller.ss58 }))
 * peer.on('message', ({ from, action, payload }) => { … })
 * ```
 *
 * @packageDocumentation
 */
import { createNodePeerImpl } from './node-peer.ts'
import type { NodePeer, NodePeerInit } from './node-peer.ts'

export { NodePeer } from './node-peer.ts'
export { NODE_TRANSPORTS } from './node-peer.ts'
export type { NodePeerInit, NodeTransport } from './node-peer.ts'
export type { WebSocketGuardInit } from './ws-guard.ts'
export { FileAddressBook } from './address-book-file.ts'
export { MetagraphSource, axonIp, axonMultiaddrs, DEFAULT_METAGRAPH_REFRESH_MS, DEFAULT_METAGRAPH_TIMEOUT_MS } from './metagraph.ts'
export type { MetagraphNeuron, MetagraphSourceInit, MetagraphSourceComponents } from './metagraph.ts'
export { readAclFile, writeAclFile, watchAclFile, validateAclFile, emptyAclFile, firewallFromAclFile } from './acl-file.ts'
export type { AclFile } from './acl-file.ts'
export { NodeFileStore, NodeFileSource } from './files.ts'
export { NodeFolderSource } from './folder-source.ts'
export type { NodeFolderSourceInit } from './folder-source.ts'
export { SqliteQueueStore, nodeFileReferencer } from './queue-store.ts'
export { loadHotkey, signerFromBittensorKeyfile, bittensorHotkeyPath } from './keys.ts'
export type { HotkeySource } from './keys.ts'
export { resolveHome, readConfig, writeConfig, defaultConfig, loadOrCreatePeerKey } from './home.ts'
export type { SubwireConfig } from './home.ts'
export {
  DEFAULT_HOME, HOME_ENV, DEFAULT_BITTENSOR_WALLET_PATH, DEFAULT_PORT, DEFAULT_BROWSER_PORT, DEFAULT_LISTEN,
  DEFAULT_DASHBOARD_PORT, DEFAULT_WEBTRANSPORT_PORT, DEFAULT_WEBTRANSPORT_LISTEN,
  DATASTORE_DIR, CONFIG_FILE, PEER_KEY_FILE, ADDRESS_BOOK_FILE, ACL_FILE, OUTBOX_DB_FILE, CONTROL_SOCKET_FILE,
  WEBTRANSPORT_CERTS_FILE, OUTBOARD_DIR
} from './constants.ts'

/** Creates a Node peer (not started): loads or creates its libp2p key in `init.home`. */
export async function createNodePeer (init: NodePeerInit): Promise<NodePeer> {
  return await createNodePeerImpl(init)
}
export { serveDashboard, browserAddresses } from './dashboard-server.ts'
export type { DashboardServer, DashboardHostConfig } from './dashboard-server.ts'
export { webTransportListener, fileCertificateStore, memoryCertificateStore, WebTransportProtocolError, WebTransportUnavailableError } from './webtransport/index.ts'
export type { CertificateStore, DenoFfi, DenoQuicApi, WebTransportCert, WebTransportListenerComponents, WebTransportListenerInit } from './webtransport/index.ts'
