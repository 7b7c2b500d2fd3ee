/**
 * The cancellation options every async subwire API takes last.
 *
 * @packageDocumentation
 */
import { AbortError } from './errors/index.ts'


/** Options every async subwire API takes last. */
export interface AbortOptions {
  /** Cancels the operation; it then rejects with an `AbortError`. */
  signal?: AbortSignal | undefined
}


/** Throws the signal's abort as an {@link AbortError} if it is aborted. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortError()
}
