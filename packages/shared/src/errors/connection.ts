/**
 * Errors of reaching a peer and of the engine's life cycle and configuration.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

/** An operation was cancelled through its AbortSignal (or by the remote). */
export class AbortError extends SubwireError {
  static override name = 'AbortError'
  static override code = 'ABORT_ERR'
  static defaultMessage = 'The operation was aborted'
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
/** Configuration is invalid. */
export class InvalidConfigError extends SubwireError {
  static override name = 'InvalidConfigError'
  static override code = 'ERR_INVALID_CONFIG'
  static defaultMessage = 'Invalid configuration'
}
/** The peer is not started (or already stopped). */
export class NotStartedError extends SubwireError {
  static override name = 'NotStartedError'
  static override code = 'ERR_NOT_STARTED'
  static defaultMessage = 'Peer is not started'
}
