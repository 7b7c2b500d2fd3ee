/**
 * Fair turns for handlers: at most so many handlers run at once across every caller, and
 * when they are all busy the next free turn goes to the callers in rotation, one request
 * each, so that one caller with a thousand requests in flight cannot push another
 * caller's single request behind all of its own.
 *
 * Without it every request started its handler as soon as it was decoded: a handler
 * backed by a scarce resource (a model with eight slots, a database pool) then queued the
 * requests in its own arrival order, and an honest caller's one request waited behind a
 * flooding caller's whole backlog (`test/rpc.spec.ts`, "fair turns"). A turn is free
 * while fewer than the limit run, so a peer that is not saturated starts every handler
 * at once, as before.
 *
 * @packageDocumentation
 */
import { positiveNumber } from '../config.ts'

/** Gives a turn back. */
export type ReleaseTurn = () => void

interface Waiter {
  resolve: (release: ReleaseTurn) => void
  reject: (reason: unknown) => void
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
}

/** Handler turns shared by every caller; see the module comment. */
export class FairScheduler {
  readonly #max: number
  #running = 0
  /** Waiting requests per caller, callers in the order their turns come round. */
  readonly #queues = new Map<string, Waiter[]>()
  #waiting = 0

  /** `maxRunning`: handlers running at once, every caller together. */
  constructor (maxRunning: number) {
    this.#max = Math.floor(positiveNumber(maxRunning, 256, 'maxConcurrentHandlers'))
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
   * `signal` while waiting rejects with its reason. Call the release exactly once.
   */
  acquire (caller: string, signal?: AbortSignal): ReleaseTurn | Promise<ReleaseTurn> {
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
