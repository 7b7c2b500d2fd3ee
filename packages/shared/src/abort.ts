/**
 * The cancellation options every async subwire API takes last.
 *
 * @packageDocumentation
 */
import { OperationAbortedError } from './errors/index.ts'


/** Options every async subwire API takes last. */
export interface AbortOptions {
  /** Cancels the operation; it then rejects with an `OperationAbortedError` (see `isAbortError`). */
  signal?: AbortSignal | undefined
}


/** Throws the signal's abort as an {@link OperationAbortedError} if it is aborted. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new OperationAbortedError()
}
