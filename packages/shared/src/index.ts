/**
 * `@subwire/shared`: the subwire protocol, isomorphic (Web APIs only, no `node:*`, no DOM).
 *
 * - Identity: the {@link Signer} interface, SS58, strict sr25519 over `u8aWrapBytes`.
 * - Attestation: a hotkey's signature binding it to a libp2p PeerId, in one canonical layout.
 * - Handshake `/subwire/auth/1.0.0`: once per connection, both sides verified.
 * - Framing: length-prefixed MessagePack with the size checked at the header.
 * - RPC `/subwire/sn/<netuid>/rpc/1.0.0` and messages `/subwire/sn/<netuid>/msg/1.0.0`,
 *   multiplexed over one long-lived stream per connection and subnet.
 * - Discovery: signed hotkey records in subwire's own Kademlia DHT (`/subwire/kad/1.0.0`),
 *   resolution by hotkey (address book, DHT, metagraph) and fan-out to a whole subnet.
 * - {@link Subwire}: the engine that runs all of it on a libp2p node.
 *
 * This entry point is the public API, chosen name by name. The protocol's machinery
 * (codecs, frame field readers, `FramedStream`, the RPC client and server, the file
 * sender and receiver, the cipher derivations) is at `@subwire/shared/protocol`; the
 * compliance suites are at `@subwire/shared/testing`.
 *
 * @example
 * ```ts
 * import { createSubwire, seedSigner } from '@subwire/shared'
 * const subwire = createSubwire({ libp2p, signer: seedSigner(seed) }, { netuids: [42] })
 * await subwire.start()
 * subwire.handle('score', async (body, { caller }) => ({ ok: true, for: caller.ss58 }))
 * const reply = await subwire.request('/ip4/127.0.0.1/udp/4701/quic-v1/p2p/12D3Koo…', 'echo', { x: 1 })
 * ```
 *
 * @packageDocumentation
 */
import { Subwire } from './subwire.ts'
import type { SubwireComponents, SubwireInit } from './types.ts'

// the engine
export { Subwire } from './subwire.ts'
export { SubwirePeer } from './peer.ts'
export type { QueuedItem } from './peer.ts'
export type {
  SubwireComponents,
  SubwireInit,
  SubwireEvents,
  SubwireMessage,
  RemotePeer,
  RequestServed,
  SendOptions,
  SubwireRequestOptions,
  MessageOptions,
  HandleOptions,
  SubwireSendFileOptions,
  SubwireSendFolderOptions,
  EncryptionInit
} from './types.ts'
export type { FloodLimits } from './auth/access.ts'
export type { AbortOptions } from './abort.ts'
export type { Caller, HandlerContext, RpcHandler, RequestOptions } from './rpc/types.ts'

