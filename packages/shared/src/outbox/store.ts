/**
 * The durable outbox's storage contract: {@link QueueStore}, with a memory body here and
 * SQLite (Node) and IndexedDB (browser) bodies in the peers, all held to one compliance
 * suite (`@subwire/shared/testing`). Also the receiver's {@link DeliveryLog}.
 *
 * @packageDocumentation
 */
import { QueueItemExistsError } from '../errors/index.ts'
import type { WireError } from '../errors/index.ts'
import type { AbortOptions } from '../abort.ts'


/** What an outbox item carries. */
export type OutboxKind = 'message' | 'file'


/**
 * Where an item is: `staging` while its payload is still being written (removed on the next
 * start if a crash left it so), `pending` until delivered, `dead` once given up.
 */
export type OutboxState = 'staging' | 'pending' | 'dead'


/** An outbox item without its sealed payload, as lists show it. */
export interface OutboxEntry {
  /** Message id or transfer id: kept across every attempt, so the receiver can de-duplicate. */
  id: string
  /** Insertion order, assigned by the store; delivery is FIFO per destination in this order. */
  seq: number
  /** Destination as given: an SS58 or a multiaddr ending in /p2p/<PeerId>. */
  dest: string
  /** Message or file. */
  kind: OutboxKind
  /** Where it is. */
  state: OutboxState
  /** Subnet it goes out on. */
  netuid: number
  /** Payload bytes (the encoded message, or the file size). */
  size: number
  /** When it was queued (ms since epoch). */
  createdAt: number
  /** When it is dead-lettered if still undelivered. */
  expiresAt: number
  /** Delivery attempts so far. */
  attempts: number
  /** Exponent of the next backoff delay; reset when the destination comes back. */
  backoffStep: number
  /** Earliest time of the next attempt. */
  nextAttemptAt: number
  /** Why the last attempt failed. */
  lastError: WireError | undefined
  /** Bytes the receiver has acknowledged (files), for display. */
  progress: number
}


/** An outbox item as the store keeps it. */
export interface OutboxRecord extends OutboxEntry {
  /** The payload, sealed with the outbox's at-rest cipher (see {@link OutboxCipher}). */
  sealed: Uint8Array
}


/** The fields of an item that change while it waits. */
export type OutboxPatch = Partial<Pick<OutboxEntry, 'state' | 'attempts' | 'backoffStep' | 'nextAttemptAt' | 'expiresAt' | 'lastError' | 'progress'>>


/** Filter of {@link QueueStore.list}. */
export interface OutboxFilter {
  /** Only items in this state. */
  state?: OutboxState | undefined
  /** Only items for this destination. */
  dest?: string | undefined
}


/** Receiver side: which message and transfer ids were already handed to the application, per sender. */
export interface DeliveryLog {
  /** True if `id` from `from` was delivered (and not yet pruned). */
  wasDelivered(from: string, id: string, options?: AbortOptions): Promise<boolean>
  /** Records a delivery. */
  markDelivered(from: string, id: string, at: number, options?: AbortOptions): Promise<void>
  /** Forgets deliveries recorded before `before`; returns how many. */
  pruneDelivered(before: number, options?: AbortOptions): Promise<number>
}


/**
 * Durable storage of the outbox (and the receiver's delivery log). Every write is
 * transactional: a process killed at any moment leaves each record either as it was or as
 * written, never torn.
 */
export interface QueueStore extends DeliveryLog {
  /** Inserts an item; assigns and returns its `seq`. Throws `QueueItemExistsError` on a duplicate id. */
  add(record: Omit<OutboxRecord, 'seq'>, options?: AbortOptions): Promise<number>
  /** One item with its payload. */
  get(id: string, options?: AbortOptions): Promise<OutboxRecord | undefined>
  /** Items without payloads, in `seq` order. */
  list(filter?: OutboxFilter, options?: AbortOptions): Promise<OutboxEntry[]>
  /** Changes an item; false if it does not exist. */
  update(id: string, patch: OutboxPatch, options?: AbortOptions): Promise<boolean>
  /** Removes an item and its stored chunks; false if it did not exist. */
  remove(id: string, options?: AbortOptions): Promise<boolean>
  /** Stores chunk `index` of a copied file source (sealed bytes). */
  putChunk(id: string, index: number, bytes: Uint8Array, options?: AbortOptions): Promise<void>
  /** Reads back a stored chunk. */
  getChunk(id: string, index: number, options?: AbortOptions): Promise<Uint8Array | undefined>
  /**
   * Takes or renews the worker lease for `owner` until `now + ttlMs`; false while another
   * owner holds an unexpired lease. One worker per store delivers, even with two processes
   * (or two browser tabs) on it.
   */
  lease(owner: string, ttlMs: number, now: number, options?: AbortOptions): Promise<boolean>
  /** Gives the lease up if `owner` holds it. */
  releaseLease(owner: string, options?: AbortOptions): Promise<void>
  /** Closes the store. */
  close(): Promise<void>
}


