/**
 * The browser outbox store: IndexedDB through `idb`, one database per hotkey (items queued
 * under one account never leave under another). Every write is one transaction with
 * `durability: 'strict'`, so a closed tab or a crash leaves each record whole. A dashboard
 * user can queue a file for an offline miner, close the tab, come back, and have it
 * delivered.
 *
 * Also holds the outbox's at-rest key: a non-extractable AES-GCM `CryptoKey`, stored in the
 * same database (IndexedDB keeps CryptoKeys without exposing their bytes).
 *
 * @packageDocumentation
 */
import { openDB } from 'idb'
import { QueueItemExistsError } from '@subwire/shared'
import type { OutboxEntry, OutboxFilter, OutboxPatch, OutboxRecord, QueueStore } from '@subwire/shared'
import type { DBSchema, IDBPDatabase } from 'idb'

interface OutboxDb extends DBSchema {
  items: { key: string, value: OutboxRecord, indexes: { seq: number } }
  chunks: { key: [string, number], value: { id: string, idx: number, data: Uint8Array } }
  delivered: { key: [string, string], value: { from: string, id: string, at: number }, indexes: { at: number } }
  meta: { key: string, value: unknown }
}

const STRICT = { durability: 'strict' } as const

/** A {@link QueueStore} in IndexedDB. */
export class IdbQueueStore implements QueueStore {
  /** The database name. */
  readonly name: string
  readonly #db: IDBPDatabase<OutboxDb>

  private constructor (name: string, db: IDBPDatabase<OutboxDb>) {
    this.name = name
    this.#db = db
  }

  /** Opens (creating if needed) the outbox of `ss58` (or of any name, with `name`). */
  static async open (ss58: string, options: { name?: string } = {}): Promise<IdbQueueStore> {
    const name = options.name ?? `subwire-outbox:${ss58}`
    const db = await openDB<OutboxDb>(name, 1, {
      upgrade (db) {
        db.createObjectStore('items', { keyPath: 'id' }).createIndex('seq', 'seq', { unique: true })
        db.createObjectStore('chunks', { keyPath: ['id', 'idx'] })
        db.createObjectStore('delivered', { keyPath: ['from', 'id'] }).createIndex('at', 'at')
        db.createObjectStore('meta')
      }
    })
    return new IdbQueueStore(name, db)
  }

  /** Deletes a whole outbox database (the account's queue and delivery log). */
  static async destroy (name: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const r = indexedDB.deleteDatabase(name)
      r.onsuccess = () => { resolve() }
      r.onerror = () => { reject(r.error ?? new Error(`could not delete ${name}`)) }
    })
  }

  /** The at-rest key of this outbox, made once (non-extractable) and kept in the database. */
  async atRestKey (): Promise<CryptoKey> {
    const existing = await this.#db.get('meta', 'key')
    if (existing instanceof CryptoKey) return existing
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    const tx = this.#db.transaction('meta', 'readwrite', STRICT)
    // another tab may have made one meanwhile: the first one written wins
    const raced = await tx.store.get('key')
    if (raced instanceof CryptoKey) {
      await tx.done
      return raced
    }
    await tx.store.put(key, 'key')
    await tx.done
    return key
  }

  async add (record: Omit<OutboxRecord, 'seq'>): Promise<number> {
    const tx = this.#db.transaction(['items', 'meta'], 'readwrite', STRICT)
    const items = tx.objectStore('items')
    const meta = tx.objectStore('meta')
    if (await items.get(record.id) !== undefined) {
      tx.abort()
      await tx.done.catch(() => {})
      throw new QueueItemExistsError(`Outbox item ${record.id} already exists`)
    }
    const seq = (Number(await meta.get('seq') ?? 0)) + 1
    await meta.put(seq, 'seq')
    await items.put({ ...record, seq, sealed: record.sealed.slice() })
    await tx.done
    return seq
  }

  async get (id: string): Promise<OutboxRecord | undefined> {
    return await this.#db.get('items', id)
  }

  async list (filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = []
    const tx = this.#db.transaction('items', 'readonly')
    for await (const cursor of tx.store.index('seq').iterate()) {
      const r = cursor.value
      if ((filter.state !== undefined && r.state !== filter.state) || (filter.dest !== undefined && r.dest !== filter.dest)) continue
      const { sealed: _s, ...entry } = r
      out.push(entry)
    }
    await tx.done
    return out
  }

  async update (id: string, patch: OutboxPatch): Promise<boolean> {
    const tx = this.#db.transaction('items', 'readwrite', STRICT)
    const r = await tx.store.get(id)
    if (r === undefined) {
      await tx.done
      return false
    }
    const next: OutboxRecord = { ...r }
    for (const [k, v] of Object.entries(patch) as Array<[keyof OutboxPatch, unknown]>) {
      if (v !== undefined || k === 'lastError') (next as unknown as Record<string, unknown>)[k] = v
    }
    await tx.store.put(next)
    await tx.done
    return true
  }

  async remove (id: string): Promise<boolean> {
    const tx = this.#db.transaction(['items', 'chunks'], 'readwrite', STRICT)
    const existed = await tx.objectStore('items').get(id) !== undefined
    await tx.objectStore('items').delete(id)
    await tx.objectStore('chunks').delete(IDBKeyRange.bound([id, 0], [id, Number.MAX_SAFE_INTEGER]))
    await tx.done
    return existed
  }

  async putChunk (id: string, index: number, bytes: Uint8Array): Promise<void> {
    await this.#db.put('chunks', { id, idx: index, data: bytes.slice() })
  }

  async getChunk (id: string, index: number): Promise<Uint8Array | undefined> {
    return (await this.#db.get('chunks', [id, index]))?.data
  }

  async lease (owner: string, ttlMs: number, now: number): Promise<boolean> {
    const tx = this.#db.transaction('meta', 'readwrite', STRICT)
    const held = await tx.store.get('lease') as { owner: string, until: number } | undefined
    if (held !== undefined && held.owner !== owner && held.until > now) {
      await tx.done
      return false
    }
    await tx.store.put({ owner, until: now + ttlMs }, 'lease')
    await tx.done
    return true
  }

  async releaseLease (owner: string): Promise<void> {
    const tx = this.#db.transaction('meta', 'readwrite', STRICT)
    const held = await tx.store.get('lease') as { owner: string } | undefined
    if (held?.owner === owner) await tx.store.delete('lease')
    await tx.done
  }

  async wasDelivered (from: string, id: string): Promise<boolean> {
    return await this.#db.getKey('delivered', [from, id]) !== undefined
  }

  async markDelivered (from: string, id: string, at: number): Promise<void> {
    await this.#db.put('delivered', { from, id, at })
  }

  async pruneDelivered (before: number): Promise<number> {
    const tx = this.#db.transaction('delivered', 'readwrite', STRICT)
    let n = 0
    for await (const cursor of tx.store.index('at').iterate(IDBKeyRange.upperBound(before, true))) {
      await cursor.delete()
      n++
    }
    await tx.done
    return n
  }

  async close (): Promise<void> {
    this.#db.close()
  }
}
