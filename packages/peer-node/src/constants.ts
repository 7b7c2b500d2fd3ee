/**
 * Defaults of the Node peer. Each value says why it is what it is.
 *
 * @packageDocumentation
 */
import { homedir } from 'node:os'
import { join } from 'node:path'

/** Default home: one directory per operator identity, like `~/.bittensor`. */
export const DEFAULT_HOME = join(homedir(), '.subwire')

/** Environment variable that overrides the default home. */
export const HOME_ENV = 'SUBWIRE_HOME'

/** Where btcli keeps wallets; hotkeys are at `<path>/<wallet>/hotkeys/<hotkey>`. */
export const DEFAULT_BITTENSOR_WALLET_PATH = join(homedir(), '.bittensor', 'wallets')

/** Default port for QUIC (UDP) and TCP listeners: fixed so re-dials and address books stay valid across restarts. */
export const DEFAULT_PORT = 4701

/** Default port for the browser-facing listeners: WebRTC-Direct (UDP) and WebSockets (TCP). */
export const DEFAULT_BROWSER_PORT = 4702

/**
 * Default listen addresses: QUIC first (primary), TCP as the fallback, then the two a
 * browser can dial without a relay: WebRTC-Direct and WebSockets. Node has no
 * WebTransport listener.
 */
export const DEFAULT_LISTEN = [
  `/ip4/0.0.0.0/udp/${DEFAULT_PORT}/quic-v1`,
  `/ip4/0.0.0.0/tcp/${DEFAULT_PORT}`,
  `/ip4/0.0.0.0/udp/${DEFAULT_BROWSER_PORT}/webrtc-direct`,
  `/ip4/0.0.0.0/tcp/${DEFAULT_BROWSER_PORT}/ws`
]

/**
 * libp2p datastore directory inside the home. It keeps the WebRTC-Direct TLS certificate
 * (and its key, encrypted by the keychain) so the browser-dialable address, whose
 * certhash is the certificate's hash, stays the same across restarts.
 */
export const DATASTORE_DIR = 'datastore'

/** Default port of the dashboard server started by `subwire listen --dashboard` (127.0.0.1 only). */
export const DEFAULT_DASHBOARD_PORT = 4780

/** Config file name inside the home. */
export const CONFIG_FILE = 'subwire.json'

/** libp2p private key file (protobuf) inside the home; mode 0600 so the PeerId cannot be stolen. */
export const PEER_KEY_FILE = 'peer.key'

/** Address book file inside the home. */
export const ADDRESS_BOOK_FILE = 'addressbook.json'

/**
 * New inbound connections let in per second per IP, sustained; a burst of 50 is let in
 * at once (libp2p's fixed default of 5 a second refused the sixth connection of a
 * validator reconnecting to a crowd of miners' neighbours). At the former fixed 50 a
 * second, a flood from one IP raised an honest client's p99 4.6x (docs/PERFORMANCE.md).
 */
export const INBOUND_CONNECTIONS_PER_SECOND = 10

/**
 * libp2p's connection table: it refuses every new inbound connection once this many are
 * open. subwire's own cap (`limits.maxConnections`, 256) stays below it and evicts idle
 * connections, so a newcomer always finds the table open.
 */
export const MAX_CONNECTIONS = 300

/** Connections being upgraded at once from the network. */
export const MAX_INCOMING_PENDING_CONNECTIONS = 64

/** Re-dial attempts after a connection to a peer we dialled drops (backoff doubles from 500 ms: ~2 min in all). */
export const REDIAL_RETRIES = 8

/** First re-dial delay. */
export const REDIAL_INTERVAL_MS = 500

/** Re-dial backoff factor. */
export const REDIAL_BACKOFF_FACTOR = 2

/** Access-control lists and the subnet firewall, in the home; the listener reloads it when it changes. */
export const ACL_FILE = 'acl.json'

/** A burst of edits to `acl.json` (editors write twice) is reloaded once, after this quiet time. */
export const ACL_RELOAD_DEBOUNCE_MS = 100

/** The outbox (durable queue and the receiver's delivery log) in the home: SQLite, WAL. */
export const OUTBOX_DB_FILE = 'outbox.db'

/** The control socket in the home through which `subwire send`/`message`/`queue` reach a running listener (owner-only). */
export const CONTROL_SOCKET_FILE = 'control.sock'

/** Default UDP port of the WebTransport listener (Deno only): its own QUIC stack, so not the QUIC port. */
export const DEFAULT_WEBTRANSPORT_PORT = 4703

/** The WebTransport listen address added by `subwire listen --webtransport`. */
export const DEFAULT_WEBTRANSPORT_LISTEN = `/ip4/0.0.0.0/udp/${DEFAULT_WEBTRANSPORT_PORT}/quic-v1/webtransport`

/** WebTransport certificates (and keys) in the home, owner-only: stable certhashes across restarts. */
export const WEBTRANSPORT_CERTS_FILE = 'webtransport-certs.json'

/** Validity of one WebTransport certificate: browsers refuse `serverCertificateHashes` certificates valid for 14 days or more. */
export const CERT_VALIDITY_MS = 12 * 24 * 3600_000

/** A new WebTransport certificate starts this often; its hash is announced one period ahead. */
export const CERT_ROTATE_MS = 6 * 24 * 3600_000

/** Certificates start this much before they are needed, for peers whose clocks are behind. */
export const CERT_CLOCK_SKEW_MS = 3600_000

/** The path and query a libp2p WebTransport dialer asks for (libp2p WebTransport spec). */
export const WEBTRANSPORT_PATH = '/.well-known/libp2p-webtransport'

/**
 * Incoming bidirectional streams a WebTransport session may have open at once. Deno's
 * default (100) is what a libp2p connection with many short streams runs into.
 */
export const WEBTRANSPORT_MAX_STREAMS = 1024

/** Time for a new WebTransport session to finish HTTP/3 and Noise before it is dropped. */
export const WEBTRANSPORT_HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * Kernel send and receive buffer asked for on the WebTransport listener's UDP socket
 * (8 MiB, as quic-go asks for): Linux's 208 KiB default drops datagrams of a fast upload.
 */
export const WEBTRANSPORT_UDP_BUFFER_BYTES = 8 * 1024 * 1024

/** How often a running peer deletes partial transfers older than their maximum age. */
export const PARTIAL_COLLECT_INTERVAL_MS = 3600_000

/** Directory in the home where the chunk hashes of sent files are kept between sends. */
export const OUTBOARD_DIR = 'outboard'

/**
 * Bytes asked of @chainsafe/libp2p-quic's native stream per read. The package asks 4 KiB
 * (`CHUNK_SIZE` in its `dist/src/stream.js`), which leaves the receiver CPU-bound at
 * ~50 MB/s; 256 KiB reads measured ~2.5x faster (the repository's patches/ file applies the same value).
 */
export const QUIC_READ_BYTES = 256 * 1024
