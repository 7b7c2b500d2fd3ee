/**
 * The durable outbox: messages and files handed to it are kept in a {@link QueueStore}
 * (sealed at rest) and delivered by a worker, FIFO per destination, with full-jitter
 * exponential backoff, a prompt retry when the destination comes back, and a dead-letter
 * list for what expires, runs out of attempts or cannot succeed. An item leaves the store
 * only after the receiver's ack (for a file: its final hash ack), and keeps its id across
 * attempts so the receiver de-duplicates a retry after a lost ack.
 *
 * @packageDocumentation
 */
import { decodeValue, encodeValue } from './wire/codec.ts'
import { asRecord } from './wire/fields.ts'
import {
  BLAKE3_BYTES,
  DEFAULT_QUEUE_CONCURRENCY,
  DEFAULT_QUEUE_EXPIRY_MS,
  DEFAULT_QUEUE_MAX_ATTEMPTS,
  DELIVERY_LOG_RETENTION_MS,
  MAX_QUEUED_MESSAGE_BYTES,
  MAX_TYPE_LENGTH,
  QUEUE_LEASE_TTL_MS
} from './constants.ts'
import {
  AbortError,
  AccessDeniedError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  FilesNotEnabledError,
  SubnetFirewallError,
  SubnetNotServedError,
  DeadLetterError,
  errorFromWire,
  errorToWire,
  FileTooLargeError,
  FrameTooLargeError,
  InvalidConfigError,
  InvalidDestinationError,
  InvalidManifestError,
  isRemoteError,
  MaxAttemptsError,
  QueueCorruptError,
  QueueExpiredError,
  QueueItemNotFoundError,
  SourceChangedError,
  toError,
  walkCause
} from './errors/index.ts'
import { blake3 } from './files/hash.ts'
import { bytesToHex } from './bytes.ts'
import { chunkCount, chunkLength, createManifest, manifestFromWire, manifestToWire } from './files/manifest.ts'
import { positiveNumber } from './config.ts'
import { isSs58 } from './identity/ss58.ts'
import { throwIfAborted } from './abort.ts'
import { backoffDelay, systemClock, validateBackoff } from './queue.ts'
import type { AbortOptions } from './abort.ts'
import type { FileManifest, FileSource, SendFileResult, TransferProgressEvent } from './files/types.ts'
import type { BackoffInit, OutboxCipher, OutboxEntry, OutboxRecord, QueueClock, QueueStore } from './queue.ts'
import type { MessageOptions, RemotePeer, SubwireSendFileOptions } from './subwire.ts'
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

/**
 * Errors retrying cannot fix, dead-lettered at once, wherever they were raised: the
 * receiver's explicit policy refusals (blocked, not admitted, wants encryption, does not
 * serve the subnet or take files, the file is too large) and a payload it cannot take
 * (a malformed manifest, an oversized frame). `subwire queue retry` revives them.
 */
const PERMANENT_REFUSALS = new Set([
  AccessDeniedError.name,
  SubnetFirewallError.name,
  EncryptionRequiredError.name,
  EncryptionUnavailableError.name,
  FilesNotEnabledError.name,
  SubnetNotServedError.name,
  FileTooLargeError.name,
  InvalidManifestError.name,
  FrameTooLargeError.name
])

/**
 * Errors retrying cannot fix only when this peer raised them: a changed source, a bad
 * destination, this peer's configuration, a corrupt record. The same names from a remote
 * (its handler's `InvalidConfigError`, say) describe the remote's state, and are retried.
 */
const PERMANENT_LOCAL = new Set([
  SourceChangedError.name,
  InvalidDestinationError.name,
  InvalidConfigError.name,
  QueueCorruptError.name
])

/** The error (`err` or one of its causes: the handshake reports the remote's reason as its cause) that makes an attempt's failure permanent. */
function permanentCause (err: Error): Error | undefined {
  return walkCause(err, (e) => PERMANENT_REFUSALS.has(e.name) || (PERMANENT_LOCAL.has(e.name) && !isRemoteError(e)))
}

