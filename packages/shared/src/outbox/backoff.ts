/**
 * The outbox's backoff schedule and clock.
 *
 * @packageDocumentation
 */
import { DEFAULT_QUEUE_BACKOFF_BASE_MS, DEFAULT_QUEUE_BACKOFF_CAP_MS } from '../constants.ts'
import { positiveNumber } from '../config.ts'
import { InvalidConfigError } from '../errors/index.ts'


/** Backoff between attempts. */
export interface BackoffInit {
  /** First delay's upper bound in ms (default 1 s). */
  baseMs?: number
  /** Largest delay in ms (default 5 min). */
  capMs?: number
}


/**
 * "Full jitter" exponential backoff: a delay drawn uniformly from
 * `[0, min(cap, base * 2^step))`. Spreads retries of many senders apart while keeping the
 * expected delay half of plain exponential backoff.
 */
export function backoffDelay (step: number, random: () => number, init: BackoffInit = {}): number {
  const base = init.baseMs ?? DEFAULT_QUEUE_BACKOFF_BASE_MS
  const cap = init.capMs ?? DEFAULT_QUEUE_BACKOFF_CAP_MS
  const ceiling = Math.min(cap, base * 2 ** Math.min(step, 52))
  return Math.floor(random() * ceiling)
}


/** Checks a backoff configuration. */
export function validateBackoff (init: BackoffInit = {}): Required<BackoffInit> {
  const baseMs = positiveNumber(init.baseMs, DEFAULT_QUEUE_BACKOFF_BASE_MS, 'backoff.baseMs')
  const capMs = init.capMs ?? DEFAULT_QUEUE_BACKOFF_CAP_MS
  if (!Number.isFinite(capMs) || capMs < baseMs) throw new InvalidConfigError('backoff.capMs must be a number at least backoff.baseMs')
  return { baseMs, capMs }
}


/** Time and randomness of the outbox worker; tests inject a fake clock instead of sleeping. */
export interface QueueClock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Calls `fn` after `ms`; returns a handle for {@link QueueClock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown
  /** Cancels a timer. */
  clearTimeout(handle: unknown): void
  /** A number in [0, 1) for the jitter. */
  random(): number
}


/** The real clock. */
export const systemClock: QueueClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    ;(t as { unref?: () => void }).unref?.()
    return t
  },
  clearTimeout: (h) => { clearTimeout(h as ReturnType<typeof setTimeout>) },
  random: () => Math.random()
}
