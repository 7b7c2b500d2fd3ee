import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

describe('public API', () => {
  it('exports exactly the documented names (update this list on purpose)', async () => {
    const names = Object.keys(await import('@subwire/shared')).sort()
    assert.deepEqual(names, [
      'ATTESTATION_DOMAIN', 'ATTESTATION_NONCE_BYTES', 'ATTESTATION_RENEW_FRACTION', 'ATTESTATION_VERSION', 'AUTH_PROTOCOL',
      'AbortError', 'AttestationExpiredError', 'AttestationFromFutureError', 'BITTENSOR_SS58_PREFIX', 'BLAKE3_BYTES', 'CONNECTION_MONITOR',
      'ChunkHashMismatchError', 'ConnectionClosedError', 'DEFAULT_ATTESTATION_LIFETIME_MS', 'DEFAULT_HANDSHAKE_TIMEOUT_MS',
      'DEFAULT_MAX_CLOCK_SKEW_MS', 'DEFAULT_MAX_CONCURRENT_REQUESTS', 'DEFAULT_MAX_FRAME_BYTES', 'DEFAULT_MIN_FREE_BYTES',
      'DEFAULT_REQUEST_TIMEOUT_MS', 'FILE_CHUNK_SIZE', 'FILE_WINDOW_CHUNKS', 'FRAME_HEADER_BYTES', 'FileHashMismatchError',
      'FileRefusedError', 'FileTooLargeError', 'FilesNotEnabledError', 'FrameDecoder', 'FrameKind', 'FrameTooLargeError',
      'FramedStream', 'HandshakeFailedError', 'HandshakeTimeoutError', 'HotkeyLoadError', 'InsufficientDiskSpaceError',
      'InvalidAttestationError', 'InvalidConfigError', 'InvalidDestinationError', 'InvalidFrameError', 'InvalidManifestError',
      'InvalidSignatureError', 'InvalidSs58Error', 'MAX_ANNOUNCED_ADDRS', 'MAX_ATTESTATION_LIFETIME_MS', 'MAX_FILE_CHUNKS',
      'MAX_FILE_CHUNK_SIZE', 'MAX_FILE_NAME_BYTES', 'MAX_HANDSHAKE_FRAME_BYTES', 'MAX_NETUID', 'MAX_TYPE_LENGTH',
      'MIN_FILE_CHUNK_SIZE', 'MemoryAddressBook', 'NotAuthenticatedError', 'NotStartedError', 'PROTOCOL_VERSION',
      'PeerIdMismatchError', 'PeerUnreachableError', 'RemoteHandlerError', 'ReplyKindError', 'RequestTimeoutError', 'RpcClient',
      'RpcServer', 'SENDER_STALL_MS', 'STREAM_REPLY_WINDOW', 'SecretKey', 'SignatureRejectedError', 'SubwirePeer', 'WalletAccountNotFoundError', 'WalletUnavailableError', 'SourceChangedError', 'SubnetNotServedError', 'Subwire', 'SubwireError',
      'TooManyRequestsError', 'TransferCancelledError', 'TruncatedFrameError', 'UnexpectedPeerError', 'UnknownDestinationError',
      'UnknownRpcTypeError', 'WRITE_HIGH_WATER_MARK', 'WebTransportProtocolError', 'WebTransportUnavailableError', 'WrongSs58PrefixError', 'asRecord', 'blake3', 'bytesField', 'bytesToHex',
      'callbackSigner', 'chunkCount', 'chunkLength', 'createAttestation', 'createManifest', 'createSubwire', 'decodeAttestation',
      'decodeSs58', 'decodeValue', 'encodeAttestation', 'encodeFrame', 'encodeSs58', 'encodeValue', 'errorClasses',
      'errorFromWire', 'errorToWire', 'fileProtocol', 'fileRoot', 'initiateHandshake', 'isSs58', 'isSs58Prefix', 'keypairSigner',
      'manifestFromWire', 'manifestToWire', 'mergeAddrs', 'msgProtocol', 'receiveFileOverStream', 'refuseChannel',
      'respondHandshake', 'rpcProtocol', 'sanitizeFileName', 'seedSigner', 'sendFileOverStream', 'stringField', 'throwIfAborted',
      'toError', 'transferKey', 'uintField', 'uriSigner', 'verifyAttestation', 'verifyChunksOnDisk', 'verifyHotkeySignature',
      'wrapBytes',
      // security (issue 5)
      'AccessControl', 'AccessDeniedError', 'DecryptionFailedError', 'E2E_DOMAIN', 'E2E_TAG_BYTES', 'E2ePurpose', 'EncryptionKeyring', 'EncryptionRequiredError', 'EncryptionUnavailableError', 'RateLimitedError', 'StaticSubnetMembership', 'StreamCipher', 'SubnetFirewallError', 'X25519_BYTES', 'aclConnectionGater', 'defaultE2eBackend', 'deriveStreamCipher', 'e2eInfo', 'envelopeFromWire', 'fileDataCipher', 'ipOfMultiaddr', 'nobleBackend', 'openEnvelope', 'parseAclEntry', 'parseIp', 'replyCipher', 'sealEnvelope', 'validateAclRules', 'webCryptoBackend',
      // durable outbox (issue 6)
      'DEFAULT_QUEUE_BACKOFF_BASE_MS', 'DEFAULT_QUEUE_BACKOFF_CAP_MS', 'DEFAULT_QUEUE_CONCURRENCY', 'DEFAULT_QUEUE_EXPIRY_MS', 'DEFAULT_QUEUE_MAX_ATTEMPTS',
      'DELIVERY_LOG_RETENTION_MS', 'MAX_QUEUED_MESSAGE_BYTES', 'QUEUE_LEASE_TTL_MS', 'DeadLetterError', 'MaxAttemptsError', 'MemoryDeliveryLog', 'MemoryQueueStore',
      'Outbox', 'QueueCorruptError', 'QueueExpiredError', 'QueueItemExistsError', 'QueueItemNotFoundError', 'QueueNotEnabledError', 'backoffDelay',
      'SignatureCache', 'createOutboxCipher', 'deliveryKey', 'systemClock', 'validateBackoff', 'verifyingSource',
      // integrity (issue 15)
      'DiskReservations', 'PartialFileCorruptedError',
      // errors by domain (issue 16)
      'isRemoteError', 'markRemote', 'walkCause'
    ].sort())
  })
})
