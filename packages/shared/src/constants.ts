/**
 * Protocol ids, limits and timeouts. Each value says why it is what it is.
 *
 * @packageDocumentation
 */

/** Version of the subwire wire protocol; bumped on any incompatible change. */
export const PROTOCOL_VERSION = 1

/** The handshake protocol, run once per connection before anything else. */
export const AUTH_PROTOCOL = '/subwire/auth/1.0.0'

/** Bittensor's SS58 network prefix; the default everywhere an SS58 is encoded or checked. */
export const BITTENSOR_SS58_PREFIX = 42

/** Highest netuid: subnet ids are u16 on chain. */
export const MAX_NETUID = 65535

/** RPC protocol id of a subnet. One long-lived stream per connection and subnet carries every request. */
export function rpcProtocol (netuid: number): string {
  return `/subwire/sn/${netuid}/rpc/1.0.0`
}

/** Control-message protocol id of a subnet. */
export function msgProtocol (netuid: number): string {
  return `/subwire/sn/${netuid}/msg/1.0.0`
}

/** Domain tag at the start of every attestation: its signature can never be mistaken for another message's. */
export const ATTESTATION_DOMAIN = 'SUBWIRE-ATTESTATION'

/** Version byte inside the attestation; changes with the attestation layout. */
export const ATTESTATION_VERSION = 1

/** Random bytes in each attestation so two attestations never sign the same bytes. */
export const ATTESTATION_NONCE_BYTES = 16

/** Default lifetime of an attestation: a day, so a wallet user signs once per session. */
export const DEFAULT_ATTESTATION_LIFETIME_MS = 24 * 60 * 60 * 1000

/** Longest lifetime a verifier accepts: a leaked attestation is useless after a week. */
export const MAX_ATTESTATION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000

/** Re-sign our attestation when less than this fraction of its lifetime is left. */
export const ATTESTATION_RENEW_FRACTION = 0.1

/** Clock difference tolerated between peers when checking issued-at. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 30_000

/** A connection that has not completed the handshake by then is closed. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000

/**
 * Largest frame accepted, checked at the header before any body byte is buffered.
 * 16 MiB fits a 1 MiB RPC body with room; larger payloads belong to file transfer.
 */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

/** Largest handshake frame: an attestation plus a few addresses is well under 8 KiB. */
export const MAX_HANDSHAKE_FRAME_BYTES = 8 * 1024

/**
 * Most items (scalars, strings, keys, arrays, maps) one MessagePack value may hold, checked
 * before decoding: a frame of a million one-byte maps costs tens of MiB to decode however
 * few bytes it has. A 16 MiB frame of floats has ~1.8 M; send such payloads as binary.
 */
export const MAX_DECODE_ITEMS = 1024 * 1024

/** Deepest nesting of arrays and maps decoded: the encoder's own limit, so whatever we send decodes. */
export const MAX_DECODE_DEPTH = 512

/** Size of the frame length header (u32 big-endian). */
export const FRAME_HEADER_BYTES = 4

/** Default time a request waits for its reply. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/**
 * Longest timer a JavaScript runtime keeps (2^31 - 1 ms, about 24.8 days): a longer request
 * timeout (`to` may be any u64) is waited for this long at most, never fired at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** Concurrent requests one connection may have in flight at the server; clients queue beyond what the server announces. */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 1024

/** Handlers running at once on a peer, every caller together; beyond, callers take turns (`maxConcurrentHandlers`). */
export const DEFAULT_MAX_CONCURRENT_HANDLERS = 256

/** Streamed-reply chunks the server may send ahead of the client's reading (credit window). */
export const STREAM_REPLY_WINDOW = 16

/** Bytes queued for writing on a stream above which producers wait for a drain. */
export const WRITE_HIGH_WATER_MARK = 1024 * 1024

/** Most addresses a peer may announce in its handshake; more are ignored. */
export const MAX_ANNOUNCED_ADDRS = 16

/** Longest RPC type or message action name, and longest error name, in UTF-8 bytes (checked the same on both sides). */
export const MAX_TYPE_LENGTH = 256

