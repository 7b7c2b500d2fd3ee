/**
 * Which failures of a delivery attempt retrying cannot fix (dead-lettered at once), and
 * which it can fix only after a while (retried no sooner than their delay).
 *
 * @packageDocumentation
 */
import {
  AccessDeniedError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  FilesNotEnabledError,
  FileRefusedError,
  FileTooLargeError,
  FrameTooLargeError,
  InsufficientDiskSpaceError,
  InvalidConfigError,
  InvalidDestinationError,
  InvalidManifestError,
  isRemoteError,
  QueueCorruptError,
  SourceChangedError,
  SubnetFirewallError,
  SubnetNotServedError,
  walkCause
} from '../errors/index.ts'


/**
 * Errors retrying cannot fix, dead-lettered at once, wherever they were raised: the
 * receiver's explicit policy refusals (blocked, not admitted, wants encryption, does not
 * serve the subnet or take files, the file is too large) and a payload it cannot take
 * (a malformed manifest, an oversized frame). `subwire queue retry` revives them.
 */
const PERMANENT_REFUSALS = new Set([
  AccessDeniedError.name,
  SubnetFirewallError.name,
  EncryptionRequiredError.name,
  EncryptionUnavailableError.name,
  FilesNotEnabledError.name,
  SubnetNotServedError.name,
  FileTooLargeError.name,
  InvalidManifestError.name,
  FrameTooLargeError.name
])

/**
 * Errors retrying cannot fix only when this peer raised them: a changed source, a bad
 * destination, this peer's configuration, a corrupt record. The same names from a remote
 * (its handler's `InvalidConfigError`, say) describe the remote's state, and are retried.
 */
const PERMANENT_LOCAL = new Set([
  SourceChangedError.name,
  InvalidDestinationError.name,
  InvalidConfigError.name,
  QueueCorruptError.name
])

/**
 * A refusal the receiver made itself: its policy hook declined the offer (with its reason),
 * or it could not store the file. Retrying the same offer gets the same answer; the
 * dead-letter list keeps the reason and `subwire queue retry` sends it again. A
 * `FileRefusedError` with a cause only wraps another reason (which decides), and a
 * transfer the receiver is still finishing is `TransferInProgressError`, retried.
 */
function isOwnRefusal (e: Error): boolean {
  return e.name === FileRefusedError.name && e.cause === undefined
}

/** The error (`err` or one of its causes: the handshake reports the remote's reason as its cause) that makes an attempt's failure permanent. */
export function permanentCause (err: Error): Error | undefined {
  return walkCause(err, (e) => PERMANENT_REFUSALS.has(e.name) || isOwnRefusal(e) || (PERMANENT_LOCAL.has(e.name) && !isRemoteError(e)))
}

/**
 * Least delay after a receiver refused for lack of disk space: it frees space by hand or as
 * files are moved out of its inbox, in minutes rather than the seconds of a first backoff.
 */
export const DISK_SPACE_RETRY_AFTER_MS = 10 * 60_000

/** Errors retried no sooner than their delay, whatever the backoff or a reconnect says. */
const RETRY_AFTER = new Map([[InsufficientDiskSpaceError.name, DISK_SPACE_RETRY_AFTER_MS]])

/** The least delay before the next attempt after `err` (or one of its causes), if it asks for one. */
export function retryAfter (err: Error | { name: string }): number | undefined {
  if (!(err instanceof Error)) return RETRY_AFTER.get(err.name)
  const e = walkCause(err, (x) => RETRY_AFTER.has(x.name))
  return e === undefined ? undefined : RETRY_AFTER.get(e.name)
}
