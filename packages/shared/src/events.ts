/**
 * The one event emitter of the engine and the outbox: libp2p's `TypedEventEmitter`
 * (a typed `EventTarget`) under a listener API that passes the event's detail, returns
 * an unsubscribe function, never lets a failing listener reach the dispatcher, and can
 * wait for async listeners when an event's outcome matters (a message is acked only
 * after its listeners settled).
 *
 * @packageDocumentation
 */
import { TypedEventEmitter } from '@libp2p/interface'

/** A listener of one event; it may be async. */
export type Listener<T> = (detail: T) => unknown

/** A dispatched event that collects what its listeners returned. */
class SettlingEvent<T> extends CustomEvent<T> {
  /** The listeners' outcomes (a synchronous throw is a rejected promise here). */
  readonly outcomes: Array<Promise<void>> = []
}

/** Typed events with detail-first listeners, over libp2p's `TypedEventEmitter`. */
export class Emitter<Events extends object> {
  readonly #target = new TypedEventEmitter<Record<string, SettlingEvent<unknown>>>()
  readonly #wrapped = new Map<string, Map<Listener<never>, (evt: SettlingEvent<unknown>) => void>>()
  readonly #onError: (event: string, err: unknown) => void

  /** `onError` hears of every listener that throws or rejects on a plain {@link Emitter.emit}. */
  constructor (onError: (event: string, err: unknown) => void) {
    this.#onError = onError
  }

  /** Adds a listener; returns a function that removes it. Adding the same one twice has no effect. */
  on<K extends keyof Events & string> (event: K, listener: Listener<Events[K]>): () => void {
    let byListener = this.#wrapped.get(event)
    if (byListener === undefined) { byListener = new Map(); this.#wrapped.set(event, byListener) }
    if (!byListener.has(listener as Listener<never>)) {
      const wrapper = (evt: SettlingEvent<unknown>): void => {
        try {
          const r = listener(evt.detail as Events[K])
          if (r instanceof Promise) evt.outcomes.push(r)
        } catch (err) {
          evt.outcomes.push(Promise.reject(err))
        }
      }
      byListener.set(listener as Listener<never>, wrapper)
      this.#target.addEventListener(event, wrapper)
    }
    return () => { this.off(event, listener) }
  }

  /** Removes a listener. */
  off<K extends keyof Events & string> (event: K, listener: Listener<Events[K]>): void {
    const wrapper = this.#wrapped.get(event)?.get(listener as Listener<never>)
    if (wrapper === undefined) return
    this.#wrapped.get(event)?.delete(listener as Listener<never>)
    this.#target.removeEventListener(event, wrapper)
  }

  /** True if the event has a listener. */
  listens (event: keyof Events & string): boolean {
    return (this.#wrapped.get(event)?.size ?? 0) > 0
  }

  /** Dispatches an event; a listener's failure is handed to `onError`, never to the caller. */
  emit<K extends keyof Events & string> (event: K, detail: Events[K]): void {
    for (const outcome of this.#dispatch(event, detail)) {
      outcome.catch((err: unknown) => { this.#onError(event, err) })
    }
  }

  /** Dispatches an event and waits for every listener; rejects with the first failure. */
  async emitAndSettle<K extends keyof Events & string> (event: K, detail: Events[K]): Promise<void> {
    await Promise.all(this.#dispatch(event, detail))
  }

  #dispatch (event: string, detail: unknown): Array<Promise<void>> {
    const evt = new SettlingEvent(event, { detail })
    this.#target.dispatchEvent(evt)
    return evt.outcomes
  }
}
