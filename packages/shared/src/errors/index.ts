/**
 * Error classes of the subwire protocol, one file per domain (`wire`, `identity`, `auth`,
 * `rpc`, `connection`, `files`, `encryption`, `outbox`, `transport`, `discovery`), and their wire form.
 *
 * Errors that cross the wire travel as `{ name, message }` and are rebuilt on the other
 * side by {@link errorFromWire}, marked as remote ({@link isRemoteError}), so a caller can
 * tell a remote's refusal from a local failure of the same name.
 *
 * Four names coincide with error names `@libp2p/interface` exports: `AbortError`,
 * `ConnectionClosedError`, `NotStartedError` and `UnexpectedPeerError`. They are kept: the
 * names are on the wire (`docs/PROTOCOL.md`), so renaming them would break every deployed
 * peer, and they describe the same conditions as libp2p's, so a check by `.name` treats a
 * libp2p error and the subwire one alike on purpose (the RPC client passes a libp2p
 * `ConnectionClosedError` through as one). Tell them apart by `code` (subwire's are
 * `ABORT_ERR`, `ERR_CONNECTION_CLOSED`, `ERR_NOT_STARTED`, `ERR_UNEXPECTED_PEER`) or with
 * `instanceof SubwireError`.
 *
 * @packageDocumentation
 */
