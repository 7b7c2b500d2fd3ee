/**
 * The durable outbox: messages and files handed to it are kept in a {@link QueueStore}
 * (sealed at rest) and delivered by a worker, FIFO per destination, with full-jitter
 * exponential backoff, a prompt retry when the destination comes back, and a dead-letter
 * list for what expires, runs out of attempts or cannot succeed. An item leaves the store
 * only after the receiver's ack (for a file: its final hash ack), and keeps its id across
 * attempts so the receiver de-duplicates a retry after a lost ack. A send of what is
 * already waiting joins the waiting item.
 *
 * @packageDocumentation
 */
import { checkMessageId } from '../rpc/messages.ts'
import { encodeValue } from '../wire/codec.ts'
import {
  DEFAULT_QUEUE_CONCURRENCY,
  DEFAULT_QUEUE_EXPIRY_MS,
  DEFAULT_QUEUE_MAX_ATTEMPTS,
  DELIVERY_LOG_RETENTION_MS,
  MAX_QUEUED_MESSAGE_BYTES,
  MAX_TYPE_LENGTH,
  QUEUE_LEASE_TTL_MS
} from '../constants.ts'
import { OperationAbortedError, DeadLetterError, errorFromWire, FrameTooLargeError, InvalidConfigError, QueueItemNotFoundError, toError } from '../errors/index.ts'
import { bytesToHex } from '../bytes.ts'
import { chunkCount, chunkLength, createManifest, manifestToWire } from '../files/manifest.ts'
import { positiveNumber } from '../config.ts'
import { throwIfAborted } from '../abort.ts'
import { parseDestination } from '../auth/destination.ts'
import { Emitter } from '../events.ts'
import { systemClock, validateBackoff } from './backoff.ts'
import { OutboxItems } from './items.ts'
import { aad } from './payload.ts'
import { verifyingSource } from './sources.ts'
import { DeliveryWorker } from './worker.ts'
import type { AbortOptions } from '../abort.ts'
import type { Listener } from '../events.ts'
import type { FileSource } from '../files/types.ts'
import type { OutboxCipher } from './cipher.ts'
import type { OutboxEntry, OutboxRecord, QueueStore } from './store.ts'
import type { QueueClock } from './backoff.ts'
import type { FileReferencer, OutboxComponents, OutboxDelivered, OutboxEvents, OutboxInit, OutboxView, QueueFileOptions, QueueMessageOptions, QueueOptions } from './types.ts'
import type { Logger } from '@libp2p/interface'

const encoder = new TextEncoder()

/** The durable outbox; its {@link DeliveryWorker} delivers while it holds the store's lease. */
export class Outbox {
  readonly #store: QueueStore
  readonly #cipher: OutboxCipher
  readonly #transport: OutboxComponents['transport']
  readonly #files: FileReferencer | undefined
  readonly #log: Logger | undefined
  readonly #clock: QueueClock
  readonly #expiryMs: number
  readonly #retention: number
  readonly #items: OutboxItems
  readonly #events: Emitter<OutboxEvents>
  readonly #worker: DeliveryWorker

  constructor (components: OutboxComponents, init: OutboxInit = {}) {
    this.#store = components.store
    this.#cipher = components.cipher
    this.#transport = components.transport
    this.#files = components.files
    this.#log = components.log
    this.#clock = components.clock ?? systemClock
    const backoff = validateBackoff(init.backoff)
    const maxAttempts = positiveNumber(init.maxAttempts, DEFAULT_QUEUE_MAX_ATTEMPTS, 'maxAttempts')
    this.#expiryMs = positiveNumber(init.expiryMs, DEFAULT_QUEUE_EXPIRY_MS, 'expiryMs')
    const concurrency = positiveNumber(init.concurrency, DEFAULT_QUEUE_CONCURRENCY, 'concurrency')
    const leaseTtl = positiveNumber(init.leaseTtlMs, QUEUE_LEASE_TTL_MS, 'leaseTtlMs')
    this.#retention = positiveNumber(init.deliveryRetentionMs, DELIVERY_LOG_RETENTION_MS, 'deliveryRetentionMs')
    this.#items = new OutboxItems(this.#store, this.#cipher)
    this.#events = new Emitter((event, err) => { this.#log?.('%s listener failed: %s', event, toError(err).message) })
    this.#worker = new DeliveryWorker(
      { store: this.#store, cipher: this.#cipher, items: this.#items, transport: components.transport, files: this.#files, events: this.#events, log: this.#log, clock: this.#clock },
      { backoff, maxAttempts, concurrency, leaseTtl, owner: init.owner ?? crypto.randomUUID() }
    )
  }

