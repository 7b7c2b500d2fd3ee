/**
 * The outbox's delivery worker: holds the store's lease, delivers FIFO per destination
 * with full-jitter backoff, retries at once when a destination comes back, and
 * dead-letters what expires, runs out of attempts or cannot succeed.
 *
 * @packageDocumentation
 */
import { OperationAbortedError, errorFromWire, errorToWire, MaxAttemptsError, QueueCorruptError, QueueExpiredError, SourceChangedError, toError } from '../errors/index.ts'
import { destinationIs } from '../auth/destination.ts'
import { backoffDelay } from './backoff.ts'
import { permanentCause, retryAfter } from './permanent.ts'
import { storedSource, verifyingSource } from './sources.ts'
import type { Emitter } from '../events.ts'
import type { FileSource, SendFileResult } from '../files/types.ts'
import type { RemotePeer } from '../types.ts'
import type { BackoffInit, QueueClock } from './backoff.ts'
import type { OutboxCipher } from './cipher.ts'
import type { OutboxEntry, OutboxRecord, QueueStore } from './store.ts'
import type { OutboxItems } from './items.ts'
import type { FileReferencer, OutboxDelivered, OutboxEvents, OutboxTransport } from './types.ts'
import type { Logger } from '@libp2p/interface'

/** What the worker is given by its outbox. */
export interface DeliveryWorkerComponents {
  /** Where items live. */
  store: QueueStore
  /** Seals payloads at rest. */
  cipher: OutboxCipher
  /** Reads items and keeps their labels. */
  items: OutboxItems
  /** Delivers. */
  transport: OutboxTransport
  /** Re-opens referenced files. */
  files: FileReferencer | undefined
  /** The outbox's events. */
  events: Emitter<OutboxEvents>
  /** The `subwire:outbox` logger. */
  log: Logger | undefined
  /** Time and jitter. */
  clock: QueueClock
}

/** The worker's limits, validated by the outbox. */
export interface DeliveryWorkerInit {
  /** Backoff between attempts. */
  backoff: Required<BackoffInit>
  /** Attempts before an item is dead-lettered. */
  maxAttempts: number
  /** Destinations delivered to at once. */
  concurrency: number
  /** Worker lease lifetime in ms. */
  leaseTtl: number
  /** This worker's lease owner id. */
  owner: string
}

/** Delivers the outbox's items while it holds the store's lease. */
export class DeliveryWorker {
  readonly #store: QueueStore
  readonly #cipher: OutboxCipher
  readonly #items: OutboxItems
  readonly #transport: OutboxTransport
  readonly #files: FileReferencer | undefined
  readonly #events: Emitter<OutboxEvents>
  readonly #log: Logger | undefined
  readonly #clock: QueueClock
  readonly #backoff: Required<BackoffInit>
  readonly #maxAttempts: number
  readonly #concurrency: number
  readonly #leaseTtl: number
  readonly #owner: string
  readonly #busy = new Set<string>()
  readonly #inflight = new Map<string, { controller: AbortController, done: Promise<void> }>()
  readonly #finished = new Map<string, OutboxDelivered>()
  readonly #cameBack = new Set<string>()
  #running = false
  #holding = false
  #timer: unknown
  #leaseTimer: unknown
  #pumping: Promise<void> | undefined
  #again = false
  #unsubscribe: (() => void) | undefined

  constructor (components: DeliveryWorkerComponents, init: DeliveryWorkerInit) {
    this.#store = components.store
    this.#cipher = components.cipher
    this.#items = components.items
    this.#transport = components.transport
    this.#files = components.files
    this.#events = components.events
    this.#log = components.log
    this.#clock = components.clock
    this.#backoff = init.backoff
    this.#maxAttempts = init.maxAttempts
    this.#concurrency = init.concurrency
    this.#leaseTtl = init.leaseTtl
    this.#owner = init.owner
  }

  /** True while started. */
  get running (): boolean {
    return this.#running
  }

  /** True while started and holding the lease. */
  get delivering (): boolean {
    return this.#running && this.#holding
  }

  /** The attempt in flight of item `id`, if any. */
  inflight (id: string): { controller: AbortController, done: Promise<void> } | undefined {
    return this.#inflight.get(id)
  }

  /** How item `id` was delivered, if this process delivered it recently. */
  finished (id: string): OutboxDelivered | undefined {
    return this.#finished.get(id)
  }

  /** Starts delivering (and retrying the lease while another process holds it). */
  async start (): Promise<void> {
    this.#running = true
    this.#unsubscribe = this.#transport.on('peer:authenticated', (peer) => { void this.#destinationBack(peer) })
    await this.#renewLease()
  }

