import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

describe('public API', () => {
  it('exports exactly the documented names (update this list on purpose)', async () => {
    const names = Object.keys(await import('@subwire/shared')).sort()
    assert.deepEqual(names, [
      'ATTESTATION_DOMAIN', 'ATTESTATION_NONCE_BYTES', 'ATTESTATION_RENEW_FRACTION', 'ATTESTATION_VERSION', 'AUTH_PROTOCOL',
      'AbortError', 'AttestationExpiredError', 'AttestationFromFutureError', 'BITTENSOR_SS58_PREFIX', 'ConnectionClosedError',
      'DEFAULT_ATTESTATION_LIFETIME_MS', 'DEFAULT_HANDSHAKE_TIMEOUT_MS', 'DEFAULT_MAX_CLOCK_SKEW_MS', 'DEFAULT_MAX_CONCURRENT_REQUESTS',
      'DEFAULT_MAX_FRAME_BYTES', 'DEFAULT_REQUEST_TIMEOUT_MS', 'FRAME_HEADER_BYTES', 'FrameDecoder', 'FrameKind', 'FrameTooLargeError',
      'FramedStream', 'HandshakeFailedError', 'HandshakeTimeoutError', 'HotkeyLoadError', 'InvalidAttestationError', 'InvalidConfigError',
      'InvalidDestinationError', 'InvalidFrameError', 'InvalidSignatureError', 'InvalidSs58Error', 'MAX_ANNOUNCED_ADDRS',
      'MAX_ATTESTATION_LIFETIME_MS', 'MAX_HANDSHAKE_FRAME_BYTES', 'MAX_NETUID', 'MAX_TYPE_LENGTH', 'MemoryAddressBook', 'NotAuthenticatedError',
      'NotStartedError', 'PROTOCOL_VERSION', 'PeerIdMismatchError', 'PeerUnreachableError', 'RemoteHandlerError', 'ReplyKindError',
      'RequestTimeoutError', 'RpcClient', 'RpcServer', 'STREAM_REPLY_WINDOW', 'SecretKey', 'SubnetNotServedError', 'Subwire', 'SubwireError',
      'TooManyRequestsError', 'TruncatedFrameError', 'UnexpectedPeerError', 'UnknownDestinationError', 'UnknownRpcTypeError',
      'WRITE_HIGH_WATER_MARK', 'WrongSs58PrefixError', 'asRecord', 'bytesField', 'callbackSigner', 'createAttestation', 'createSubwire',
      'cryptoReady', 'decodeAttestation', 'decodeSs58', 'decodeValue', 'encodeAttestation', 'encodeFrame', 'encodeSs58', 'encodeValue',
      'errorClasses', 'errorFromWire', 'errorToWire', 'initiateHandshake', 'isSs58', 'keypairSigner', 'mergeAddrs', 'msgProtocol',
      'refuseChannel', 'respondHandshake', 'rpcProtocol', 'seedSigner', 'stringField', 'throwIfAborted', 'toError', 'uintField', 'uriSigner',
      'verifyAttestation', 'verifyHotkeySignature', 'wrapBytes'
    ].sort())
  })
})
