/**
 * Error classes of the subwire protocol.
 *
 * Every condition has one class with a static `name` (checked by `.name`, never by
 * `instanceof`, so errors survive bundling, realms and the wire) and a stable `code`.
 * Errors that cross the wire travel as `{ name, message }` and are rebuilt on the
 * other side by {@link errorFromWire}.
 *
 * @packageDocumentation
 */

/** Options accepted by every subwire error constructor. */
export interface SubwireErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown
}

/**
 * Base class of every subwire error. Subclasses only declare `static name` and
 * `static code`; the instance `name` and `code` are taken from the class.
 */
export class SubwireError extends Error {
  /** Stable class name, also the instance `name`. */
  static override name = 'SubwireError'
  /** Stable machine-readable code. */
  static code = 'ERR_SUBWIRE'
  /** Stable machine-readable code of this error. */
  readonly code: string

  constructor (message?: string, options: SubwireErrorOptions = {}) {
    const ctor = new.target as unknown as { name: string, code: string, defaultMessage?: string }
    super(message ?? ctor.defaultMessage ?? ctor.name, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = ctor.name
    this.code = ctor.code
  }
}

/** A frame could not be decoded (bad MessagePack, wrong shape or field type). */
export class InvalidFrameError extends SubwireError {
  static override name = 'InvalidFrameError'
  static override code = 'ERR_INVALID_FRAME'
  static defaultMessage = 'Malformed frame'
}

/** A frame header declared a length above the configured maximum. */
export class FrameTooLargeError extends SubwireError {
  static override name = 'FrameTooLargeError'
  static override code = 'ERR_FRAME_TOO_LARGE'
  static defaultMessage = 'Frame exceeds the maximum frame size'
}

/** The stream ended in the middle of a frame. */
export class TruncatedFrameError extends SubwireError {
  static override name = 'TruncatedFrameError'
  static override code = 'ERR_TRUNCATED_FRAME'
  static defaultMessage = 'Stream ended in the middle of a frame'
}

/** A string is not a valid SS58 address (bad base58, length or checksum). */
export class InvalidSs58Error extends SubwireError {
  static override name = 'InvalidSs58Error'
  static override code = 'ERR_INVALID_SS58'
  static defaultMessage = 'Invalid SS58 address'
}

/** An SS58 address uses a network prefix other than the expected one. */
export class WrongSs58PrefixError extends SubwireError {
  static override name = 'WrongSs58PrefixError'
  static override code = 'ERR_WRONG_SS58_PREFIX'
  static defaultMessage = 'SS58 address uses an unexpected network prefix'
}

/** An attestation's bytes are malformed (wrong tag, version, lengths or field values). */
export class InvalidAttestationError extends SubwireError {
  static override name = 'InvalidAttestationError'
  static override code = 'ERR_INVALID_ATTESTATION'
  static defaultMessage = 'Malformed attestation'
}

/** A signature does not verify for the claimed hotkey. */
export class InvalidSignatureError extends SubwireError {
  static override name = 'InvalidSignatureError'
  static override code = 'ERR_INVALID_SIGNATURE'
  static defaultMessage = 'Signature does not verify for the claimed hotkey'
}

/** The attested PeerId is not the connection's authenticated remote PeerId. */
export class PeerIdMismatchError extends SubwireError {
  static override name = 'PeerIdMismatchError'
  static override code = 'ERR_PEER_ID_MISMATCH'
  static defaultMessage = 'Attestation is for another PeerId than the connection\'s'
}

/** The attestation's validity period has ended. */
export class AttestationExpiredError extends SubwireError {
  static override name = 'AttestationExpiredError'
  static override code = 'ERR_ATTESTATION_EXPIRED'
  static defaultMessage = 'Attestation has expired'
}

/** The attestation claims to be issued later than now plus the allowed clock skew. */
export class AttestationFromFutureError extends SubwireError {
  static override name = 'AttestationFromFutureError'
  static override code = 'ERR_ATTESTATION_FROM_FUTURE'
  static defaultMessage = 'Attestation is issued in the future beyond the allowed clock skew'
}

/** The subwire handshake did not complete within the deadline. */
export class HandshakeTimeoutError extends SubwireError {
  static override name = 'HandshakeTimeoutError'
  static override code = 'ERR_HANDSHAKE_TIMEOUT'
  static defaultMessage = 'Handshake did not complete before the deadline'
}

/** The remote refused our attestation, or the handshake broke off. */
export class HandshakeFailedError extends SubwireError {
  static override name = 'HandshakeFailedError'
  static override code = 'ERR_HANDSHAKE_FAILED'
  static defaultMessage = 'Handshake failed'
}

/** A subwire protocol was opened on a connection that has not completed the handshake. */
export class NotAuthenticatedError extends SubwireError {
  static override name = 'NotAuthenticatedError'
  static override code = 'ERR_NOT_AUTHENTICATED'
  static defaultMessage = 'Connection has not completed the subwire handshake'
}

/** The remote (or this peer) does not serve the requested subnet. */
export class SubnetNotServedError extends SubwireError {
  static override name = 'SubnetNotServedError'
  static override code = 'ERR_SUBNET_NOT_SERVED'
  static defaultMessage = 'Subnet is not served by this peer'
  /** The netuid that was asked for, when known. */
  readonly netuid: number | undefined