// protocol ids, limits and defaults
export {
  PROTOCOL_VERSION, AUTH_PROTOCOL, BITTENSOR_SS58_PREFIX, MAX_NETUID, rpcProtocol, msgProtocol, fileProtocol,
  ATTESTATION_DOMAIN, ATTESTATION_VERSION, ATTESTATION_NONCE_BYTES, DEFAULT_ATTESTATION_LIFETIME_MS, MAX_ATTESTATION_LIFETIME_MS,
  ATTESTATION_RENEW_FRACTION, DEFAULT_MAX_CLOCK_SKEW_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_FRAME_BYTES, MAX_HANDSHAKE_FRAME_BYTES,
  FRAME_HEADER_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_CONCURRENT_HANDLERS, STREAM_REPLY_WINDOW, WRITE_HIGH_WATER_MARK,
  MAX_ANNOUNCED_ADDRS, MAX_TYPE_LENGTH, MAX_MESSAGE_ID_BYTES, FILE_CHUNK_SIZE, MIN_FILE_CHUNK_SIZE, MAX_FILE_CHUNK_SIZE, FILE_WINDOW_CHUNKS, BLAKE3_BYTES,
  MAX_FILE_CHUNKS, MAX_FILE_NAME_BYTES, MAX_FOLDER_ENTRIES, MAX_FOLDER_PATH_BYTES, MAX_FOLDER_DEPTH, CONNECTION_MONITOR, DEFAULT_QUEUE_BACKOFF_BASE_MS, DEFAULT_QUEUE_BACKOFF_CAP_MS,
  DEFAULT_QUEUE_MAX_ATTEMPTS, DEFAULT_QUEUE_EXPIRY_MS, DEFAULT_QUEUE_CONCURRENCY, DELIVERY_LOG_RETENTION_MS, QUEUE_LEASE_TTL_MS,
  MAX_QUEUED_MESSAGE_BYTES, DHT_PROTOCOL, HOTKEY_RECORD_DOMAIN, HOTKEY_RECORD_VERSION, HOTKEY_RECORD_NAMESPACE, PEER_RECORD_NAMESPACE,
  DEFAULT_HOTKEY_RECORD_LIFETIME_MS, HOTKEY_RECORD_REPUBLISH_FRACTION, MAX_RECORD_ADDRS, MAX_RECORD_ADDR_BYTES, DEFAULT_FANOUT_TIMEOUT_MS,
  DEFAULT_FANOUT_CONCURRENCY
} from './constants.ts'

// errors
export {
  SubwireError, isRemoteError, walkCause, errorClasses, errorToWire, errorFromWire, toError, isAbortError, isConnectionLost,
  OperationAbortedError, AccessDeniedError, AttestationExpiredError, AttestationFromFutureError, ChunkHashMismatchError,
  ConnectionLostError, CreditWindowExceededError, DeadLetterError, DecodeLimitError, DecryptionFailedError, EncryptionRequiredError,
  EncryptionUnavailableError, FileHashMismatchError, FileRefusedError, FileTooLargeError,
  FilesNotEnabledError, FrameTooLargeError, HandshakeFailedError, HandshakeTimeoutError, HotkeyLoadError,
  InsufficientDiskSpaceError, InvalidAttestationError, InvalidConfigError, InvalidDestinationError,
  InvalidFrameError, InvalidManifestError, InvalidSignatureError, InvalidSs58Error, ManifestRequiredError, MaxAttemptsError,
  NotAuthenticatedError, PeerNotStartedError, PartialFileCorruptedError, PeerIdMismatchError,
  PeerUnreachableError, QueueCorruptError, QueueExpiredError, QueueItemExistsError, QueueItemNotFoundError,
  QueueNotEnabledError, RateLimitedError, RemoteHandlerError, ReplyKindError, RequestTimeoutError,
  SourceChangedError, SubnetFirewallError, SubnetNotServedError, UnsafePathError, FolderLimitError, TransferInProgressError,
  TooManyRequestsError, TransferCancelledError, TruncatedFrameError, UnexpectedHotkeyError,
  UnknownDestinationError, UnknownRpcTypeError, WrongSs58PrefixError,
  InvalidHotkeyRecordError, HotkeyRecordExpiredError, StaleHotkeyRecordError, RecordPeerMismatchError, ChainUnavailableError, FanOutTimeoutError
} from './errors/index.ts'
export type { SubwireErrorOptions, WireError } from './errors/index.ts'

// identity
export { isSs58Prefix, encodeSs58, decodeSs58, isSs58 } from './identity/ss58.ts'
export type { DecodedSs58 } from './identity/ss58.ts'
export { wrapBytes, verifyHotkeySignature, SecretKey, keypairSigner, seedSigner, callbackSigner, uriSigner } from './identity/signers.ts'
export type { Signer, Sr25519Keypair } from './identity/signers.ts'
export { createAttestation, verifyAttestation } from './identity/attestation.ts'
export type { Attestation, SignedAttestation, CreateAttestationInit, VerifyAttestationOptions } from './identity/attestation.ts'