const encoder = new TextEncoder()
const aad = (id: string, part: string): Uint8Array => encoder.encode(`subwire-outbox-v1\u0000${id}\u0000${part}`)

type Listener<T> = (detail: T) => void

interface MessagePayload { kind: 'message', action: string, payload: unknown, encrypt: boolean | undefined, timeout: number | undefined }
interface FilePayload { kind: 'file', name: string, ref: Uint8Array | undefined, manifest: FileManifest, encrypt: boolean | undefined }

/** The durable outbox and its delivery worker. */
export class Outbox {
  readonly #store: QueueStore
  readonly #cipher: OutboxCipher
  readonly #transport: OutboxTransport
  readonly #files: FileReferencer | undefined
  readonly #log: Logger | undefined
  readonly #clock: QueueClock
  readonly #backoff: Required<BackoffInit>
  readonly #maxAttempts: number
  readonly #expiryMs: number
  readonly #concurrency: number
  readonly #leaseTtl: number
  readonly #retention: number
  readonly #owner: string
  readonly #listeners = new Map<keyof OutboxEvents, Set<Listener<never>>>()
  readonly #busy = new Set<string>()
  readonly #inflight = new Map<string, { controller: AbortController, done: Promise<void> }>()
  readonly #labels = new Map<string, string>()
  readonly #finished = new Map<string, OutboxDelivered>()
  readonly #cameBack = new Set<string>()
  #running = false
  #holding = false
  #timer: unknown
  #leaseTimer: unknown
  #pumping: Promise<void> | undefined
  #again = false
  #unsubscribe: (() => void) | undefined

  constructor (components: OutboxComponents, init: OutboxInit = {}) {
    this.#store = components.store
    this.#cipher = components.cipher
    this.#transport = components.transport
    this.#files = components.files
    this.#log = components.log
    this.#clock = components.clock ?? systemClock
    this.#backoff = validateBackoff(init.backoff)
    this.#maxAttempts = positiveNumber(init.maxAttempts, DEFAULT_QUEUE_MAX_ATTEMPTS, 'maxAttempts')
    this.#expiryMs = positiveNumber(init.expiryMs, DEFAULT_QUEUE_EXPIRY_MS, 'expiryMs')
    this.#concurrency = positiveNumber(init.concurrency, DEFAULT_QUEUE_CONCURRENCY, 'concurrency')
    this.#leaseTtl = positiveNumber(init.leaseTtlMs, QUEUE_LEASE_TTL_MS, 'leaseTtlMs')
    this.#retention = positiveNumber(init.deliveryRetentionMs, DELIVERY_LOG_RETENTION_MS, 'deliveryRetentionMs')
    this.#owner = init.owner ?? crypto.randomUUID()
  }

  /** The store (also the receiver's delivery log). */
  get store (): QueueStore {
    return this.#store
  }

  /** True while this process holds the worker lease and delivers. */
  get delivering (): boolean {
    return this.#running && this.#holding
  }

