/**
 * The outbox's items as people see them: records read back from the store with their
 * payloads opened, and the labels (message action or file name) shown beside them.
 *
 * @packageDocumentation
 */
import { QueueItemNotFoundError, toError } from '../errors/index.ts'
import { bytesToHex } from '../bytes.ts'
import { readPayload } from './payload.ts'
import type { AbortOptions } from '../abort.ts'
import type { FilePayload, MessagePayload } from './payload.ts'
import type { OutboxCipher } from './cipher.ts'
import type { OutboxEntry, OutboxRecord, QueueStore } from './store.ts'
import type { OutboxView } from './types.ts'

/** Reads outbox items and keeps their labels. */
export class OutboxItems {
  readonly #store: QueueStore
  readonly #cipher: OutboxCipher
  readonly #labels = new Map<string, string>()

  constructor (store: QueueStore, cipher: OutboxCipher) {
    this.#store = store
    this.#cipher = cipher
  }

  /** Remembers the label of item `id`. */
  label (id: string, label: string): void {
    this.#labels.set(id, label)
  }

  /** Forgets the label of an item that left the outbox. */
  forget (id: string): void {
    this.#labels.delete(id)
  }

  /** The opened payload of a record; throws `QueueCorruptError` if it cannot be read. */
  async payload (record: OutboxRecord): Promise<MessagePayload | FilePayload> {
    return await readPayload(this.#cipher, record)
  }

  /** The file reference of a file item, hex, if it has one. */
  async fileRef (record: OutboxRecord): Promise<string | undefined> {
    const p = await this.payload(record).catch(() => undefined)
    return p?.kind === 'file' && p.ref !== undefined ? bytesToHex(p.ref) : undefined
  }

  /** An item that is pending or dead; throws `QueueItemNotFoundError` otherwise. */
  async entry (id: string, options: AbortOptions): Promise<OutboxEntry> {
    const e = await this.#store.get(id, options)
    if (e === undefined || e.state === 'staging') throw new QueueItemNotFoundError(`No outbox item ${id}`)
    return e
  }

  /** The views of entries, labels read (and remembered) from their payloads. */
  async views (entries: OutboxEntry[], options: AbortOptions): Promise<OutboxView[]> {
    const out: OutboxView[] = []
    for (const e of entries) {
      let label = this.#labels.get(e.id)
      if (label === undefined) {
        const r = await this.#store.get(e.id, options)
        if (r === undefined) continue
        try {
          const p = await this.payload(r)
          label = p.kind === 'message' ? p.action : p.name
        } catch (err) {
          label = `(unreadable: ${toError(err).name})`
        }
        this.#labels.set(e.id, label)
      }
      out.push({ ...e, label })
    }
    return out
  }

  /** The view of an entry from the labels known. */
  view (e: OutboxEntry | OutboxRecord): OutboxView {
    const { sealed: _s, ...entry } = e as OutboxRecord
    return { ...entry, label: this.#labels.get(e.id) ?? '' }
  }
}
