/**
 * Errors of requests and control messages.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'
import type { SubwireErrorOptions } from './base.ts'

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
