/**
 * A byte budget for what a remote makes us hold: reply bytes queued for a client that does
 * not read them and request bytes buffered before their frame is complete. One budget per
 * connection, inside one per peer (as the go-libp2p resource manager scopes memory); the
 * framed streams charged to it pause reading while it is spent (the remote's flow-control
 * window then closes) and resume once it is under again, so memory stays bounded without
 * dropping anything.
 *
 * @packageDocumentation
 */

/** A byte budget, optionally inside a parent budget that bounds it and its siblings together. */
export class ByteBudget {
  /** Bytes allowed. */
  readonly limit: number
  readonly #parent: ByteBudget | undefined
  #used = 0
  #waiters = new Set<() => void>()

  constructor (limit: number, parent?: ByteBudget) {
    this.limit = limit
    this.#parent = parent
  }

  /** Bytes charged now. */
  get used (): number {
    return this.#used
  }

  /** True while this budget or a parent's is spent. */
  get over (): boolean {
    return this.#used > this.limit || this.#parent?.over === true
  }

  /** Adds (or, negative, releases) bytes; a release that brings it under wakes the waiters. */
  charge (delta: number): void {
    if (delta === 0) return
    this.#used += delta
    this.#parent?.charge(delta)
    if (delta < 0 && this.#used <= this.limit) this.#wake()
  }

  /** Calls `fn` once, the next time this budget (or its parent) is released below its limit. */
  onRelease (fn: () => void): void {
    let called = false
    const once = (): void => {
      if (called) return
      called = true
      fn()
    }
    this.#waiters.add(once)
    this.#parent?.onRelease(once)
  }

  #wake (): void {
    const waiters = this.#waiters
    this.#waiters = new Set()
    for (const w of waiters) w()
  }
}