// discovery and fan-out
export { createHotkeyRecord, verifyHotkeyRecord, hotkeyRecordKey, peerRecordKey, hotkeyRecordToValue, selectHotkeyRecord, validateHotkeyRecordEntry } from './discovery/record.ts'
export type { HotkeyRecord, SignedHotkeyRecord, CreateHotkeyRecordInit, VerifyHotkeyRecordOptions } from './discovery/record.ts'
export type { RecordRouting, HotkeySource, ResolvedHotkey, ResolutionSource } from './discovery/types.ts'
export { subwireDhtInit, kadRecordRouting } from './discovery/kad.ts'
export type { KadService, IdentifyService, KadRoutingComponents } from './discovery/kad.ts'
export type { FanOutResult, FanOutSummary, FanOutOptions, FanOutFailure, SubnetFanOut } from './fanout/fanout.ts'

// access and addresses
export { AccessControl, StaticSubnetMembership, aclConnectionGater, parseAclEntry, parseIp, validateAclRules } from './auth/acl.ts'
export { UpgradeLimiter } from './auth/upgrades.ts'
export { ConnectionRate, DEFAULT_CONNECTION_BURST, DEFAULT_CONNECTIONS_PER_SECOND } from './auth/rate.ts'
export type { ConnectionRateInit } from './auth/rate.ts'
export type { UpgradeLimitsInit } from './auth/upgrades.ts'
export type { ConnectionLimitsInit } from './auth/limits.ts'
export type { AclRules, AclEntryKind, AclEntry, AclFacts, AclDecision, SubnetMembershipSource, SubnetFirewallInit } from './auth/acl.ts'
export { MemoryAddressBook } from './auth/address-book.ts'
export type { AddressBook, AddressBookEntry } from './auth/address-book.ts'

// files
export { createManifest, deriveSourceKey } from './files/manifest.ts'
export type { CreateManifestOptions } from './files/manifest.ts'
export { blake3 } from './files/hash.ts'
export { sanitizeFileName } from './files/names.ts'
export { sanitizeRelativePath } from './files/folder.ts'
export { DiskReservations } from './files/reservations.ts'
export { SENDER_STALL_MS, DEFAULT_MIN_FREE_BYTES } from './files/types.ts'
export type {
  FileManifest, FileSource, ReadOptions, ManifestCache, PartialFile, PartialProgress, FileStore, FileOffer, ReceivedFile, SendFileResult,
  TransferProgressEvent, SendFileOptions, FileSealer, FileOpener, ReceivePolicy,
  FolderEntry, FolderManifest, FolderStaging, FolderSource, FolderSourceEntry, FolderProgressEvent, SendFolderOptions, SendFolderResult, ReceivedFolder
} from './files/types.ts'

// encryption: the bodies of the primitives (injectable)
export { webCryptoBackend, nobleBackend, defaultE2eBackend } from './encryption/backends.ts'
export type { E2eBackend, X25519KeyPair, X25519PrivateKey, Aead } from './encryption/backends.ts'

// the durable outbox
export { Outbox } from './outbox/outbox.ts'
export type {
  OutboxTransport, FileReferencer, OutboxComponents, OutboxInit, QueueOptions, QueueMessageOptions, QueueFileOptions,
  OutboxView, OutboxEvents, OutboxDelivered
} from './outbox/types.ts'
export { MemoryQueueStore, MemoryDeliveryLog } from './outbox/store.ts'
export type { OutboxKind, OutboxState, OutboxEntry, OutboxRecord, OutboxPatch, OutboxFilter, DeliveryLog, QueueStore } from './outbox/store.ts'
export { systemClock } from './outbox/backoff.ts'
export type { BackoffInit, QueueClock } from './outbox/backoff.ts'
export { createOutboxCipher } from './outbox/cipher.ts'
export type { OutboxCipher } from './outbox/cipher.ts'

/** Creates the protocol engine on a libp2p node. Call `start()` after libp2p has started. */
export function createSubwire (components: SubwireComponents, init: SubwireInit): Subwire {
  return new Subwire(components, init)
}