/**
 * Longest message id (UTF-8 bytes): ids are kept in the receiver's delivery log for days,
 * so a sender must not be able to make each entry megabytes (a UUID is 36).
 */
export const MAX_MESSAGE_ID_BYTES = 128

/** Longest error message on the wire, in UTF-8 bytes: a sender cuts a longer one (ending it with "…"). */
export const MAX_ERROR_MESSAGE_BYTES = 64 * 1024

/** File transfer protocol id of a subnet; one stream per transfer. */
export function fileProtocol (netuid: number): string {
  return `/subwire/sn/${netuid}/file/1.0.0`
}

/** Chunk size of file transfers: large enough to amortise per-frame cost, small enough to verify and resend cheaply. */
export const FILE_CHUNK_SIZE = 1024 * 1024

/** Smallest and largest chunk size a receiver accepts. */
export const MIN_FILE_CHUNK_SIZE = 64 * 1024
/** Largest chunk size a receiver accepts. */
export const MAX_FILE_CHUNK_SIZE = 4 * 1024 * 1024

/** Chunks the receiver lets the sender have in flight: bounds both sides' memory to a few MiB. */
export const FILE_WINDOW_CHUNKS = 8

/** Files from this size on may leave over a connection of their own (`SubwireInit.bulk`): below it, a second handshake is not worth its milliseconds. */
export const BULK_MIN_BYTES = 64 * 1024 * 1024

/**
 * Requests from this body size on take the bulk connection too: on this kind of machine a
 * 1 MiB echo ran 1.4-1.8x and a 256 KiB one 1.3-2.0x faster over TCP than over the QUIC
 * binding, 100 KiB about the same
 * (docs/PERFORMANCE.md, "Large requests over TCP").
 */
export const BULK_MIN_REQUEST_BYTES = 256 * 1024

/** Size of a BLAKE3 digest. */
export const BLAKE3_BYTES = 32

/** Most chunks in one manifest: the chunk-hash list must fit one frame (16 MiB / 32 B), i.e. 512 GiB at 1 MiB chunks. */
export const MAX_FILE_CHUNKS = 512 * 1024

/**
 * Largest sealed manifest (`c` of an encrypted offer): the longest chunk-hash list (16 MiB)
 * plus 64 KiB for the other fields (a 4096-character name is at most 12 KiB of UTF-8) and
 * the tag. The file stream's frame limit (16 MiB + 64 KiB) bounds it on the wire as well.
 */
export const MAX_SEALED_MANIFEST_BYTES = MAX_FILE_CHUNKS * BLAKE3_BYTES + 64 * 1024

/** Largest file name kept, in UTF-8 bytes (common file systems allow 255). */
export const MAX_FILE_NAME_BYTES = 200

/** Most files in one folder transfer: its manifest (path, size, root per file) must fit one file-stream frame. */
export const MAX_FOLDER_ENTRIES = 10_000

/** Longest relative path of a folder entry, in UTF-8 bytes (10,000 of them still fit one frame). */
export const MAX_FOLDER_PATH_BYTES = 1024

/** Deepest nesting of a folder entry (path components): deeper trees are refused rather than half-created. */
export const MAX_FOLDER_DEPTH = 32

/**
 * libp2p's connection monitor, as both peers configure it: ping every 10 s for the RTT,
 * but never abort a connection because one ping was slow. Under a saturating file transfer
 * (WebRTC-Direct in particular, where each ping opens a data channel) a ping can miss its
 * adaptive deadline and libp2p would kill the very connection carrying the file. Dead
 * peers are still found: by the transport, by request timeouts and by the file sender's
 * stall timer.
 */
export const CONNECTION_MONITOR = { pingInterval: 10_000, abortConnectionOnPingFailure: false } as const