  constructor (message?: string, options: SubwireErrorOptions & { netuid?: number | undefined } = {}) {
    super(message ?? (options.netuid === undefined ? undefined : `Subnet ${options.netuid} is not served by this peer`), options)
    this.netuid = options.netuid
  }
}

/** No handler is registered for an RPC type on that subnet. */
export class UnknownRpcTypeError extends SubwireError {
  static override name = 'UnknownRpcTypeError'
  static override code = 'ERR_UNKNOWN_RPC_TYPE'
  static defaultMessage = 'No handler for this request type'
}

/** The remote's limit of concurrent requests on this connection is reached. */
export class TooManyRequestsError extends SubwireError {
  static override name = 'TooManyRequestsError'
  static override code = 'ERR_TOO_MANY_REQUESTS'
  static defaultMessage = 'Too many concurrent requests on this connection'
}

/** A request got no reply within its timeout. */
export class RequestTimeoutError extends SubwireError {
  static override name = 'RequestTimeoutError'
  static override code = 'ERR_REQUEST_TIMEOUT'
  static defaultMessage = 'Request timed out'
}

/** An operation was cancelled through its AbortSignal (or by the remote). */
export class AbortError extends SubwireError {
  static override name = 'AbortError'
  static override code = 'ABORT_ERR'
  static defaultMessage = 'The operation was aborted'
}

/** A remote handler threw an error that is not a subwire error. */
export class RemoteHandlerError extends SubwireError {
  static override name = 'RemoteHandlerError'
  static override code = 'ERR_REMOTE_HANDLER'
  static defaultMessage = 'Remote handler failed'
  /** The `name` the remote gave its error. */
  readonly remoteName: string