  /** The store (also the receiver's delivery log). */
  get store (): QueueStore {
    return this.#store
  }

  /** True while this process holds the worker lease and delivers. */
  get delivering (): boolean {
    return this.#worker.delivering
  }

  /**
   * Starts the worker: drops items a crash left half-queued, prunes the delivery log, and
   * delivers whenever it holds the store's lease (retrying the lease while another
   * process or tab holds it).
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#worker.running) return
    throwIfAborted(options.signal)
    for (const e of await this.#store.list({ state: 'staging' }, options)) {
      if (this.#worker.inflight(e.id) !== undefined) continue
      this.#log?.('removing %s: a crash left it half-queued', e.id)
      await this.#store.remove(e.id, options)
    }
    await this.#store.pruneDelivered(this.#clock.now() - this.#retention, options)
    // a (re)start is a fresh look: what waited out a long backoff is tried now
    const now = this.#clock.now()
    for (const e of await this.#store.list({ state: 'pending' }, options)) {
      if (e.nextAttemptAt > now) await this.#store.update(e.id, { nextAttemptAt: now, backoffStep: 0 }, options)
    }
    await this.#worker.start()
  }

  /** Stops delivering: aborts attempts in flight (they stay queued; a file resumes later) and gives the lease up. */
  async stop (): Promise<void> {
    if (!this.#worker.running) return
    await this.#worker.stop()
  }

  /** Adds an event listener; returns its removal. */
  on<K extends keyof OutboxEvents & string> (event: K, listener: Listener<OutboxEvents[K]>): () => void {
    return this.#events.on(event, listener)
  }

  /** Queues a control message; returns its id once it is durably stored. */
  async enqueueMessage (dest: string, action: string, payload: unknown, options: QueueMessageOptions = {}): Promise<string> {
    throwIfAborted(options.signal)
    parseDestination(dest)
    if (action.length === 0 || encoder.encode(action).byteLength > MAX_TYPE_LENGTH) throw new InvalidConfigError(`A message action must be 1 to ${MAX_TYPE_LENGTH} bytes`)
    checkMessageId(options.id)
    const netuid = this.#netuid(options.netuid)
    if (options.id !== undefined) {
      // an explicit id is an idempotency key: the same message again joins the waiting one
      const joined = await this.#join(dest, netuid, 'message', async (r) => r.id === options.id, options)
      if (joined !== undefined) return joined
    }
    const id = options.id ?? crypto.randomUUID()
    const encoded = encodeValue({ k: 'message', a: action, p: payload, e: options.encrypt, t: options.timeout })
    if (encoded.byteLength > MAX_QUEUED_MESSAGE_BYTES) throw new FrameTooLargeError(`A queued message may be at most ${MAX_QUEUED_MESSAGE_BYTES} bytes encoded; this one is ${encoded.byteLength}`)
    await this.#add(id, dest, 'message', netuid, encoded.byteLength, await this.#cipher.seal(encoded, aad(id, 'payload')), 'pending', action, options)
    return id
  }

  /**
   * Queues a file: hashes it into its manifest now (so what is queued is pinned), then
   * stores a reference (a re-readable source: path, size, mtime) or a sealed copy (a Blob
   * or stream that cannot be re-read). Returns the transfer id. A reference to a file with
   * no kept hashes that can name its version is queued with a streamed manifest instead,
   * hashed by the first attempt as it sends (see {@link QueueFileOptions.hashFirst}).
   */
  async enqueueFile (dest: string, source: FileSource, options: QueueFileOptions = {}): Promise<string> {
    throwIfAborted(options.signal)
    parseDestination(dest)
    const netuid = this.#netuid(options.netuid)
    // one item per source and destination: a re-run of the same send joins the waiting item
    // (a referenced file by its path, size and mtime, before any hashing; a copy by its root)
    const ref = await this.#files?.reference(source)
    const sameRef = async (r: OutboxRecord): Promise<boolean> => r.id === options.id || (ref !== undefined && await this.#items.fileRef(r) === bytesToHex(ref))
    const joinedByRef = await this.#join(dest, netuid, 'file', sameRef, options)
    if (joinedByRef !== undefined) return joinedByRef
    const id = options.id ?? crypto.randomUUID()
    // a reference may go with a streamed manifest (its first chunk leaves at the first attempt); a copy is hashed as it is copied
    const manifest = await createManifest(source, { id, chunkSize: options.chunkSize, onProgress: options.onProgress, signal: options.signal, streamed: ref !== undefined && options.hashFirst !== true })
    if (ref === undefined) {
      const sameCopy = async (r: OutboxRecord): Promise<boolean> => {
        const p = await this.#items.payload(r).catch(() => undefined)
        return p?.kind === 'file' && p.ref === undefined && p.name === source.name && p.manifest.size === manifest.size && bytesToHex(p.manifest.root) === bytesToHex(manifest.root)
      }
      const joined = await this.#join(dest, netuid, 'file', sameCopy, options)
      if (joined !== undefined) return joined
    }
    const payload = encodeValue({ k: 'file', n: source.name, r: ref, m: manifestToWire(manifest), e: options.encrypt })
    const sealed = await this.#cipher.seal(payload, aad(id, 'payload'))
    if (ref !== undefined) {
      await this.#add(id, dest, 'file', netuid, source.size, sealed, 'pending', source.name, options)
      return id
    }
    // a copy: write it as `staging`, then the chunks, then flip it to pending (a crash in
    // between leaves a staging item, which the next start removes)
    await this.#add(id, dest, 'file', netuid, source.size, sealed, 'staging', source.name, options)
    try {
      const verified = verifyingSource(source, manifest)
      const n = chunkCount(manifest.size, manifest.chunkSize)
      for (let i = 0; i < n; i++) {
        throwIfAborted(options.signal)
        const bytes = await verified.read(i * manifest.chunkSize, chunkLength(i, manifest.size, manifest.chunkSize), options)
        await this.#store.putChunk(id, i, await this.#cipher.seal(bytes, aad(id, `chunk:${i}`)), options)
      }
      await this.#store.update(id, { state: 'pending' }, options)
    } catch (err) {
      await this.#store.remove(id).catch(() => {})
      this.#items.forget(id)
      throw err
    }
    const entry = await this.#store.get(id)
    if (entry !== undefined) this.#events.emit('queue:added', this.#items.view(entry))
    this.#worker.kick()
    return id
  }

  /** Items waiting for delivery, in FIFO order, with their labels. */
  async list (options: AbortOptions = {}): Promise<OutboxView[]> {
    return await this.#items.views(await this.#store.list({ state: 'pending' }, options), options)
  }

  /** The dead-letter list. */
  async dead (options: AbortOptions = {}): Promise<OutboxView[]> {
    return await this.#items.views(await this.#store.list({ state: 'dead' }, options), options)
  }

  /**
   * Retries an item now (a dead one goes back to pending with a fresh attempt count and
   * expiry); `'all'` retries every pending and dead item. Returns how many were retried.
   */
  async retry (id: string | 'all', options: AbortOptions = {}): Promise<number> {
    const entries = id === 'all'
      ? (await this.#store.list({}, options)).filter((e) => e.state !== 'staging')
      : [await this.#items.entry(id, options)]
    const now = this.#clock.now()
    for (const e of entries) {
      await this.#store.update(e.id, e.state === 'dead' || e.expiresAt <= now
        ? { state: 'pending', attempts: 0, backoffStep: 0, nextAttemptAt: now, lastError: undefined, expiresAt: now + this.#expiryMs }
        : { backoffStep: 0, nextAttemptAt: now }, options)
    }
    this.#worker.kick()
    return entries.length
  }

  /** Removes an item (pending or dead) without delivering it; an attempt in flight is aborted. */
  async drop (id: string, options: AbortOptions = {}): Promise<void> {
    await this.#items.entry(id, options)
    const f = this.#worker.inflight(id)
    if (f !== undefined) {
      f.controller.abort(new OperationAbortedError('Dropped from the outbox'))
      await f.done.catch(() => {})
    }
    await this.#store.remove(id, options)
    this.#items.forget(id)
    this.#events.emit('queue:dropped', { id })
    this.#worker.kick()
  }

  /**
   * Resolves when `id` is delivered, rejects with `DeadLetterError` (its cause the last
   * error) if it is dead-lettered, or `QueueItemNotFoundError` if it is unknown.
   */
  async waitFor (id: string, options: AbortOptions = {}): Promise<OutboxDelivered> {
    throwIfAborted(options.signal)
    const { promise, resolve, reject } = Promise.withResolvers<OutboxDelivered>()
    const offs = [
      this.on('queue:delivered', ({ item, result }) => { if (item.id === id) resolve({ id, dest: item.dest, result }) }),
      this.on('queue:dead', ({ item, error }) => { if (item.id === id) reject(new DeadLetterError(`${id} was dead-lettered: ${error.name}: ${error.message}`, { cause: error })) }),
      this.on('queue:dropped', (d) => { if (d.id === id) reject(new QueueItemNotFoundError(`${id} was dropped from the outbox`)) })
    ]
    const onAbort = (): void => { reject(new OperationAbortedError()) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const finished = this.#worker.finished(id)
      if (finished !== undefined) return finished
      const e = await this.#store.get(id, options)
      if (e === undefined) {
        const late = this.#worker.finished(id)
        if (late !== undefined) return late
        throw new QueueItemNotFoundError(`No outbox item ${id} (never queued here, or already delivered before this process started)`)
      }
      if (e.state === 'dead') throw new DeadLetterError(`${id} is dead-lettered: ${e.lastError?.name ?? 'Error'}: ${e.lastError?.message ?? ''}`, { cause: e.lastError === undefined ? undefined : errorFromWire(e.lastError) })
      return await promise
    } finally {
      for (const off of offs) off()
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * The waiting item (pending, or being delivered) of this kind to `dest` on `netuid` that
   * `same` accepts, announced as joined and due at once (its backoff reset); undefined if
   * there is none.
   */
  async #join (dest: string, netuid: number, kind: OutboxEntry['kind'], same: (record: OutboxRecord) => Promise<boolean>, options: AbortOptions): Promise<string | undefined> {
    for (const entry of await this.#store.list({ state: 'pending' }, options)) {
      if (entry.kind !== kind || entry.dest !== dest || entry.netuid !== netuid) continue
      const record = await this.#store.get(entry.id, options)
      if (record === undefined || !await same(record)) continue
      // a person sending it again wants it tried now, as a restart does, not after a long backoff
      const now = this.#clock.now()
      const due = entry.nextAttemptAt > now
      if (due) await this.#store.update(entry.id, { nextAttemptAt: now, backoffStep: 0 }, options)
      const [view] = await this.#items.views([due ? { ...entry, nextAttemptAt: now, backoffStep: 0 } : entry], options)
      if (view !== undefined) this.#events.emit('queue:joined', view)
      this.#log?.('%s to %s is already waiting: joined it', entry.id, dest)
      if (due) this.#worker.kick()
      return entry.id
    }
    return undefined
  }

  async #add (id: string, dest: string, kind: OutboxEntry['kind'], netuid: number, size: number, sealed: Uint8Array, state: 'pending' | 'staging', label: string, options: QueueOptions): Promise<void> {
    const now = this.#clock.now()
    const expiry = options.expiryMs === undefined ? this.#expiryMs : positiveNumber(options.expiryMs, this.#expiryMs, 'expiryMs')
    const record: Omit<OutboxRecord, 'seq'> = {
      id, dest, kind, state, netuid, size, createdAt: now, expiresAt: now + expiry, attempts: 0, backoffStep: 0, nextAttemptAt: now, lastError: undefined, progress: 0, sealed
    }
    const seq = await this.#store.add(record, options)
    this.#items.label(id, label)
    if (state === 'pending') {
      this.#events.emit('queue:added', this.#items.view({ ...record, seq }))
      this.#worker.kick()
    }
  }

  #netuid (netuid: number | undefined): number {
    const n = netuid ?? this.#transport.netuids[0]
    if (n === undefined) throw new InvalidConfigError('No netuid given and this peer serves no subnet')
    return n
  }
}
