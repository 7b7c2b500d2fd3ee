/**
 * The types of the durable outbox: what it needs of the engine, its configuration, the
 * options of queueing, its views and its events.
 *
 * @packageDocumentation
 */
import type { AbortOptions } from '../abort.ts'
import type { FileSource, SendFileResult, TransferProgressEvent } from '../files/types.ts'
import type { OutboxEntry, QueueStore } from './store.ts'
import type { OutboxCipher } from './cipher.ts'
import type { QueueClock, BackoffInit } from './backoff.ts'
import type { MessageOptions, RemotePeer, SubwireSendFileOptions } from '../types.ts'
import type { Logger } from '@libp2p/interface'

/** What the outbox needs of the protocol engine (a `Subwire` fits). */
export interface OutboxTransport {
  /** This peer's subnets; the first is the default of an item without a netuid. */
  readonly netuids: number[]
  /** Sends a control message and resolves on the receiver's ack. */
  message(dest: string, action: string, payload: unknown, options?: MessageOptions): Promise<string>
  /** Sends a file and resolves on the receiver's final hash ack. */
  sendFile(dest: string, source: FileSource, options?: SubwireSendFileOptions): Promise<SendFileResult>
  /** Subscribes to authenticated connections (a destination coming back). */
  on(event: 'peer:authenticated', listener: (peer: RemotePeer) => void): () => void
}

/**
 * Re-reads file sources that can be re-read (a path on Node): the outbox then stores a
 * reference (path, size, mtime) and the manifest's hashes instead of a copy.
 */
export interface FileReferencer {
  /** A reference to `source` if it can be opened again later, else undefined (it is copied). */
  reference(source: FileSource): Promise<Uint8Array | undefined>
  /** Opens a referenced source; throws `SourceChangedError` if it is gone or differs from the reference. */
  open(ref: Uint8Array, options?: AbortOptions): Promise<FileSource>
}

/** What the outbox is given. */
export interface OutboxComponents {
  /** Where items live. */
  store: QueueStore
  /** Seals payloads at rest. */
  cipher: OutboxCipher
  /** Delivers. */
  transport: OutboxTransport
  /** Re-opens referenced files; none: every file is copied into the store. */
  files?: FileReferencer | undefined
  /** Logger. */
  log?: Logger | undefined
  /** Time and jitter (tests inject a fake one). */
  clock?: QueueClock | undefined
}

/** Configuration of the outbox. */
export interface OutboxInit {
  /** Backoff between attempts (full jitter; default base 1 s, cap 5 min). */
  backoff?: BackoffInit
  /** Attempts before an item is dead-lettered (default 1,000). */
  maxAttempts?: number
  /** An item undelivered this long after it was queued is dead-lettered (default 72 h). */
  expiryMs?: number
  /** Destinations delivered to at once (default 8). */
  concurrency?: number
  /** Worker lease lifetime (default 15 s). */
  leaseTtlMs?: number
  /** How long the delivery log remembers received ids (default 7 days). */
  deliveryRetentionMs?: number
  /** This worker's lease owner id (default a random UUID; the Node peer prefixes its pid so a dead owner is recognised). */
  owner?: string
}

/** Options of queueing one item. */
export interface QueueOptions extends AbortOptions {
  /** Item id (message id / transfer id); default a random UUID. */
  id?: string | undefined
  /** Subnet; default the first served. */
  netuid?: number | undefined
  /** Encrypt end to end on the wire (default: the engine's default). */
  encrypt?: boolean | undefined
  /** Override the outbox's expiry for this item. */
  expiryMs?: number | undefined
}

/** Options of queueing a message. */
export interface QueueMessageOptions extends QueueOptions {
  /** Ack deadline of each attempt. */
  timeout?: number | undefined
}

/** Options of queueing a file. */
export interface QueueFileOptions extends QueueOptions {
  /** Chunk size (default 1 MiB). */
  chunkSize?: number | undefined
  /** Hashing (and copying) progress while the file is queued. */
  onProgress?: ((event: TransferProgressEvent) => void) | undefined
  /**
   * Hash a referenced file when it is queued (default: not when it has no kept outboard and
   * can name its version: its manifest is then streamed by the first attempt, the reference
   * pinning path, size and mtime). A copied file is always hashed as it is copied.
   */
  hashFirst?: boolean | undefined
}

/** An outbox item as shown to people: the entry plus its (decrypted) label. */
export interface OutboxView extends OutboxEntry {
  /** The message action or the file name. */
  label: string
}

/** Events of the outbox. */
export interface OutboxEvents {
  /** An item was queued. */
  'queue:added': OutboxView
  /** A send of what is already waiting (same source or id, same destination and subnet) joined that item. */
  'queue:joined': OutboxView
  /** An attempt starts. */
  'queue:attempt': OutboxView
  /** An attempt failed; the item waits `delayMs`. */
  'queue:retry': { item: OutboxView, error: Error, delayMs: number }
  /** An item was delivered and left the outbox. */
  'queue:delivered': { item: OutboxView, result?: SendFileResult | undefined }
  /** An item was moved to the dead-letter list. */
  'queue:dead': { item: OutboxView, error: Error }
  /** An item was dropped by hand. */
  'queue:dropped': { id: string }
  /** A file item's bytes as the receiver acknowledges them. */
  'queue:progress': { id: string, bytes: number, total: number, rate: number }
}

/** How {@link Outbox.waitFor} ends. */
export interface OutboxDelivered {
  /** The item id. */
  id: string
  /** Its destination. */
  dest: string
  /** The file result, for files. */
  result?: SendFileResult | undefined
}
