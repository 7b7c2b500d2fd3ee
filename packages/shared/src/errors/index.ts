/**
 * Error classes of the subwire protocol, one file per domain (`wire`, `identity`, `auth`,
 * `rpc`, `connection`, `files`, `encryption`, `outbox`, `transport`, `discovery`), and their wire form.
 *
 * Errors that cross the wire travel as `{ name, message }` and are rebuilt on the other
 * side by {@link errorFromWire}, marked as remote ({@link isRemoteError}), so a caller can
 * tell a remote's refusal from a local failure of the same name.
 *
 * No name coincides with an error name `@libp2p/interface` exports (issue 16). Four classes
 * were renamed for that: `AbortError` is {@link OperationAbortedError}, `ConnectionClosedError`
 * is {@link ConnectionLostError}, `NotStartedError` is {@link PeerNotStartedError} and
 * `UnexpectedPeerError` is {@link UnexpectedHotkeyError}. All four can cross the wire (an RPC
 * handler's error, a refusal, a file `cancel`, the local API), so on the wire and at rest
 * (the outbox's `lastError`) they keep their old names ({@link WIRE_NAMES}): no byte on the
 * wire changed, and {@link errorFromWire} reads the old and the new name alike. A libp2p or
 * DOM error of an old name is not a subwire error; {@link isAbortError} and
 * {@link isConnectionLost} accept both.
 *
 * @packageDocumentation
 */
