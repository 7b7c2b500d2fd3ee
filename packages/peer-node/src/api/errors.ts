/**
 * Errors of the local API. They travel to clients as `{ name, message, code }` like every
 * subwire error; the Python client has a class of the same name for each.
 *
 * @packageDocumentation
 */
import { SubwireError } from '@subwire/shared'

/** The client did not authenticate: no token, a wrong token, or an operation before `hello`. */
export class ApiUnauthorizedError extends SubwireError {
  static override name = 'ApiUnauthorizedError'
  static override code = 'ERR_API_UNAUTHORIZED'
  static defaultMessage = 'This API connection is not authorised (a TCP client must send the token from <home>/api.token in hello)'
}
/** A frame the API cannot use: not a map, a missing or mistyped field, a frame too large or malformed. */
export class ApiProtocolError extends SubwireError {
  static override name = 'ApiProtocolError'
  static override code = 'ERR_API_PROTOCOL'
  static defaultMessage = 'Malformed API frame'
}
/** The client speaks a version of the API this peer does not. */
export class ApiVersionError extends SubwireError {
  static override name = 'ApiVersionError'
  static override code = 'ERR_API_VERSION'
  static defaultMessage = 'Unsupported API version'
}
/** No such operation. */
export class UnknownOperationError extends SubwireError {
  static override name = 'UnknownOperationError'
  static override code = 'ERR_API_UNKNOWN_OP'
  static defaultMessage = 'Unknown API operation'
}
/** An RPC type (or message action) is already served by another API client. */
export class HandlerTakenError extends SubwireError {
  static override name = 'HandlerTakenError'
  static override code = 'ERR_API_HANDLER_TAKEN'
  static defaultMessage = 'Another API client already serves this type'
}
/** Every API error class, by name (the Python client's error list is generated from it and `errorClasses`). */
export const apiErrorClasses = {
  ApiUnauthorizedError,
  ApiProtocolError,
  ApiVersionError,
  UnknownOperationError,
  HandlerTakenError
} as const
