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

/**
 * Waits for `promise`, or rejects with an {@link OperationAbortedError} as soon as `signal`
 * aborts (the work behind `promise` goes on: others may be waiting for it too).
 */
export async function untilAborted<T> (promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return await promise
  throwIfAborted(signal)
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(new OperationAbortedError()) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
