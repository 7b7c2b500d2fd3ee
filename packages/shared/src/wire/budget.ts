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

/**
 * The budgets of one kind of stream: one per connection, each inside one per remote
 * PeerId, made on first use and forgotten with the connection.
 */
export class BudgetScopes {
  readonly #connectionBytes: number
  readonly #peerBytes: number
  readonly #connections = new Map<string, { budget: ByteBudget, peer: string }>()
  readonly #peers = new Map<string, { budget: ByteBudget, connections: number }>()

  /**
   * @param connectionBytes - what one connection may make us hold
   * @param peerBytes - what all connections of one PeerId may make us hold together
   */
  constructor (connectionBytes: number, peerBytes: number) {
    this.#connectionBytes = connectionBytes
    this.#peerBytes = peerBytes
  }

  /** The budget of connection `connectionId` to `peer`, inside `peer`'s. */
  of (connectionId: string, peer: string): ByteBudget {
    const existing = this.#connections.get(connectionId)
    if (existing !== undefined) return existing.budget
    let p = this.#peers.get(peer)
    if (p === undefined) {
      p = { budget: new ByteBudget(this.#peerBytes), connections: 0 }
      this.#peers.set(peer, p)
    }
    p.connections++
    const budget = new ByteBudget(this.#connectionBytes, p.budget)
    this.#connections.set(connectionId, { budget, peer })
    return budget
  }

  /** Forgets a closed connection's budget (and its peer's, with its last connection). */
  forget (connectionId: string): void {
    const b = this.#connections.get(connectionId)
    if (b === undefined) return
    this.#connections.delete(connectionId)
    const p = this.#peers.get(b.peer)
    if (p !== undefined && --p.connections === 0) this.#peers.delete(b.peer)
  }

  /** Bytes charged now, all connections together. */
  get used (): number {
    let n = 0
    for (const p of this.#peers.values()) n += p.budget.used
    return n
  }

  /** Forgets every budget. */
  clear (): void {
    this.#connections.clear()
    this.#peers.clear()
  }
}