import { MAX_ERROR_MESSAGE_BYTES, MAX_TYPE_LENGTH } from '../constants.ts'
import { markRemote } from './base.ts'
import { DecodeLimitError, FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from './wire.ts'
import { AttestationExpiredError, AttestationFromFutureError, HotkeyLoadError, InvalidAttestationError, InvalidSignatureError, InvalidSs58Error, PeerIdMismatchError, WrongSs58PrefixError } from './identity.ts'
import { AccessDeniedError, HandshakeFailedError, HandshakeTimeoutError, NotAuthenticatedError, RateLimitedError, SubnetFirewallError, UnexpectedHotkeyError } from './auth.ts'
import { RemoteHandlerError, ReplyKindError, RequestTimeoutError, SubnetNotServedError, TooManyRequestsError, UnknownRpcTypeError } from './rpc.ts'
import { ConnectionLostError, InvalidConfigError, InvalidDestinationError, OperationAbortedError, PeerNotStartedError, PeerUnreachableError, UnknownDestinationError } from './connection.ts'
import { CreditWindowExceededError, ChunkHashMismatchError, FileHashMismatchError, FileRefusedError, FileTooLargeError, FilesNotEnabledError, InsufficientDiskSpaceError, InvalidManifestError, ManifestRequiredError, PartialFileCorruptedError, SourceChangedError, TransferCancelledError, UnsafePathError, FolderLimitError, TransferInProgressError } from './files.ts'
import { DecryptionFailedError, EncryptionRequiredError, EncryptionUnavailableError } from './encryption.ts'
import { DeadLetterError, MaxAttemptsError, QueueCorruptError, QueueExpiredError, QueueItemExistsError, QueueItemNotFoundError, QueueNotEnabledError } from './outbox.ts'
import { ChainUnavailableError, FanOutTimeoutError, HotkeyRecordExpiredError, InvalidHotkeyRecordError, RecordPeerMismatchError, StaleHotkeyRecordError } from './discovery.ts'

export { isRemoteError, markRemote, SubwireError, walkCause } from './base.ts'
export type { SubwireErrorOptions } from './base.ts'
export { DecodeLimitError, FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from './wire.ts'
export { AttestationExpiredError, AttestationFromFutureError, HotkeyLoadError, InvalidAttestationError, InvalidSignatureError, InvalidSs58Error, PeerIdMismatchError, WrongSs58PrefixError } from './identity.ts'
export { AccessDeniedError, HandshakeFailedError, HandshakeTimeoutError, NotAuthenticatedError, RateLimitedError, SubnetFirewallError, UnexpectedHotkeyError } from './auth.ts'
export { RemoteHandlerError, ReplyKindError, RequestTimeoutError, SubnetNotServedError, TooManyRequestsError, UnknownRpcTypeError } from './rpc.ts'
export { ConnectionLostError, InvalidConfigError, InvalidDestinationError, isAbortError, isConnectionLost, OperationAbortedError, PeerNotStartedError, PeerUnreachableError, UnknownDestinationError } from './connection.ts'
export { CreditWindowExceededError, ChunkHashMismatchError, FileHashMismatchError, FileRefusedError, FileTooLargeError, FilesNotEnabledError, InsufficientDiskSpaceError, InvalidManifestError, ManifestRequiredError, PartialFileCorruptedError, SourceChangedError, TransferCancelledError, UnsafePathError, FolderLimitError, TransferInProgressError } from './files.ts'
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
  OperationAbortedError,
  RemoteHandlerError,
  ReplyKindError,
  ConnectionLostError,
  PeerUnreachableError,
  UnknownDestinationError,
  InvalidDestinationError,
  UnexpectedHotkeyError,
  InvalidConfigError,
  HotkeyLoadError,
  PeerNotStartedError,
  FileRefusedError,
  FileTooLargeError,
  InsufficientDiskSpaceError,
  InvalidManifestError,
  ManifestRequiredError,
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

/**
 * The wire names of the classes issue 16 renamed: what {@link errorToWire} sends for them
 * (their names before), so a peer of either version reads the same bytes.
 */
export const WIRE_NAMES: Readonly<Record<string, string>> = Object.freeze({
  [OperationAbortedError.name]: 'AbortError',
  [ConnectionLostError.name]: 'ConnectionClosedError',
  [PeerNotStartedError.name]: 'NotStartedError',
  [UnexpectedHotkeyError.name]: 'UnexpectedPeerError'
})

/** The class of each old wire name, for {@link errorFromWire}. */
const BY_WIRE_NAME: Readonly<Record<string, keyof typeof errorClasses>> = Object.freeze(
  Object.fromEntries(Object.entries(WIRE_NAMES).map(([name, wire]) => [wire, name as keyof typeof errorClasses]))
)

/** The name `err` travels under: a renamed class's old name, else its own. */
function wireNameOf (name: string): string {
  return Object.hasOwn(WIRE_NAMES, name) ? WIRE_NAMES[name] as string : name
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
 * Turns any thrown value into `{ name, message }` for the wire (a renamed class under its
 * old name, see {@link WIRE_NAMES}), the name cut to 256 and the message to 64 KiB UTF-8
 * bytes (a receiver refuses longer ones). Stack traces never leave the process.
 */
export function errorToWire (err: unknown): WireError {
  if (err instanceof Error) {
    const wire: WireError = { name: cut(wireNameOf(err.name), MAX_TYPE_LENGTH), message: cut(err.message, MAX_ERROR_MESSAGE_BYTES) }
    const netuid = (err as { netuid?: unknown }).netuid
    if (typeof netuid === 'number') wire.netuid = netuid
    return wire
  }
  return { name: 'Error', message: cut(String(err), MAX_ERROR_MESSAGE_BYTES) }
}

/**
 * Rebuilds an error received from the wire: a known subwire error becomes its own
 * class (a renamed one from its old or its new name, see {@link WIRE_NAMES}); anything
 * else becomes a {@link RemoteHandlerError} carrying the remote name.
 * Either way the error is marked remote ({@link isRemoteError}).
 */
export function errorFromWire (wire: WireError): Error {
  if (wire.name === SubnetNotServedError.name) {
    return markRemote(new SubnetNotServedError(wire.message, { netuid: wire.netuid }))
  }
  if (wire.name === RemoteHandlerError.name) {
    return markRemote(new RemoteHandlerError(wire.message))
  }
  const known = Object.hasOwn(BY_WIRE_NAME, wire.name) ? BY_WIRE_NAME[wire.name] : wire.name
  if (known !== undefined && Object.hasOwn(errorClasses, known)) {
    const Cls = errorClasses[known as keyof typeof errorClasses] as new (message?: string) => Error
    return markRemote(new Cls(wire.message))
  }
  return markRemote(new RemoteHandlerError(wire.message, wire.name))
}

/**
 * Normalises what libp2p rejects with (sometimes `StreamAbortEvent`/`StreamCloseEvent`
 * objects rather than errors) into an `Error`.
 */
export function toError (value: unknown, fallback: () => Error = () => new ConnectionLostError()): Error {
  if (value instanceof Error) return value
  const inner = (value as { error?: unknown } | null)?.error
  if (inner instanceof Error) return inner
  return fallback()
}
