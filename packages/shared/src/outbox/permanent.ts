/**
 * Which failures of a delivery attempt retrying cannot fix.
 *
 * @packageDocumentation
 */
import {
  AccessDeniedError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  FilesNotEnabledError,
  FileTooLargeError,
  FrameTooLargeError,
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

/** The error (`err` or one of its causes: the handshake reports the remote's reason as its cause) that makes an attempt's failure permanent. */
export function permanentCause (err: Error): Error | undefined {
  return walkCause(err, (e) => PERMANENT_REFUSALS.has(e.name) || (PERMANENT_LOCAL.has(e.name) && !isRemoteError(e)))
}