/** First retry delay of the outbox: a peer that restarts is usually back within seconds. */
export const DEFAULT_QUEUE_BACKOFF_BASE_MS = 1_000
/** Longest delay between two attempts: an offline peer is still tried every few minutes. */
export const DEFAULT_QUEUE_BACKOFF_CAP_MS = 5 * 60_000
/** Attempts before an item is dead-lettered (with the 5 min cap, about three days of trying). */
export const DEFAULT_QUEUE_MAX_ATTEMPTS = 1_000
/** How long an item may wait in the outbox before it is dead-lettered. */
export const DEFAULT_QUEUE_EXPIRY_MS = 72 * 60 * 60_000
/** Destinations delivered to at once by one outbox worker. */
export const DEFAULT_QUEUE_CONCURRENCY = 8
/** How long the receiver remembers a delivered message or transfer id: longer than any sender keeps retrying. */
export const DELIVERY_LOG_RETENTION_MS = 7 * 24 * 60 * 60_000
/** Lifetime of the outbox worker lease; a killed worker's lease lapses after this, so another can take over. */
export const QUEUE_LEASE_TTL_MS = 15_000
/** Longest queued message (its MessagePack payload), checked when it is queued. */
export const MAX_QUEUED_MESSAGE_BYTES = 16 * 1024 * 1024 - 64 * 1024

/** The Kademlia protocol id of subwire's own DHT: never the public IPFS DHT (`/ipfs/kad/1.0.0`). */
export const DHT_PROTOCOL = '/subwire/kad/1.0.0'
/**
 * Peers a DHT query asks at once, per path. kad-dht's default is 10 (with 10 disjoint
 * paths: up to 100 requests per lookup, so in a subnet of a few hundred peers every
 * lookup asked nearly everyone, each answer costing an sr25519 verification); records are
 * signed, so a lookup needs few paths to be right. Measured in bench/discovery.ts.
 */
export const DHT_ALPHA = 3
/** Disjoint paths of a DHT query (kad-dht's default: alpha, i.e. 10); S/Kademlia's resilience with a small d. */
export const DHT_DISJOINT_PATHS = 3
/**
 * Kademlia's k: the peers a record is stored at, the size of a routing-table bucket, and
 * how many closest peers a query must have asked before it ends. kad-dht's 20 is for the
 * public IPFS network's churn; in a subnet of 50 peers it made every query and every put
 * reach 20-25 of them, a new connection (and subwire handshake) each. Records are signed
 * and expire, so one valid copy answers a lookup: 8 copies are plenty. Measured in
 * bench/discovery.ts.
 */
export const DHT_K = 8
/** Domain tag at the start of every hotkey record's signed bytes (distinct from the attestation's). */
export const HOTKEY_RECORD_DOMAIN = 'SUBWIRE-HOTKEY-RECORD'
/** Version byte inside the hotkey record; changes with its layout. */
export const HOTKEY_RECORD_VERSION = 1
/** DHT key namespace of hotkey records: `/subwire-hk/<ss58>`. */
export const HOTKEY_RECORD_NAMESPACE = 'subwire-hk'
/** DHT key namespace of the same records looked up by PeerId: `/subwire-pid/<peerId>` (lists a subnet's members by hotkey). */
export const PEER_RECORD_NAMESPACE = 'subwire-pid'
/** Default lifetime of a hotkey record: an hour, so a dead peer's address ages out soon. */
export const DEFAULT_HOTKEY_RECORD_LIFETIME_MS = 60 * 60 * 1000
/** Republish when this fraction of the record's lifetime has passed (well before expiry). */
export const HOTKEY_RECORD_REPUBLISH_FRACTION = 0.5
/** Most multiaddrs in one hotkey record (a peer with QUIC, TCP, WebRTC-Direct, WS and WebTransport on v4 and v6 has ~10). */
export const MAX_RECORD_ADDRS = 32
/** Longest multiaddr in a record, in UTF-8 bytes (a WebTransport address with two certhashes is ~200). */
export const MAX_RECORD_ADDR_BYTES = 1024
/** Default deadline of one fan-out: a slow or dead member is reported, never waited for past it. */
export const DEFAULT_FANOUT_TIMEOUT_MS = 5_000
/** Default members dialled at once by a fan-out. */
export const DEFAULT_FANOUT_CONCURRENCY = 32
