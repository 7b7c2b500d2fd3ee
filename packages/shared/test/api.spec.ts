import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

/*
 * The public API, name by name (update these lists on purpose).
 *
 * Issue 16 chose the root export instead of re-exporting every module (`export *`). It
 * removed from `@subwire/shared`, and moved to `@subwire/shared/protocol` (the protocol's
 * machinery, for the peers, tools and tests that speak the wire):
 * - the codec and the frame field readers: encodeValue, decodeValue, encodeFrame,
 *   FrameDecoder, asRecord, uintField, stringField, bytesField; FramedStream;
 * - RPC internals: RpcClient, RpcServer, FrameKind, refuseChannel; the handshake frames:
 *   initiateHandshake, respondHandshake; the attestation layout: encodeAttestation,
 *   decodeAttestation, SignatureCache;
 * - file-protocol internals: sendFileOverStream, receiveFileOverStream, chunkCount,
 *   chunkLength, fileRoot, manifestToWire, manifestFromWire, transferKey,
 *   verifyChunksOnDisk, bytesToHex;
 * - the cipher derivations: e2eInfo, deriveStreamCipher, StreamCipher, sealEnvelope,
 *   openEnvelope, envelopeFromWire, replyCipher, fileDataCipher, EncryptionKeyring,
 *   E2ePurpose, E2E_DOMAIN, E2E_TAG_BYTES, X25519_BYTES;
 * - helpers: mergeAddrs, ipOfMultiaddr, throwIfAborted, verifyingSource, deliveryKey,
 *   backoffDelay, validateBackoff.
 * It added isRemoteError and walkCause (errors told apart by origin; the cause walk).
 *
 * Issue 17 (discovery by hotkey, fan-out) added to `@subwire/shared`: the hotkey record
 * (createHotkeyRecord, verifyHotkeyRecord, hotkeyRecordKey, peerRecordKey,
 * hotkeyRecordToValue, selectHotkeyRecord, validateHotkeyRecordEntry), the kad-dht bridge
 * (subwireDhtInit, kadRecordRouting), their constants and six errors; and to
 * `@subwire/shared/protocol`: the record layout (encodeHotkeyRecord, decodeHotkeyRecord,
 * hotkeyRecordFromValue, providerCid) and the parts (Discovery, FanOut, classifyFailure, quantile).
 *
 * Issue 24 (folders as one transfer) added to `@subwire/shared`: sanitizeRelativePath, the
 * folder limits (MAX_FOLDER_ENTRIES, MAX_FOLDER_PATH_BYTES, MAX_FOLDER_DEPTH), UnsafePathError
 * and FolderLimitError; and to `@subwire/shared/protocol`: the folder codec (folderToWire,
 * folderFromWire, folderRoot, folderKey, safeFolderPaths) and parts (FolderSender,
 * FolderReceiver, FolderRegistry).
 */
