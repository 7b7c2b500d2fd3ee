/**
 * Errors of reaching a peer and of the engine's life cycle and configuration.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

/**
 * An operation was cancelled through its AbortSignal (or by the remote). On the wire it is
 * `AbortError` (its name before issue 16); check for any abort with {@link isAbortError}.
 */
export class OperationAbortedError extends SubwireError {
  static override name = 'OperationAbortedError'
  static override code = 'ABORT_ERR'
  static defaultMessage = 'The operation was aborted'
}
/**
 * The connection or stream closed before the operation finished. On the wire it is
 * `ConnectionClosedError` (its name before issue 16); {@link isConnectionLost} also
 * accepts libp2p's `ConnectionClosedError`.
 */
export class ConnectionLostError extends SubwireError {
  static override name = 'ConnectionLostError'
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
/** The peer is not started (or already stopped). On the wire it is `NotStartedError` (its name before issue 16). */
export class PeerNotStartedError extends SubwireError {
  static override name = 'PeerNotStartedError'
  static override code = 'ERR_NOT_STARTED'
  static defaultMessage = 'Peer is not started'
}

/**
 * True if `err` is an abort: subwire's {@link OperationAbortedError}, or an error named
 * `AbortError` (a `DOMException` from an `AbortSignal`, libp2p's `AbortError`).
 */
export function isAbortError (err: unknown): boolean {
  const name = (err as { name?: unknown } | null | undefined)?.name
  return name === OperationAbortedError.name || name === 'AbortError'
}

/**
 * True if `err` says a connection or stream closed under an operation: subwire's
 * {@link ConnectionLostError}, or libp2p's `ConnectionClosedError`.
 */
export function isConnectionLost (err: unknown): boolean {
  const name = (err as { name?: unknown } | null | undefined)?.name
  return name === ConnectionLostError.name || name === 'ConnectionClosedError'
}