  constructor (message?: string, remoteName = 'Error', options?: SubwireErrorOptions) {
    super(message, options)
    this.remoteName = remoteName
  }
}

/** A streamed reply was answered to a plain request, or the reverse. */
export class ReplyKindError extends SubwireError {
  static override name = 'ReplyKindError'
  static override code = 'ERR_REPLY_KIND'
  static defaultMessage = 'Handler returned a stream to a plain request; use requestStream'
}

/** The connection or stream closed before the operation finished. */
export class ConnectionClosedError extends SubwireError {
  static override name = 'ConnectionClosedError'
  static override code = 'ERR_CONNECTION_CLOSED'
  static defaultMessage = 'Connection closed'
}

/** A destination could not be reached (dial failed). */
export class PeerUnreachableError extends SubwireError {
  static override name = 'PeerUnreachableError'
  static override code = 'ERR_PEER_UNREACHABLE'
  static defaultMessage = 'Peer is unreachable'
}

/** A destination SS58 has no known address and no open connection. */
export class UnknownDestinationError extends SubwireError {
  static override name = 'UnknownDestinationError'
  static override code = 'ERR_UNKNOWN_DESTINATION'
  static defaultMessage = 'No address is known for this destination'
}

/** A destination string is neither a multiaddr with /p2p/ nor an SS58 address. */
export class InvalidDestinationError extends SubwireError {
  static override name = 'InvalidDestinationError'
  static override code = 'ERR_INVALID_DESTINATION'
  static defaultMessage = 'Destination must be a multiaddr ending in /p2p/<PeerId> or an SS58 address'
}

/** The peer reached at an address authenticated as another hotkey than the one asked for. */
export class UnexpectedPeerError extends SubwireError {
  static override name = 'UnexpectedPeerError'
  static override code = 'ERR_UNEXPECTED_PEER'
  static defaultMessage = 'The peer authenticated as another hotkey than expected'
}

/** Configuration is invalid. */
export class InvalidConfigError extends SubwireError {
  static override name = 'InvalidConfigError'
  static override code = 'ERR_INVALID_CONFIG'
  static defaultMessage = 'Invalid configuration'
}

/** A hotkey source (URI, mnemonic, seed or wallet file) could not be loaded. */
export class HotkeyLoadError extends SubwireError {
  static override name = 'HotkeyLoadError'
  static override code = 'ERR_HOTKEY_LOAD'
  static defaultMessage = 'Could not load the hotkey'
}

/** The peer is not started (or already stopped). */
export class NotStartedError extends SubwireError {
  static override name = 'NotStartedError'
  static override code = 'ERR_NOT_STARTED'
  static defaultMessage = 'Peer is not started'
}

/** The receiver refused a file offer (too large, no disk space, policy). */
export class FileRefusedError extends SubwireError {
  static override name = 'FileRefusedError'
  static override code = 'ERR_FILE_REFUSED'
  static defaultMessage = 'The receiver refused the file'
}

/** A file is larger than the receiver accepts. */
export class FileTooLargeError extends SubwireError {
  static override name = 'FileTooLargeError'
  static override code = 'ERR_FILE_TOO_LARGE'
  static defaultMessage = 'File exceeds the maximum size accepted'
}

/** Accepting the file would leave less free disk space than configured. */
export class InsufficientDiskSpaceError extends SubwireError {
  static override name = 'InsufficientDiskSpaceError'
  static override code = 'ERR_INSUFFICIENT_DISK_SPACE'
  static defaultMessage = 'Not enough free disk space for this file'
}

/** A file manifest is malformed or inconsistent (chunk count, sizes, hashes). */
export class InvalidManifestError extends SubwireError {
  static override name = 'InvalidManifestError'
  static override code = 'ERR_INVALID_MANIFEST'
  static defaultMessage = 'Malformed file manifest'
}

/** A received chunk does not match its hash in the manifest; it was not written. */
export class ChunkHashMismatchError extends SubwireError {
  static override name = 'ChunkHashMismatchError'
  static override code = 'ERR_CHUNK_HASH_MISMATCH'
  static defaultMessage = 'A chunk does not match its hash in the manifest'
}

/** The completed file's BLAKE3 does not match the manifest; nothing reached the inbox. */
export class FileHashMismatchError extends SubwireError {
  static override name = 'FileHashMismatchError'
  static override code = 'ERR_FILE_HASH_MISMATCH'
  static defaultMessage = 'The file does not match its BLAKE3 hash'
}

/**
 * The receiver's partial copy of a file failed verification against the manifest on disk
 * (changed, truncated or torn after it was written). Nothing reached the inbox: the
 * partial was cut back to its last good chunk, and sending again resumes from there.
 */
export class PartialFileCorruptedError extends SubwireError {
  static override name = 'PartialFileCorruptedError'
  static override code = 'ERR_PARTIAL_FILE_CORRUPTED'
  static defaultMessage = 'The receiver\'s partial copy failed verification; send again to resume from its last good chunk'
}

/** The other side cancelled the transfer; the message gives its reason. */
export class TransferCancelledError extends SubwireError {
  static override name = 'TransferCancelledError'
  static override code = 'ERR_TRANSFER_CANCELLED'
  static defaultMessage = 'The transfer was cancelled'
}

/** The source file changed (size or content) while it was being sent. */
export class SourceChangedError extends SubwireError {
  static override name = 'SourceChangedError'
  static override code = 'ERR_SOURCE_CHANGED'
  static defaultMessage = 'The source changed while it was being sent'
}

/** This peer has no file storage configured, so it does not receive files. */
export class FilesNotEnabledError extends SubwireError {
  static override name = 'FilesNotEnabledError'
  static override code = 'ERR_FILES_NOT_ENABLED'
  static defaultMessage = 'This peer does not receive files'
}

/** No Polkadot wallet extension answered `web3Enable`, or the user did not authorise this site. */
export class WalletUnavailableError extends SubwireError {
  static override name = 'WalletUnavailableError'
  static override code = 'ERR_WALLET_UNAVAILABLE'
  static defaultMessage = 'No Polkadot wallet extension is available, or it did not authorise this site'
}

/** The wallet has no account with the requested address, or no accounts at all. */
export class WalletAccountNotFoundError extends SubwireError {
  static override name = 'WalletAccountNotFoundError'
  static override code = 'ERR_WALLET_ACCOUNT_NOT_FOUND'
  static defaultMessage = 'The wallet has no such account'
}

/** The user rejected the signature request in the wallet extension. */
export class SignatureRejectedError extends SubwireError {
  static override name = 'SignatureRejectedError'
  static override code = 'ERR_SIGNATURE_REJECTED'
  static defaultMessage = 'The signature request was rejected in the wallet'
}

/** A ciphertext did not open: wrong key, tampered, truncated, reordered or spliced. Nothing of it was used. */
export class DecryptionFailedError extends SubwireError {
  static override name = 'DecryptionFailedError'
  static override code = 'ERR_DECRYPTION_FAILED'
  static defaultMessage = 'The ciphertext could not be decrypted and authenticated; nothing of it was used'
}

/** End-to-end encryption was asked for, but the remote publishes no encryption key. */
export class EncryptionUnavailableError extends SubwireError {
  static override name = 'EncryptionUnavailableError'
  static override code = 'ERR_ENCRYPTION_UNAVAILABLE'
  static defaultMessage = 'The remote peer publishes no encryption key in its attestation'
}

/** This peer requires end-to-end encryption and the remote sent plaintext. */
export class EncryptionRequiredError extends SubwireError {
  static override name = 'EncryptionRequiredError'
  static override code = 'ERR_ENCRYPTION_REQUIRED'
  static defaultMessage = 'This peer accepts only end-to-end encrypted payloads'
}

/** The access-control list blocks this SS58, PeerId or IP address. */
export class AccessDeniedError extends SubwireError {
  static override name = 'AccessDeniedError'
  static override code = 'ERR_ACCESS_DENIED'
  static defaultMessage = 'Access denied by the access-control list'
}

/** The subnet firewall does not admit this hotkey to the subnet (fail-closed). */
export class SubnetFirewallError extends SubwireError {
  static override name = 'SubnetFirewallError'
  static override code = 'ERR_SUBNET_FIREWALL'
  static defaultMessage = 'The subnet firewall does not admit this hotkey'
}

/** A rate limit or a resource cap refused the connection, handshake or stream. */
export class RateLimitedError extends SubwireError {
  static override name = 'RateLimitedError'
  static override code = 'ERR_RATE_LIMITED'
  static defaultMessage = 'Too many connections, handshakes or streams; try again later'
}

/** No outbox item has this id. */
export class QueueItemNotFoundError extends SubwireError {
  static override name = 'QueueItemNotFoundError'
  static override code = 'ERR_QUEUE_ITEM_NOT_FOUND'
  static defaultMessage = 'No outbox item has this id'
}

/** An outbox item with this id already exists. */
export class QueueItemExistsError extends SubwireError {
  static override name = 'QueueItemExistsError'
  static override code = 'ERR_QUEUE_ITEM_EXISTS'
  static defaultMessage = 'An outbox item with this id already exists'
}

/** This peer has no outbox, so `{ queue: true }` cannot be honoured. */
export class QueueNotEnabledError extends SubwireError {
  static override name = 'QueueNotEnabledError'
  static override code = 'ERR_QUEUE_NOT_ENABLED'
  static defaultMessage = 'This peer has no outbox'
}

/** An outbox item was given up (too many attempts, expired, or a failure retrying cannot fix); the cause is its last error. */
export class DeadLetterError extends SubwireError {
  static override name = 'DeadLetterError'
  static override code = 'ERR_DEAD_LETTER'
  static defaultMessage = 'The item was moved to the dead-letter list'
}

/** An outbox item waited longer than its expiry. */
export class QueueExpiredError extends SubwireError {
  static override name = 'QueueExpiredError'
  static override code = 'ERR_QUEUE_EXPIRED'
  static defaultMessage = 'The item expired in the outbox before it could be delivered'
}

/** An outbox item reached its maximum attempt count. */
export class MaxAttemptsError extends SubwireError {
  static override name = 'MaxAttemptsError'
  static override code = 'ERR_MAX_ATTEMPTS'
  static defaultMessage = 'The item reached its maximum number of delivery attempts'
}

/** A stored outbox record could not be read back (corrupt, or sealed under another key). */
export class QueueCorruptError extends SubwireError {
  static override name = 'QueueCorruptError'
  static override code = 'ERR_QUEUE_CORRUPT'
  static defaultMessage = 'A stored outbox record could not be read'
}

/** Every exported error class, by name. Used to rebuild errors from the wire. */
/** WebTransport listening was asked for where it cannot run (it needs Deno's QUIC endpoint). */
export class WebTransportUnavailableError extends SubwireError {
  static override name = 'WebTransportUnavailableError'
  static override code = 'ERR_WEBTRANSPORT_UNAVAILABLE'
  static defaultMessage = 'WebTransport listening needs Deno (run "subwire listen --webtransport")'
}

/** A WebTransport session broke the libp2p WebTransport rules (wrong path, stream header or session). */
export class WebTransportProtocolError extends SubwireError {
  static override name = 'WebTransportProtocolError'
  static override code = 'ERR_WEBTRANSPORT_PROTOCOL'
  static defaultMessage = 'WebTransport session broke the libp2p WebTransport protocol'
}

export const errorClasses = {
  WebTransportUnavailableError,
  WebTransportProtocolError,
  QueueItemNotFoundError,
  QueueItemExistsError,
  QueueNotEnabledError,
  DeadLetterError,
  QueueExpiredError,
  MaxAttemptsError,
  QueueCorruptError,
  DecryptionFailedError,
  EncryptionUnavailableError,
  EncryptionRequiredError,
  AccessDeniedError,
  SubnetFirewallError,
  RateLimitedError,
  WalletUnavailableError,
  WalletAccountNotFoundError,
  SignatureRejectedError,
  InvalidFrameError,
  FrameTooLargeError,
  TruncatedFrameError,
  InvalidSs58Error,
  WrongSs58PrefixError,
  InvalidAttestationError,
  InvalidSignatureError,
  PeerIdMismatchError,
  AttestationExpiredError,
  AttestationFromFutureError,
  HandshakeTimeoutError,
  HandshakeFailedError,
  NotAuthenticatedError,
  SubnetNotServedError,
  UnknownRpcTypeError,
  TooManyRequestsError,
  RequestTimeoutError,
  AbortError,
  RemoteHandlerError,
  ReplyKindError,
  ConnectionClosedError,
  PeerUnreachableError,
  UnknownDestinationError,
  InvalidDestinationError,
  UnexpectedPeerError,
  InvalidConfigError,
  HotkeyLoadError,
  NotStartedError,
  FileRefusedError,
  FileTooLargeError,
  InsufficientDiskSpaceError,
  InvalidManifestError,
  ChunkHashMismatchError,
  FileHashMismatchError,
  PartialFileCorruptedError,
  TransferCancelledError,
  SourceChangedError,
  FilesNotEnabledError
} as const

/** An error as it travels on the wire. */
export interface WireError {
  name: string
  message: string
  /** Extra fields some errors carry (e.g. `netuid`). */
  netuid?: number
}

/** Turns any thrown value into `{ name, message }` for the wire. Stack traces never leave the process. */
export function errorToWire (err: unknown): WireError {
  if (err instanceof Error) {
    const wire: WireError = { name: err.name, message: err.message }
    const netuid = (err as { netuid?: unknown }).netuid
    if (typeof netuid === 'number') wire.netuid = netuid
    return wire
  }
  return { name: 'Error', message: String(err) }
}

/**
 * Rebuilds an error received from the wire: a known subwire error becomes its own
 * class; anything else becomes a {@link RemoteHandlerError} carrying the remote name.
 */
export function errorFromWire (wire: WireError): Error {
  if (wire.name === SubnetNotServedError.name) {
    return new SubnetNotServedError(wire.message, { netuid: wire.netuid })
  }
  if (wire.name === RemoteHandlerError.name) {
    return new RemoteHandlerError(wire.message)
  }
  if (Object.hasOwn(errorClasses, wire.name)) {
    const Cls = errorClasses[wire.name as keyof typeof errorClasses] as new (message?: string) => Error
    return new Cls(wire.message)
  }
  return new RemoteHandlerError(wire.message, wire.name)
}

/**
 * Normalises what libp2p rejects with (sometimes `StreamAbortEvent`/`StreamCloseEvent`
 * objects rather than errors) into an `Error`.
 */
export function toError (value: unknown, fallback: () => Error = () => new ConnectionClosedError()): Error {
  if (value instanceof Error) return value
  const inner = (value as { error?: unknown } | null)?.error
  if (inner instanceof Error) return inner
  return fallback()
}
