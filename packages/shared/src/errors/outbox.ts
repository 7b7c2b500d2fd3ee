/**
 * Errors of the durable outbox.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

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