const entryOf = (r: OutboxRecord): OutboxEntry => {
  const { sealed: _sealed, ...entry } = r
  return { ...entry, lastError: entry.lastError === undefined ? undefined : { ...entry.lastError } }
}


/** A {@link QueueStore} in memory: for tests and ephemeral peers (nothing survives the process). */
export class MemoryQueueStore implements QueueStore {
  readonly #items = new Map<string, OutboxRecord>()
  readonly #chunks = new Map<string, Map<number, Uint8Array>>()
  readonly #delivered = new MemoryDeliveryLog()
  #seq = 0
  #lease: { owner: string, until: number } | undefined

  async add (record: Omit<OutboxRecord, 'seq'>): Promise<number> {
    if (this.#items.has(record.id)) throw new QueueItemExistsError(`Outbox item ${record.id} already exists`)
    const seq = ++this.#seq
    this.#items.set(record.id, { ...record, seq, sealed: record.sealed.slice() })
    return seq
  }

  async get (id: string): Promise<OutboxRecord | undefined> {
    const r = this.#items.get(id)
    return r === undefined ? undefined : { ...entryOf(r), sealed: r.sealed.slice() }
  }

  async list (filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    return [...this.#items.values()]
      .filter((r) => (filter.state === undefined || r.state === filter.state) && (filter.dest === undefined || r.dest === filter.dest))
      .sort((a, b) => a.seq - b.seq)
      .map(entryOf)
  }

  async update (id: string, patch: OutboxPatch): Promise<boolean> {
    const r = this.#items.get(id)
    if (r === undefined) return false
    this.#items.set(id, { ...r, ...definedOnly(patch) })
    return true
  }

  async remove (id: string): Promise<boolean> {
    this.#chunks.delete(id)
    return this.#items.delete(id)
  }

  async putChunk (id: string, index: number, bytes: Uint8Array): Promise<void> {
    let m = this.#chunks.get(id)
    if (m === undefined) { m = new Map(); this.#chunks.set(id, m) }
    m.set(index, bytes.slice())
  }

  async getChunk (id: string, index: number): Promise<Uint8Array | undefined> {
    return this.#chunks.get(id)?.get(index)?.slice()
  }

  async lease (owner: string, ttlMs: number, now: number): Promise<boolean> {
    if (this.#lease !== undefined && this.#lease.owner !== owner && this.#lease.until > now) return false
    this.#lease = { owner, until: now + ttlMs }
    return true
  }

  async releaseLease (owner: string): Promise<void> {
    if (this.#lease?.owner === owner) this.#lease = undefined
  }

  async wasDelivered (from: string, id: string): Promise<boolean> {
    return await this.#delivered.wasDelivered(from, id)
  }

  async markDelivered (from: string, id: string, at: number): Promise<void> {
    await this.#delivered.markDelivered(from, id, at)
  }

  async pruneDelivered (before: number): Promise<number> {
    return await this.#delivered.pruneDelivered(before)
  }

  async close (): Promise<void> {}
}


/** The key a delivery log files `(from, id)` under. */
export function deliveryKey (from: string, id: string): string {
  return `${from}\u0000${id}`
}


/**
 * A bounded in-memory {@link DeliveryLog}: what a peer without a durable store uses, so a
 * retry within its lifetime is still not delivered twice.
 */
export class MemoryDeliveryLog implements DeliveryLog {
  readonly #seen = new Map<string, number>()
  readonly #max: number

  constructor (init: { maxEntries?: number } = {}) {
    this.#max = init.maxEntries ?? 100_000
  }

  async wasDelivered (from: string, id: string): Promise<boolean> {
    return this.#seen.has(deliveryKey(from, id))
  }

  async markDelivered (from: string, id: string, at: number): Promise<void> {
    this.#seen.set(deliveryKey(from, id), at)
    // Map keeps insertion order: drop the oldest beyond the bound
    for (const k of this.#seen.keys()) {
      if (this.#seen.size <= this.#max) break
      this.#seen.delete(k)
    }
  }

  async pruneDelivered (before: number): Promise<number> {
    let n = 0
    for (const [k, at] of this.#seen) {
      if (at < before) { this.#seen.delete(k); n++ }
    }
    return n
  }
}


function definedOnly (patch: OutboxPatch): OutboxPatch {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(patch)) {
    if (v !== undefined || k === 'lastError') out[k] = v
  }
  return out as OutboxPatch
}