import { MAX_ERROR_MESSAGE_BYTES, MAX_TYPE_LENGTH } from '../constants.ts'
import { markRemote } from './base.ts'
import { DecodeLimitError, FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from './wire.ts'
import { AttestationExpiredError, AttestationFromFutureError, HotkeyLoadError, InvalidAttestationError, InvalidSignatureError, InvalidSs58Error, PeerIdMismatchError, WrongSs58PrefixError } from './identity.ts'
import { AccessDeniedError, HandshakeFailedError, HandshakeTimeoutError, NotAuthenticatedError, RateLimitedError, SubnetFirewallError, UnexpectedPeerError } from './auth.ts'
import { RemoteHandlerError, ReplyKindError, RequestTimeoutError, SubnetNotServedError, TooManyRequestsError, UnknownRpcTypeError } from './rpc.ts'
import { AbortError, ConnectionClosedError, InvalidConfigError, InvalidDestinationError, NotStartedError, PeerUnreachableError, UnknownDestinationError } from './connection.ts'
import { CreditWindowExceededError, ChunkHashMismatchError, FileHashMismatchError, FileRefusedError, FileTooLargeError, FilesNotEnabledError, InsufficientDiskSpaceError, InvalidManifestError, PartialFileCorruptedError, SourceChangedError, TransferCancelledError, UnsafePathError, FolderLimitError, TransferInProgressError } from './files.ts'
import { DecryptionFailedError, EncryptionRequiredError, EncryptionUnavailableError } from './encryption.ts'
import { DeadLetterError, MaxAttemptsError, QueueCorruptError, QueueExpiredError, QueueItemExistsError, QueueItemNotFoundError, QueueNotEnabledError } from './outbox.ts'
import { ChainUnavailableError, FanOutTimeoutError, HotkeyRecordExpiredError, InvalidHotkeyRecordError, RecordPeerMismatchError, StaleHotkeyRecordError } from './discovery.ts'

export { isRemoteError, markRemote, SubwireError, walkCause } from './base.ts'
export type { SubwireErrorOptions } from './base.ts'
export { DecodeLimitError, FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from './wire.ts'
export { AttestationExpiredError, AttestationFromFutureError, HotkeyLoadError, InvalidAttestationError, InvalidSignatureError, InvalidSs58Error, PeerIdMismatchError, WrongSs58PrefixError } from './identity.ts'
export { AccessDeniedError, HandshakeFailedError, HandshakeTimeoutError, NotAuthenticatedError, RateLimitedError, SubnetFirewallError, UnexpectedPeerError } from './auth.ts'
export { RemoteHandlerError, ReplyKindError, RequestTimeoutError, SubnetNotServedError, TooManyRequestsError, UnknownRpcTypeError } from './rpc.ts'
export { AbortError, ConnectionClosedError, InvalidConfigError, InvalidDestinationError, NotStartedError, PeerUnreachableError, UnknownDestinationError } from './connection.ts'
export { CreditWindowExceededError, ChunkHashMismatchError, FileHashMismatchError, FileRefusedError, FileTooLargeError, FilesNotEnabledError, InsufficientDiskSpaceError, InvalidManifestError, PartialFileCorruptedError, SourceChangedError, TransferCancelledError, UnsafePathError, FolderLimitError, TransferInProgressError } from './files.ts'
export { DecryptionFailedError, EncryptionRequiredError, EncryptionUnavailableError } from './encryption.ts'
export { DeadLetterError, MaxAttemptsError, QueueCorruptError, QueueExpiredError, QueueItemExistsError, QueueItemNotFoundError, QueueNotEnabledError } from './outbox.ts'
export { ChainUnavailableError, FanOutTimeoutError, HotkeyRecordExpiredError, InvalidHotkeyRecordError, RecordPeerMismatchError, StaleHotkeyRecordError } from './discovery.ts'

/** Every exported error class, by name. Used to rebuild errors from the wire. */
export const errorClasses = {
  InvalidHotkeyRecordError,
  HotkeyRecordExpiredError,
  StaleHotkeyRecordError,
  RecordPeerMismatchError,
  ChainUnavailableError,
  FanOutTimeoutError,
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
  InvalidFrameError,
  FrameTooLargeError,
  TruncatedFrameError,
  DecodeLimitError,
  CreditWindowExceededError,
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
  FilesNotEnabledError,
  UnsafePathError,
  FolderLimitError,
  TransferInProgressError
} as const

/** An error as it travels on the wire. */
export interface WireError {
  name: string
  message: string
  /** Extra fields some errors carry (e.g. `netuid`). */
  netuid?: number
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** `s` cut to at most `maxBytes` UTF-8 bytes at a character boundary, ending in "…" when cut. */
function cut (s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s
  const bytes = utf8.encode(s)
  if (bytes.byteLength <= maxBytes) return s
  let end = maxBytes - 3 // room for the ellipsis (3 bytes)
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--
  return utf8Decoder.decode(bytes.subarray(0, end)) + '…'
}

/**
 * Turns any thrown value into `{ name, message }` for the wire, the name cut to 256 and
 * the message to 64 KiB UTF-8 bytes (a receiver refuses longer ones). Stack traces never
 * leave the process.
 */
export function errorToWire (err: unknown): WireError {
  if (err instanceof Error) {
    const wire: WireError = { name: cut(err.name, MAX_TYPE_LENGTH), message: cut(err.message, MAX_ERROR_MESSAGE_BYTES) }
    const netuid = (err as { netuid?: unknown }).netuid
    if (typeof netuid === 'number') wire.netuid = netuid
    return wire
  }
  return { name: 'Error', message: cut(String(err), MAX_ERROR_MESSAGE_BYTES) }
}

/**
 * Rebuilds an error received from the wire: a known subwire error becomes its own
 * class; anything else becomes a {@link RemoteHandlerError} carrying the remote name.
 * Either way the error is marked remote ({@link isRemoteError}).
 */
export function errorFromWire (wire: WireError): Error {
  if (wire.name === SubnetNotServedError.name) {
    return markRemote(new SubnetNotServedError(wire.message, { netuid: wire.netuid }))
  }
  if (wire.name === RemoteHandlerError.name) {
    return markRemote(new RemoteHandlerError(wire.message))
  }
  if (Object.hasOwn(errorClasses, wire.name)) {
    const Cls = errorClasses[wire.name as keyof typeof errorClasses] as new (message?: string) => Error
    return markRemote(new Cls(wire.message))
  }
  return markRemote(new RemoteHandlerError(wire.message, wire.name))
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
