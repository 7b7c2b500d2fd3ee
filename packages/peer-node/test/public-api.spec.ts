import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

/*
 * The public API of @subwire/peer-node, name by name (update this list on purpose).
 *
 * Issue 16 replaced the two `export *` lines of src/index.ts with named exports. Removed
 * from the package root (tests import them by relative path from src/webtransport/ and
 * src/constants.ts):
 * - the WebTransport listener's internals: decodeVarint, encodeVarint, parseStreamHeader
 *   (the stream header), HandshakeMessageStream, authenticateSession, checkSessionUrl,
 *   webTransportSuffix, certificateSet, certhashString, generateCertificate,
 *   reportedCerthashes, denoQuic, growUdpBuffers, udpSocketInodes (and the types
 *   SessionStream, CertificateSet, CertificateSetOptions, UdpBufferResult);
 * - tuning constants no option exposes: INBOUND_CONNECTIONS_PER_SECOND, MAX_CONNECTIONS,
 *   MAX_INCOMING_PENDING_CONNECTIONS, REDIAL_RETRIES, REDIAL_INTERVAL_MS,
 *   REDIAL_BACKOFF_FACTOR, ACL_RELOAD_DEBOUNCE_MS, CERT_VALIDITY_MS, CERT_ROTATE_MS,
 *   CERT_CLOCK_SKEW_MS, WEBTRANSPORT_PATH, WEBTRANSPORT_MAX_STREAMS,
 *   WEBTRANSPORT_HANDSHAKE_TIMEOUT_MS, WEBTRANSPORT_UDP_BUFFER_BYTES,
 *   PARTIAL_COLLECT_INTERVAL_MS, QUIC_READ_BYTES.
 * Kept: the peer, its stores and sources, keys and the home, the defaults and the home's
 * file names, the dashboard server, and the WebTransport listener as a libp2p transport
 * (webTransportListener, its certificate stores and its two errors).
 */
const REMOVED = [
  'decodeVarint', 'encodeVarint', 'parseStreamHeader', 'HandshakeMessageStream', 'authenticateSession', 'checkSessionUrl',
  'webTransportSuffix', 'certificateSet', 'certhashString', 'generateCertificate', 'reportedCerthashes', 'denoQuic',
  'growUdpBuffers', 'udpSocketInodes', 'INBOUND_CONNECTIONS_PER_SECOND', 'MAX_CONNECTIONS', 'MAX_INCOMING_PENDING_CONNECTIONS',
  'REDIAL_RETRIES', 'REDIAL_INTERVAL_MS', 'REDIAL_BACKOFF_FACTOR', 'ACL_RELOAD_DEBOUNCE_MS', 'CERT_VALIDITY_MS', 'CERT_ROTATE_MS',
  'CERT_CLOCK_SKEW_MS', 'WEBTRANSPORT_PATH', 'WEBTRANSPORT_MAX_STREAMS', 'WEBTRANSPORT_HANDSHAKE_TIMEOUT_MS',
  'WEBTRANSPORT_UDP_BUFFER_BYTES', 'PARTIAL_COLLECT_INTERVAL_MS', 'QUIC_READ_BYTES'
]

describe('public API of @subwire/peer-node', () => {
  it('exports exactly the documented names (update this list on purpose)', async () => {
    const names = Object.keys(await import('@subwire/peer-node')).sort()
    assert.deepEqual(names, [
      // the peer
      'createNodePeer', 'NodePeer', 'NODE_TRANSPORTS',
      // keys and the home
      'loadHotkey', 'signerFromBittensorKeyfile', 'bittensorHotkeyPath', 'resolveHome', 'readConfig', 'writeConfig',
      'defaultConfig', 'loadOrCreatePeerKey',
      // stores, sources, the address book, the ACL file and the metagraph
      'FileAddressBook', 'NodeFileStore', 'NodeFileSource', 'NodeFolderSource', 'SqliteQueueStore', 'nodeFileReferencer',
      'readAclFile', 'writeAclFile', 'watchAclFile', 'validateAclFile', 'emptyAclFile', 'firewallFromAclFile',
      'MetagraphSource', 'axonIp', 'axonMultiaddrs', 'DEFAULT_METAGRAPH_REFRESH_MS', 'DEFAULT_METAGRAPH_TIMEOUT_MS',
      // the dashboard server
      'serveDashboard', 'browserAddresses',
      // the WebTransport listener as a libp2p transport
      'webTransportListener', 'fileCertificateStore', 'memoryCertificateStore', 'WebTransportProtocolError',
      'WebTransportUnavailableError',
      // defaults and the home's layout
      'DEFAULT_HOME', 'HOME_ENV', 'DEFAULT_BITTENSOR_WALLET_PATH', 'DEFAULT_PORT', 'DEFAULT_BROWSER_PORT', 'DEFAULT_LISTEN',
      'DEFAULT_DASHBOARD_PORT', 'DEFAULT_WEBTRANSPORT_PORT', 'DEFAULT_WEBTRANSPORT_LISTEN', 'DATASTORE_DIR', 'CONFIG_FILE',
      'PEER_KEY_FILE', 'ADDRESS_BOOK_FILE', 'ACL_FILE', 'OUTBOX_DB_FILE', 'CONTROL_SOCKET_FILE', 'WEBTRANSPORT_CERTS_FILE',
      'OUTBOARD_DIR'
    ].sort())
  })

  it('no longer exports the WebTransport internals or the tuning constants (issue 16)', async () => {
    const api = await import('@subwire/peer-node')
    assert.deepEqual(REMOVED.filter((name) => Object.hasOwn(api, name)), [])
  })
})
