/**
 * Fair turns for handlers: at most so many handlers run at once across every caller, and
 * when they are all busy the next free turn goes to the callers in rotation, one request
 * each, so that one caller with a thousand requests in flight cannot push another
 * caller's single request behind all of its own.
 *
 * Without it every request started its handler as soon as it was decoded: a handler
 * backed by a scarce resource (a model with eight slots, a database pool) then queued the
 * requests in its own arrival order, and an honest caller's one request waited behind a
 * flooding caller's whole backlog (`packages/peer-node/test/limits.spec.ts`, "fair
 * turns"). A turn is free while fewer than the limit run, so a peer that is not saturated
 * starts every handler at once, as before. A streamed reply takes a turn for each step of
 * its iterator, never while it waits for the caller's credit.
 *
 * A handler that waits for another request to this same peer (a call back from the
 * caller, or through a third peer) needs a turn for that request too: with every turn
 * held by such handlers, they wait until their deadlines. Control messages are therefore
 * delivered outside the turns, and `maxConcurrentHandlers` should stay well above the
 * number of such handlers that can be waiting at once.
 *
 * @packageDocumentation
 */
import { positiveNumber } from '../config.ts'
import { DEFAULT_MAX_CONCURRENT_HANDLERS } from '../constants.ts'

/** Gives a turn back. */
export type ReleaseTurn = () => void

interface Waiter {
  resolve: (release: ReleaseTurn) => void
  reject: (reason: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** Configuration of a {@link FairScheduler}. */
export interface FairSchedulerInit {
  /**
   * Handlers running at once, every caller together (at least 1).
   *
   * @default 256
   */
  maxRunning?: number | undefined
}

/** Handler turns shared by every caller; see the module comment. */
export class FairScheduler {
  readonly #max: number
  #running = 0
  /** Waiting requests per caller, callers in the order their turns come round. */
  readonly #queues = new Map<string, Waiter[]>()
  #waiting = 0

  constructor (init: FairSchedulerInit = {}) {
    this.#max = Math.max(1, Math.floor(positiveNumber(init.maxRunning, DEFAULT_MAX_CONCURRENT_HANDLERS, 'maxConcurrentHandlers')))
  }

  /** Handlers running now. */
  get running (): number {
    return this.#running
  }

  /** Requests waiting for a turn now. */
  get waiting (): number {
    return this.#waiting
  }

  /**
   * A turn for a request of `caller` (a hotkey): given at once (synchronously) when one is
   * free and nobody waits, else a promise of one, in `caller`'s rotation. Aborting
   * `options.signal` while waiting rejects with its reason. Call the release once (a
   * second call does nothing).
   */
  acquire (caller: string, options: { signal?: AbortSignal | undefined } = {}): ReleaseTurn | Promise<ReleaseTurn> {
    const signal = options.signal
    if (this.#running < this.#max && this.#waiting === 0) {
      this.#running++
      return this.#release()
    }
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    return new Promise<ReleaseTurn>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined }
      let queue = this.#queues.get(caller)
      if (queue === undefined) { queue = []; this.#queues.set(caller, queue) }
      queue.push(waiter)
      this.#waiting++
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const q = this.#queues.get(caller)
          const i = q?.indexOf(waiter) ?? -1
          if (q === undefined || i < 0) return
          q.splice(i, 1)
          if (q.length === 0) this.#queues.delete(caller)
          this.#waiting--
          reject(signal.reason)
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
    })
  }

  /** A release that frees the turn once, then hands it to the next caller in rotation. */
  #release (): ReleaseTurn {
    let done = false
    return () => {
      if (done) return
      done = true
      this.#running--
      this.#next()
    }
  }

  #next (): void {
    while (this.#running < this.#max && this.#waiting > 0) {
      // the first caller in the map is next; after its turn it goes to the back
      const [caller, queue] = this.#queues.entries().next().value as [string, Waiter[]]
      const waiter = queue.shift() as Waiter
      this.#queues.delete(caller)
      if (queue.length > 0) this.#queues.set(caller, queue)
      this.#waiting--
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort)
      this.#running++
      waiter.resolve(this.#release())
    }
  }
}