// Renamed on purpose (issue 16), so that no error name collides with @libp2p/interface's:
// AbortError -> OperationAbortedError, ConnectionClosedError -> ConnectionLostError,
// NotStartedError -> PeerNotStartedError, UnexpectedPeerError -> UnexpectedHotkeyError (the
// wire keeps the old names, WIRE_NAMES in @subwire/shared/protocol); added isAbortError and
// isConnectionLost, which also accept the DOM's/libp2p's errors of the old names.
// Moved out on purpose (issue 16): the wallet errors (WalletUnavailableError,
// WalletAccountNotFoundError, SignatureRejectedError) to @subwire/peer-web and the
// WebTransport listener's (WebTransportUnavailableError, WebTransportProtocolError) to
// @subwire/peer-node: they never cross the wire.
describe('public API', () => {
  it('exports exactly the documented names from @subwire/shared (update this list on purpose)', async () => {
    const names = Object.keys(await import('@subwire/shared')).sort()
    assert.deepEqual(names, [
      'ATTESTATION_DOMAIN', 'ATTESTATION_NONCE_BYTES', 'ATTESTATION_RENEW_FRACTION', 'ATTESTATION_VERSION',
      'AUTH_PROTOCOL', 'AccessControl', 'AccessDeniedError', 'AttestationExpiredError',
      'AttestationFromFutureError', 'BITTENSOR_SS58_PREFIX', 'BLAKE3_BYTES', 'CONNECTION_MONITOR', 'ConnectionRate',
      'ChunkHashMismatchError', 'ConnectionLostError', 'CreditWindowExceededError', 'DEFAULT_ATTESTATION_LIFETIME_MS', 'DEFAULT_CONNECTIONS_PER_SECOND', 'DEFAULT_CONNECTION_BURST',
      'DEFAULT_HANDSHAKE_TIMEOUT_MS', 'DEFAULT_MAX_CLOCK_SKEW_MS', 'DEFAULT_MAX_CONCURRENT_HANDLERS', 'DEFAULT_MAX_CONCURRENT_REQUESTS',
      'DEFAULT_MAX_FRAME_BYTES', 'DEFAULT_MIN_FREE_BYTES', 'DEFAULT_QUEUE_BACKOFF_BASE_MS',
      'DEFAULT_QUEUE_BACKOFF_CAP_MS', 'DEFAULT_QUEUE_CONCURRENCY', 'DEFAULT_QUEUE_EXPIRY_MS',
      'DEFAULT_QUEUE_MAX_ATTEMPTS', 'DEFAULT_REQUEST_TIMEOUT_MS', 'DELIVERY_LOG_RETENTION_MS', 'DeadLetterError',
      'DecodeLimitError', 'DecryptionFailedError', 'DiskReservations', 'EncryptionRequiredError', 'EncryptionUnavailableError',
      'FILE_CHUNK_SIZE', 'FILE_WINDOW_CHUNKS', 'FRAME_HEADER_BYTES', 'FileHashMismatchError', 'FileRefusedError',
      'FileTooLargeError', 'FilesNotEnabledError', 'FolderLimitError', 'FrameTooLargeError', 'HandshakeFailedError',
      'HandshakeTimeoutError', 'HotkeyLoadError', 'InsufficientDiskSpaceError', 'InvalidAttestationError',
      'InvalidConfigError', 'InvalidDestinationError', 'InvalidFrameError', 'InvalidManifestError',
      'InvalidSignatureError', 'InvalidSs58Error', 'ManifestRequiredError', 'MAX_ANNOUNCED_ADDRS', 'MAX_ATTESTATION_LIFETIME_MS',
      'MAX_FILE_CHUNKS', 'MAX_FILE_CHUNK_SIZE', 'MAX_FILE_NAME_BYTES', 'MAX_FOLDER_DEPTH', 'MAX_FOLDER_ENTRIES', 'MAX_FOLDER_PATH_BYTES', 'MAX_HANDSHAKE_FRAME_BYTES', 'MAX_NETUID',
      'MAX_QUEUED_MESSAGE_BYTES', 'MAX_MESSAGE_ID_BYTES', 'MAX_TYPE_LENGTH', 'MIN_FILE_CHUNK_SIZE', 'MaxAttemptsError', 'MemoryAddressBook',
      'MemoryDeliveryLog', 'MemoryQueueStore', 'NotAuthenticatedError', 'OperationAbortedError', 'Outbox', 'PROTOCOL_VERSION',
      'PartialFileCorruptedError', 'PeerIdMismatchError', 'PeerNotStartedError', 'PeerUnreachableError', 'QUEUE_LEASE_TTL_MS',
      'QueueCorruptError', 'QueueExpiredError', 'QueueItemExistsError', 'QueueItemNotFoundError',
      'QueueNotEnabledError', 'RateLimitedError', 'RemoteHandlerError', 'ReplyKindError', 'RequestTimeoutError',
      'SENDER_STALL_MS', 'STREAM_REPLY_WINDOW', 'SecretKey', 'SourceChangedError',
      'StaticSubnetMembership', 'SubnetFirewallError', 'SubnetNotServedError', 'Subwire', 'SubwireError', 'SubwirePeer',
      'TooManyRequestsError', 'TransferCancelledError', 'TransferInProgressError', 'TruncatedFrameError', 'UnexpectedHotkeyError',
      'UnknownDestinationError', 'UnknownRpcTypeError', 'UnsafePathError', 'UpgradeLimiter', 'WRITE_HIGH_WATER_MARK',
      'WrongSs58PrefixError',
      'aclConnectionGater', 'blake3', 'callbackSigner', 'createAttestation', 'createManifest', 'createOutboxCipher', 'deriveSourceKey',
      'createSubwire', 'decodeSs58', 'defaultE2eBackend', 'encodeSs58', 'errorClasses', 'errorFromWire', 'errorToWire',
      'fileProtocol', 'isAbortError', 'isConnectionLost', 'isRemoteError', 'isSs58', 'isSs58Prefix', 'keypairSigner', 'msgProtocol', 'nobleBackend',
      'parseAclEntry', 'parseIp', 'rpcProtocol', 'sanitizeFileName', 'sanitizeRelativePath', 'seedSigner', 'systemClock', 'toError',
      'uriSigner', 'validateAclRules', 'verifyAttestation', 'verifyHotkeySignature', 'walkCause', 'webCryptoBackend',
      'wrapBytes',
      // issue 17
      'ChainUnavailableError', 'DEFAULT_FANOUT_CONCURRENCY', 'DEFAULT_FANOUT_TIMEOUT_MS', 'DEFAULT_HOTKEY_RECORD_LIFETIME_MS',
      'DHT_PROTOCOL', 'FanOutTimeoutError', 'HOTKEY_RECORD_DOMAIN', 'HOTKEY_RECORD_NAMESPACE', 'HOTKEY_RECORD_REPUBLISH_FRACTION',
      'HOTKEY_RECORD_VERSION', 'HotkeyRecordExpiredError', 'InvalidHotkeyRecordError', 'MAX_RECORD_ADDRS', 'MAX_RECORD_ADDR_BYTES',
      'PEER_RECORD_NAMESPACE', 'RecordPeerMismatchError', 'StaleHotkeyRecordError', 'createHotkeyRecord', 'hotkeyRecordKey',
      'hotkeyRecordToValue', 'kadRecordRouting', 'peerRecordKey', 'selectHotkeyRecord', 'subwireDhtInit',
      'validateHotkeyRecordEntry', 'verifyHotkeyRecord'
    ].sort())
  })

  it('exports exactly the documented names from @subwire/shared/protocol (update this list on purpose)', async () => {
    const names = Object.keys(await import('@subwire/shared/protocol')).sort()
    assert.deepEqual(names, [
      'E2E_DOMAIN', 'E2E_TAG_BYTES', 'E2ePurpose', 'EncryptionKeyring', 'FileReceiver', 'FileSender', 'FolderReceiver', 'FolderRegistry', 'FolderSender', 'FrameDecoder',
      'FrameKind', 'FramedStream', 'RpcClient', 'RpcServer', 'SignatureCache', 'StreamCipher', 'X25519_BYTES',
      'asRecord', 'backoffDelay', 'bytesField', 'bytesToHex', 'chunkCount', 'chunkLength', 'contentKey', 'decodeAttestation',
      'decodeValue', 'deliveryKey', 'deriveStreamCipher', 'e2eInfo', 'encodeAttestation', 'encodeFrame', 'encodeValue',
      'envelopeFromWire', 'fileDataCipher', 'fileRoot', 'folderFromWire', 'folderKey', 'folderRoot', 'folderToWire', 'initiateHandshake', 'ipOfMultiaddr', 'manifestFromWire',
      'manifestToWire', 'markRemote', 'mergeAddrs', 'openEnvelope', 'parseDestination', 'receiveFileOverStream',
      'refuseChannel', 'replyCipher', 'respondHandshake', 'safeFolderPaths', 'sealEnvelope', 'sendFileOverStream', 'stringField',
      'throwIfAborted', 'transferKey', 'uintField', 'validateBackoff', 'verifyChunksOnDisk', 'verifyingSource',
      // bulk speed (issue 19): one BLAKE3 backend per process, native on Node
      'blake3BackendName', 'releaseHasher', 'takeHasher', 'useBlake3', 'wasmBlake3',
      // issue 17
      'Discovery', 'FanOut', 'classifyFailure', 'decodeHotkeyRecord', 'encodeHotkeyRecord', 'hotkeyRecordFromValue',
      'providerCid', 'quantile',
      // issue 16: the old wire names of the four renamed errors
      'WIRE_NAMES',
      // issue 20: the outbox's at-rest decoder, a fuzz target
      'readPayload',
      // the per-source key of the IP bounds, shared with the Node peer's WebSockets guard
      'sourceOfAddr'
    ].sort())
  })
})