  /** Aborts the attempts in flight (they stay queued) and gives the lease up. */
  async stop (): Promise<void> {
    this.#running = false
    this.#unsubscribe?.()
    this.#clock.clearTimeout(this.#timer)
    this.#clock.clearTimeout(this.#leaseTimer)
    for (const f of this.#inflight.values()) f.controller.abort(new OperationAbortedError('The outbox stopped'))
    await Promise.allSettled([...this.#inflight.values()].map(async (f) => { await f.done }))
    await this.#pumping
    if (this.#holding) await this.#store.releaseLease(this.#owner).catch(() => {})
    this.#holding = false
  }

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
    if (this.#holding) this.kick()
    if (!this.#running) return
    this.#leaseTimer = this.#clock.setTimeout(() => { void this.#renewLease() }, Math.max(1, Math.floor(this.#leaseTtl / 3)))
  }

  /** Schedules a pass over the queue (coalesced). */
  kick (): void {
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
    if (wake !== Number.POSITIVE_INFINITY) this.#timer = this.#clock.setTimeout(() => { this.kick() }, Math.max(0, wake - now))
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
        this.kick()
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
    const view = { ...this.#items.view(record), attempts }
    this.#events.emit('queue:attempt', view)
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
        // the destination came back while this attempt was failing: retry at once, unless
        // it asked for time (its disk is full: a reconnect frees nothing)
        const back = this.#cameBack.delete(record.dest)
        const least = retryAfter(e)
        const backoff = back ? 0 : backoffDelay(record.backoffStep, () => this.#clock.random(), this.#backoff)
        const delayMs = least === undefined ? backoff : Math.max(least, backoff)
        const patch = { backoffStep: back ? 0 : record.backoffStep + 1, nextAttemptAt: this.#clock.now() + delayMs, lastError: errorToWire(e) }
        if (!await this.#store.update(id, patch)) return
        this.#log?.('%s to %s failed (%s: %s); retry in %d ms', id, record.dest, e.name, e.message, delayMs)
        this.#events.emit('queue:retry', { item: { ...view, ...patch }, error: e, delayMs })
      }
      return
    }
    await this.#store.remove(id)
    const delivered: OutboxDelivered = { id, dest: record.dest, result }
    this.#remember(delivered)
    this.#items.forget(id)
    this.#log?.('%s delivered to %s after %d attempt(s)', id, record.dest, attempts)
    this.#events.emit('queue:delivered', { item: { ...view, progress: record.size }, result })
  }

  async #send (record: OutboxRecord, signal: AbortSignal): Promise<SendFileResult | undefined> {
    const p = await this.#items.payload(record)
    if (p.kind === 'message') {
      await this.#transport.message(record.dest, p.action, p.payload, { id: record.id, netuid: record.netuid, encrypt: p.encrypt, timeout: p.timeout, signal })
      return undefined
    }
    let source: FileSource
    if (p.ref !== undefined) {
      if (this.#files === undefined) throw new QueueCorruptError(`${record.id} references a file, but this peer cannot open file references`)
      const opened = await this.#files.open(p.ref, { signal })
      // queued with a streamed manifest: no hashes to check against; the reference pins size and mtime
      source = p.manifest.streamed === true ? opened : verifyingSource(opened, p.manifest)
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
          this.#events.emit('queue:progress', { id: record.id, bytes: event.detail.bytes, total: event.detail.total, rate: event.detail.rate })
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

  async #bury (record: OutboxEntry, error: Error): Promise<void> {
    await this.#store.update(record.id, { state: 'dead', lastError: errorToWire(error), attempts: record.attempts })
    this.#log?.('%s to %s dead-lettered: %s: %s', record.id, record.dest, error.name, error.message)
    this.#events.emit('queue:dead', { item: { ...this.#items.view(record), state: 'dead', lastError: errorToWire(error) }, error })
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
        if (e.lastError !== undefined && retryAfter(e.lastError) !== undefined) continue
        await this.#store.update(e.id, { backoffStep: 0, nextAttemptAt: now })
        touched++
      }
      if (touched > 0) this.#log?.('%s is back: %d queued item(s) retried now', peer.ss58, touched)
      this.kick()
    } catch (err) {
      this.#log?.('could not reset the backoff of %s: %s', peer.ss58, toError(err).message)
    }
  }

  #remember (d: OutboxDelivered): void {
    this.#finished.set(d.id, d)
    if (this.#finished.size > 10_000) {
      const first = this.#finished.keys().next().value
      if (first !== undefined) this.#finished.delete(first)
    }
  }
}
