/**
 * Errors of authentication and access: the handshake, the ACL, the subnet firewall and flood limits.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

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
/** The peer reached at an address authenticated as another hotkey than the one asked for. On the wire it is `UnexpectedPeerError` (its name before issue 16). */
export class UnexpectedHotkeyError extends SubwireError {
  static override name = 'UnexpectedHotkeyError'
  static override code = 'ERR_UNEXPECTED_PEER'
  static defaultMessage = 'The peer authenticated as another hotkey than expected'
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