  /**
   * Starts the worker: drops items a crash left half-queued, prunes the delivery log, and
   * delivers whenever it holds the store's lease (retrying the lease while another
   * process or tab holds it).
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#running) return
    throwIfAborted(options.signal)
    for (const e of await this.#store.list({ state: 'staging' }, options)) {
      if (this.#inflight.has(e.id)) continue
      this.#log?.('removing %s: a crash left it half-queued', e.id)
      await this.#store.remove(e.id, options)
    }
    await this.#store.pruneDelivered(this.#clock.now() - this.#retention, options)
    // a (re)start is a fresh look: what waited out a long backoff is tried now
    const now = this.#clock.now()
    for (const e of await this.#store.list({ state: 'pending' }, options)) {
      if (e.nextAttemptAt > now) await this.#store.update(e.id, { nextAttemptAt: now, backoffStep: 0 }, options)
    }
    this.#running = true
    this.#unsubscribe = this.#transport.on('peer:authenticated', (peer) => { void this.#destinationBack(peer) })
    await this.#renewLease()
  }

  /** Stops delivering: aborts attempts in flight (they stay queued; a file resumes later) and gives the lease up. */
  async stop (): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#unsubscribe?.()
    this.#clock.clearTimeout(this.#timer)
    this.#clock.clearTimeout(this.#leaseTimer)
    for (const f of this.#inflight.values()) f.controller.abort(new AbortError('The outbox stopped'))
    await Promise.allSettled([...this.#inflight.values()].map(async (f) => { await f.done }))
    await this.#pumping
    if (this.#holding) await this.#store.releaseLease(this.#owner).catch(() => {})
    this.#holding = false
  }

  /** Adds an event listener; returns its removal. */
  on<K extends keyof OutboxEvents> (event: K, listener: Listener<OutboxEvents[K]>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) { set = new Set(); this.#listeners.set(event, set) }
    set.add(listener as Listener<never>)
    return () => { set.delete(listener as Listener<never>) }
  }

  /** Queues a control message; returns its id once it is durably stored. */
  async enqueueMessage (dest: string, action: string, payload: unknown, options: QueueMessageOptions = {}): Promise<string> {
    throwIfAborted(options.signal)
    checkDestination(dest)
    if (action.length === 0 || encoder.encode(action).byteLength > MAX_TYPE_LENGTH) throw new InvalidConfigError(`A message action must be 1 to ${MAX_TYPE_LENGTH} bytes`)
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
   * or stream that cannot be re-read). Returns the transfer id.
   */
  async enqueueFile (dest: string, source: FileSource, options: QueueFileOptions = {}): Promise<string> {
    throwIfAborted(options.signal)
    checkDestination(dest)
    const netuid = this.#netuid(options.netuid)
    // one item per source and destination: a re-run of the same send joins the waiting item
    // (a referenced file by its path, size and mtime, before any hashing; a copy by its root)
    const ref = await this.#files?.reference(source)
    const sameRef = async (r: OutboxRecord): Promise<boolean> => r.id === options.id || (ref !== undefined && await this.#fileRef(r) === bytesToHex(ref))
    const joinedByRef = await this.#join(dest, netuid, 'file', sameRef, options)
    if (joinedByRef !== undefined) return joinedByRef
    const id = options.id ?? crypto.randomUUID()
    const manifest = await createManifest(source, { id, chunkSize: options.chunkSize, onProgress: options.onProgress, signal: options.signal })
    if (ref === undefined) {
      const sameCopy = async (r: OutboxRecord): Promise<boolean> => {
        const p = await this.#payload(r).catch(() => undefined)
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
      this.#labels.delete(id)
      throw err
    }
    const entry = await this.#store.get(id)
    if (entry !== undefined) this.#emit('queue:added', this.#view(entry))
    this.#kick()
    return id
  }

  /** Items waiting for delivery, in FIFO order, with their labels. */
  async list (options: AbortOptions = {}): Promise<OutboxView[]> {
    return await this.#views(await this.#store.list({ state: 'pending' }, options), options)
  }

  /** The dead-letter list. */
  async dead (options: AbortOptions = {}): Promise<OutboxView[]> {
    return await this.#views(await this.#store.list({ state: 'dead' }, options), options)
  }

  /**
   * Retries an item now (a dead one goes back to pending with a fresh attempt count and
   * expiry); `'all'` retries every pending and dead item. Returns how many were retried.
   */
  async retry (id: string | 'all', options: AbortOptions = {}): Promise<number> {
    const entries = id === 'all'
      ? (await this.#store.list({}, options)).filter((e) => e.state !== 'staging')
      : [await this.#entry(id, options)]
    const now = this.#clock.now()
    for (const e of entries) {
      await this.#store.update(e.id, e.state === 'dead' || e.expiresAt <= now
        ? { state: 'pending', attempts: 0, backoffStep: 0, nextAttemptAt: now, lastError: undefined, expiresAt: now + this.#expiryMs }
        : { backoffStep: 0, nextAttemptAt: now }, options)
    }
    this.#kick()
    return entries.length
  }

  /** Removes an item (pending or dead) without delivering it; an attempt in flight is aborted. */
  async drop (id: string, options: AbortOptions = {}): Promise<void> {
    await this.#entry(id, options)
    const f = this.#inflight.get(id)
    if (f !== undefined) {
      f.controller.abort(new AbortError('Dropped from the outbox'))
      await f.done.catch(() => {})
    }
    await this.#store.remove(id, options)
    this.#labels.delete(id)
    this.#emit('queue:dropped', { id })
    this.#kick()
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
    const onAbort = (): void => { reject(new AbortError()) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const finished = this.#finished.get(id)
      if (finished !== undefined) return finished
      const e = await this.#store.get(id, options)
      if (e === undefined) {
        const late = this.#finished.get(id)
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

  // --- worker ---------------------------------------------------------------

  async #renewLease (): Promise<void> {
    if (!this.#running) return
    const was = this.#holding
    try {
      this.#holding = await this.#store.lease(this.#owner, this.#leaseTtl, this.#clock.now())
    } catch (err) {
      this.#log?.('could not renew the outbox lease: %s', toError(err).message)
      this.#holding = false
    }
    if (this.#holding !== was) this.#log?.(this.#holding ? 'outbox worker: delivering' : 'outbox worker: another worker holds the lease')
    // each renewal also looks for items another process (or tab) added to the store
    if (this.#holding) this.#kick()
    if (!this.#running) return
    this.#leaseTimer = this.#clock.setTimeout(() => { void this.#renewLease() }, Math.max(1, Math.floor(this.#leaseTtl / 3)))
  }

  /** Schedules a pass over the queue (coalesced). */
  #kick (): void {
    if (!this.#running || !this.#holding) return
    if (this.#pumping !== undefined) {
      this.#again = true
      return
    }
    this.#pumping = (async () => {
      try {
        do {
          this.#again = false
          await this.#pump()
        } while (this.#again && this.#running)
      } catch (err) {
        this.#log?.('outbox pass failed: %s', toError(err).message)
      } finally {
        this.#pumping = undefined
      }
    })()
  }

  async #pump (): Promise<void> {
    if (!this.#running || !this.#holding) return
    const now = this.#clock.now()
    const heads = new Map<string, OutboxEntry>()
    for (const e of await this.#store.list({ state: 'pending' })) {
      if (!heads.has(e.dest)) heads.set(e.dest, e)
    }
    let wake = Number.POSITIVE_INFINITY
    for (const head of heads.values()) {
      if (this.#busy.has(head.dest)) continue
      const due = Math.min(head.nextAttemptAt, head.expiresAt)
      if (due > now) {
        wake = Math.min(wake, due)
        continue
      }
      if (this.#busy.size >= this.#concurrency) break
      this.#attempt(head)
    }
    this.#clock.clearTimeout(this.#timer)
    if (wake !== Number.POSITIVE_INFINITY) this.#timer = this.#clock.setTimeout(() => { this.#kick() }, Math.max(0, wake - now))
  }

  #attempt (head: OutboxEntry): void {
    this.#busy.add(head.dest)
    const controller = new AbortController()
    const done = (async () => {
      try {
        await this.#deliver(head.id, controller.signal)
      } catch (err) {
        this.#log?.('outbox attempt of %s failed unexpectedly: %s', head.id, toError(err).message)
      } finally {
        this.#cameBack.delete(head.dest)
        this.#busy.delete(head.dest)
        this.#inflight.delete(head.id)
        this.#kick()
      }
    })()
    this.#inflight.set(head.id, { controller, done })
  }

  async #deliver (id: string, signal: AbortSignal): Promise<void> {
    const record = await this.#store.get(id)
    if (record?.state !== 'pending') return
    const now = this.#clock.now()
    if (now >= record.expiresAt) {
      await this.#bury(record, new QueueExpiredError(`Not delivered within ${Math.round((record.expiresAt - record.createdAt) / 1000)} s of being queued`, { cause: record.lastError === undefined ? undefined : errorFromWire(record.lastError) }))
      return
    }
    const attempts = record.attempts + 1
    await this.#store.update(id, { attempts })
    const view = { ...this.#view(record), attempts }
    this.#emit('queue:attempt', view)
    let result: SendFileResult | undefined
    try {
      result = await this.#send(record, signal)
    } catch (err) {
      const e = toError(err)
      if (signal.aborted) return // stopped or dropped: it stays as it is
      const permanent = permanentCause(e)
      if (permanent !== undefined) {
        await this.#bury({ ...record, attempts }, permanent)
      } else if (attempts >= this.#maxAttempts) {
        await this.#bury({ ...record, attempts }, new MaxAttemptsError(`Gave up after ${attempts} attempts; last: ${e.name}: ${e.message}`, { cause: e }))
      } else {
        // the destination came back while this attempt was failing: retry at once
        const back = this.#cameBack.delete(record.dest)
        const delayMs = back ? 0 : backoffDelay(record.backoffStep, () => this.#clock.random(), this.#backoff)
        const patch = { backoffStep: back ? 0 : record.backoffStep + 1, nextAttemptAt: this.#clock.now() + delayMs, lastError: errorToWire(e) }
        if (!await this.#store.update(id, patch)) return
        this.#log?.('%s to %s failed (%s: %s); retry in %d ms', id, record.dest, e.name, e.message, delayMs)
        this.#emit('queue:retry', { item: { ...view, ...patch }, error: e, delayMs })
      }
      return
    }
    await this.#store.remove(id)
    const delivered: OutboxDelivered = { id, dest: record.dest, result }
    this.#remember(delivered)
    this.#labels.delete(id)
    this.#log?.('%s delivered to %s after %d attempt(s)', id, record.dest, attempts)
    this.#emit('queue:delivered', { item: { ...view, progress: record.size }, result })
  }

  async #send (record: OutboxRecord, signal: AbortSignal): Promise<SendFileResult | undefined> {
    const p = await this.#payload(record)
    if (p.kind === 'message') {
      await this.#transport.message(record.dest, p.action, p.payload, { id: record.id, netuid: record.netuid, encrypt: p.encrypt, timeout: p.timeout, signal })
      return undefined
    }
    let source: FileSource
    if (p.ref !== undefined) {
      if (this.#files === undefined) throw new QueueCorruptError(`${record.id} references a file, but this peer cannot open file references`)
      source = verifyingSource(await this.#files.open(p.ref, { signal }), p.manifest)
    } else {
      source = storedSource(this.#store, this.#cipher, record.id, p.name, p.manifest)
    }
    if (source.size !== p.manifest.size) throw new SourceChangedError(`${p.name} is ${source.size} bytes now, ${p.manifest.size} when it was queued`)
    let lastSaved = 0
    try {
      return await this.#transport.sendFile(record.dest, source, {
        manifest: p.manifest,
        netuid: record.netuid,
        encrypt: p.encrypt,
        signal,
        onProgress: (event) => {
          if (event.type !== 'transfer:bytes') return
          this.#emit('queue:progress', { id: record.id, bytes: event.detail.bytes, total: event.detail.total, rate: event.detail.rate })
          const now = this.#clock.now()
          if (now - lastSaved > 2000) {
            lastSaved = now
            void this.#store.update(record.id, { progress: event.detail.bytes }).catch(() => {})
          }
        }
      })
    } finally {
      await source.close?.().catch(() => {})
    }
  }

  async #payload (record: OutboxRecord): Promise<MessagePayload | FilePayload> {
    let rec: Record<string, unknown>
    try {
      rec = asRecord(decodeValue(await this.#cipher.open(record.sealed, aad(record.id, 'payload'))), 'outbox payload')
    } catch (err) {
      throw new QueueCorruptError(`Outbox item ${record.id} cannot be read: ${toError(err).message}`, { cause: err })
    }
    const encrypt = typeof rec.e === 'boolean' ? rec.e : undefined
    if (rec.k === 'message' && typeof rec.a === 'string') {
      return { kind: 'message', action: rec.a, payload: rec.p, encrypt, timeout: typeof rec.t === 'number' ? rec.t : undefined }
    }
    if (rec.k === 'file' && typeof rec.n === 'string') {
      let manifest: FileManifest
      try {
        manifest = await manifestFromWire(rec.m)
      } catch (err) {
        throw new QueueCorruptError(`Outbox item ${record.id} has a bad manifest: ${toError(err).message}`, { cause: err })
      }
      return { kind: 'file', name: rec.n, ref: rec.r instanceof Uint8Array ? rec.r : undefined, manifest, encrypt }
    }
    throw new QueueCorruptError(`Outbox item ${record.id} has an unknown payload`)
  }

  async #bury (record: OutboxEntry, error: Error): Promise<void> {
    await this.#store.update(record.id, { state: 'dead', lastError: errorToWire(error), attempts: record.attempts })
    this.#log?.('%s to %s dead-lettered: %s: %s', record.id, record.dest, error.name, error.message)
    this.#emit('queue:dead', { item: { ...this.#view(record), state: 'dead', lastError: errorToWire(error) }, error })
  }

  async #destinationBack (peer: RemotePeer): Promise<void> {
    if (!this.#running) return
    try {
      const now = this.#clock.now()
      let touched = 0
      for (const e of await this.#store.list({ state: 'pending' })) {
        if (!destinationIs(e.dest, peer)) continue
        if (this.#inflight.has(e.id)) {
          this.#cameBack.add(e.dest)
          continue
        }
        if (e.backoffStep === 0 && e.nextAttemptAt <= now) continue
        await this.#store.update(e.id, { backoffStep: 0, nextAttemptAt: now })
        touched++
      }
      if (touched > 0) this.#log?.('%s is back: %d queued item(s) retried now', peer.ss58, touched)
      this.#kick()
    } catch (err) {
      this.#log?.('could not reset the backoff of %s: %s', peer.ss58, toError(err).message)
    }
  }

  // --- helpers --------------------------------------------------------------

  /**
   * The waiting item (pending, or being delivered) of this kind to `dest` on `netuid` that
   * `same` accepts, announced as joined; undefined if there is none.
   */
  async #join (dest: string, netuid: number, kind: OutboxEntry['kind'], same: (record: OutboxRecord) => Promise<boolean>, options: AbortOptions): Promise<string | undefined> {
    for (const entry of await this.#store.list({ state: 'pending' }, options)) {
      if (entry.kind !== kind || entry.dest !== dest || entry.netuid !== netuid) continue
      const record = await this.#store.get(entry.id, options)
      if (record === undefined || !await same(record)) continue
      const [view] = await this.#views([entry], options)
      if (view !== undefined) this.#emit('queue:joined', view)
      this.#log?.('%s to %s is already waiting: joined it', entry.id, dest)
      return entry.id
    }
    return undefined
  }

  /** The file reference of a file item, hex, if it has one. */
  async #fileRef (record: OutboxRecord): Promise<string | undefined> {
    const p = await this.#payload(record).catch(() => undefined)
    return p?.kind === 'file' && p.ref !== undefined ? bytesToHex(p.ref) : undefined
  }

  async #add (id: string, dest: string, kind: OutboxEntry['kind'], netuid: number, size: number, sealed: Uint8Array, state: 'pending' | 'staging', label: string, options: QueueOptions): Promise<void> {
    const now = this.#clock.now()
    const expiry = options.expiryMs === undefined ? this.#expiryMs : positiveNumber(options.expiryMs, this.#expiryMs, 'expiryMs')
    const record: Omit<OutboxRecord, 'seq'> = {
      id, dest, kind, state, netuid, size, createdAt: now, expiresAt: now + expiry, attempts: 0, backoffStep: 0, nextAttemptAt: now, lastError: undefined, progress: 0, sealed
    }
    const seq = await this.#store.add(record, options)
    this.#labels.set(id, label)
    if (state === 'pending') {
      this.#emit('queue:added', this.#view({ ...record, seq }))
      this.#kick()
    }
  }

  async #entry (id: string, options: AbortOptions): Promise<OutboxEntry> {
    const e = await this.#store.get(id, options)
    if (e === undefined || e.state === 'staging') throw new QueueItemNotFoundError(`No outbox item ${id}`)
    return e
  }

  async #views (entries: OutboxEntry[], options: AbortOptions): Promise<OutboxView[]> {
    const out: OutboxView[] = []
    for (const e of entries) {
      let label = this.#labels.get(e.id)
      if (label === undefined) {
        const r = await this.#store.get(e.id, options)
        if (r === undefined) continue
        try {
          const p = await this.#payload(r)
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

  #view (e: OutboxEntry | OutboxRecord): OutboxView {
    const { sealed: _s, ...entry } = e as OutboxRecord
    return { ...entry, label: this.#labels.get(e.id) ?? '' }
  }

  #netuid (netuid: number | undefined): number {
    const n = netuid ?? this.#transport.netuids[0]
    if (n === undefined) throw new InvalidConfigError('No netuid given and this peer serves no subnet')
    return n
  }

  #remember (d: OutboxDelivered): void {
    this.#finished.set(d.id, d)
    if (this.#finished.size > 10_000) {
      const first = this.#finished.keys().next().value
      if (first !== undefined) this.#finished.delete(first)
    }
  }

  #emit<K extends keyof OutboxEvents> (event: K, detail: OutboxEvents[K]): void {
    for (const l of [...(this.#listeners.get(event) ?? [])] as Array<Listener<OutboxEvents[K]>>) {
      try {
        l(detail)
      } catch (err) {
        this.#log?.('%s listener failed: %s', event, toError(err).message)
      }
    }
  }
}

function checkDestination (dest: string): void {
  if (isSs58(dest)) return
  if (dest.startsWith('/') && /\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(dest)) return
  throw new InvalidDestinationError(`"${dest}" is neither an SS58 address nor a multiaddr ending in /p2p/<PeerId>`)
}

function destinationIs (dest: string, peer: RemotePeer): boolean {
  return dest === peer.ss58 || dest.endsWith(`/p2p/${peer.peerId}`)
}

/**
 * Wraps a source so that every chunk read is checked against the manifest it was queued
 * with: bytes that changed since (even with the same size and mtime) fail with
 * `SourceChangedError` instead of going out.
 */
export function verifyingSource (source: FileSource, manifest: FileManifest): FileSource {
  return {
    name: source.name,
    size: source.size,
    read: async (offset, length, options) => {
      const bytes = await source.read(offset, length, options)
      if (offset % manifest.chunkSize === 0 && length === chunkLength(offset / manifest.chunkSize, manifest.size, manifest.chunkSize)) {
        const i = offset / manifest.chunkSize
        const expected = bytesToHex(manifest.chunkHashes.subarray(i * BLAKE3_BYTES, (i + 1) * BLAKE3_BYTES))
        if (bytesToHex(await blake3(bytes)) !== expected) {
          throw new SourceChangedError(`${source.name}: chunk ${i} differs from when the file was queued`)
        }
      }
      return bytes
    },
    ...(source.check === undefined ? {} : { check: source.check.bind(source) }),
    ...(source.close === undefined ? {} : { close: source.close.bind(source) })
  }
}

/** A file copied into the store, read back chunk by chunk (each opened and authenticated). */
function storedSource (store: QueueStore, cipher: OutboxCipher, id: string, name: string, manifest: FileManifest): FileSource {
  const cs = manifest.chunkSize
  return {
    name,
    size: manifest.size,
    read: async (offset, length, options) => {
      const out = new Uint8Array(length)
      let done = 0
      while (done < length) {
        const i = Math.floor((offset + done) / cs)
        const sealed = await store.getChunk(id, i, options)
        if (sealed === undefined) throw new QueueCorruptError(`Outbox item ${id} lacks stored chunk ${i}`)
        let chunk: Uint8Array
        try {
          chunk = await cipher.open(sealed, aad(id, `chunk:${i}`))
        } catch (err) {
          throw new QueueCorruptError(`Stored chunk ${i} of ${id} is corrupt: ${toError(err).message}`, { cause: err })
        }
        const start = offset + done - i * cs
        const take = Math.min(length - done, chunk.byteLength - start)
        if (take <= 0) throw new QueueCorruptError(`Stored chunk ${i} of ${id} is short`)
        out.set(chunk.subarray(start, start + take), done)
        done += take
      }
      return out
    }
  }
}
