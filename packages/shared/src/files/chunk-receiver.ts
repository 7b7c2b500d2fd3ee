/**
 * Receives the chunks of one accepted offer into its partial file.
 *
 * @packageDocumentation
 */
import { bytesField, uintField } from '../wire/fields.ts'
import { BLAKE3_BYTES, FILE_WINDOW_CHUNKS } from '../constants.ts'
import { OperationAbortedError, ChunkHashMismatchError, CreditWindowExceededError, FileHashMismatchError, InvalidFrameError, PartialFileCorruptedError, toError, TransferCancelledError, isAbortError } from '../errors/index.ts'
import { formatSize } from '../units.ts'
import { E2E_TAG_BYTES } from '../encryption/envelope.ts'
import type { StreamCipher } from '../encryption/envelope.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import { SENDER_STALL_MS } from './types.ts'
import type { FileManifest, FileOffer, PartialFile, ReceivedFile } from './types.ts'
import { DiskReservations } from './reservations.ts'
import { bytesToHex, equalBytes } from '../bytes.ts'
import { blake3, releaseHasher, takeHasher } from './hash.ts'
import { chunkCount, chunkLength, completeStreamedManifest, verifyChunksOnDisk } from './manifest.ts'
import { cancelFrame, cancelledBy, forRemote } from './frames.ts'
import type { ReceiveFileInit } from './types.ts'


/**
 * The receiver records its progress (data synced first) at least every this many chunks or
 * ms. The record is a hint, never trusted alone: a resume re-verifies the chunks on disk.
 */
const COMMIT_EVERY_CHUNKS = 32

const COMMIT_EVERY_MS = 1000

/** Disk writes the receiver keeps in flight while it hashes the next chunks. */
const MAX_PENDING_WRITES = 4


/** Receives the chunks of one accepted offer into its partial file. */
export class ChunkReceiver {
  readonly #framed: FramedStream
  readonly #init: ReceiveFileInit
  readonly #manifest: FileManifest
  readonly #read: () => Promise<Record<string, unknown>>
  readonly #n: number
  /** Writes in flight, oldest first. */
  readonly #writes: Array<Promise<void>> = []
  /** Chunks verified and handed to the store. */
  #next = 0
  /** Chunks recorded in the store's progress (data synced first). */
  #committed = 0
  #committing: Promise<void> | undefined
  #lastCommit = 0
  #remoteCancelled = false
  /** The offer's manifest is streamed: its hashes are filled in here and its root comes last. */
  readonly #streamed: boolean

  constructor (framed: FramedStream, init: ReceiveFileInit, manifest: FileManifest, read: () => Promise<Record<string, unknown>>) {
    this.#framed = framed
    this.#init = init
    this.#manifest = manifest
    this.#read = read
    this.#n = chunkCount(manifest.size, manifest.chunkSize)
    this.#streamed = manifest.streamed === true
  }

  /**
   * Accepts the offer, receives its chunks, checks the file on disk and moves it into place;
   * `contentId` names the delivered content by its root (known at the end for a streamed offer).
   */
  async run (key: string, name: string, publicOffer: FileOffer, contentId: ((root: Uint8Array) => Promise<string>) | undefined, reservation: ReturnType<DiskReservations['reserve']> | undefined,
    refuse: (err: Error) => Promise<never>, acceptEncrypted: (() => Promise<{ ek: Uint8Array, cipher: StreamCipher }>) | undefined): Promise<ReceivedFile> {
    const init = this.#init
    const manifest = this.#manifest
    const streamed = this.#streamed
    // a streamed offer's hashes are filled in as its chunks arrive
    if (streamed) manifest.chunkHashes = new Uint8Array(this.#n * BLAKE3_BYTES)
    let partial: PartialFile
    try {
      partial = await init.store.open(key, manifest, name, init.caller.ss58, { signal: init.signal })
    } catch (err) {
      return await refuse(toError(err))
    }
    try {
      // a streamed offer starts from nothing, whatever a store kept: there are no hashes to check it against
      if (streamed && partial.verifiedChunks > 0) await partial.rewind(0, { signal: init.signal })
      this.#next = this.#committed = streamed ? 0 : Math.min(partial.verifiedChunks, this.#n)
      const resumedFrom = Math.min(manifest.size, this.#next * manifest.chunkSize)
      let cipher: StreamCipher | undefined
      if (acceptEncrypted !== undefined) {
        const a = await acceptEncrypted()
        cipher = a.cipher
        this.#framed.send({ k: 'accept', from: this.#next, w: FILE_WINDOW_CHUNKS, ek: a.ek })
      } else {
        this.#framed.send({ k: 'accept', from: this.#next, w: FILE_WINDOW_CHUNKS })
      }
      // the window is enforced as chunks arrive: at most the credit granted may be unread
      this.#framed.limitPending(FILE_WINDOW_CHUNKS + 2, () => new CreditWindowExceededError(`${init.caller.ss58} sent more than the ${FILE_WINDOW_CHUNKS} chunks of credit it was granted`))
      init.onAccepted?.(publicOffer)
      let path: string
      try {
        await this.#receiveChunks(partial, cipher, resumedFrom, reservation)
        path = await this.#finish(partial)
      } catch (err) {
        await this.#fail(partial, toError(err))
        throw err
      }
      await init.delivered?.mark(`f:${manifest.id}`)
      if (contentId !== undefined) await init.delivered?.mark(await contentId(manifest.root))
      this.#framed.send({ k: 'done', r: manifest.root })
      await this.#framed.close().catch(() => {})
      return { id: manifest.id, from: init.caller.ss58, caller: init.caller, name, path, size: manifest.size, blake3: bytesToHex(manifest.root), resumedFrom }
    } finally {
      await partial.close().catch(() => {})
    }
  }

  async #receiveChunks (partial: PartialFile, cipher: StreamCipher | undefined, resumedFrom: number, reservation: ReturnType<DiskReservations['reserve']> | undefined): Promise<void> {
    const init = this.#init
    const manifest = this.#manifest
    const n = this.#n
    const h = await takeHasher()
    const streamed = this.#streamed
    const started = performance.now()
    this.#lastCommit = started
    let lastReport = 0
    try {
      while (this.#next < n) {
        if (init.signal?.aborted === true) throw init.signal.reason instanceof Error ? init.signal.reason : new OperationAbortedError()
        const frame = await this.#read()
        if (frame.k === 'cancel') {
          this.#remoteCancelled = true
          throw cancelledBy('sender', frame)
        }
        if (frame.k !== 'chunk') throw new InvalidFrameError(`expected a chunk, got ${String(frame.k)}`)
        const i = uintField(frame, 'i', 'chunk', n)
        const next = this.#next
        const length = chunkLength(next, manifest.size, manifest.chunkSize)
        let data = bytesField(frame, 'd', 'chunk', manifest.chunkSize + (cipher === undefined ? 0 : E2E_TAG_BYTES))
        if (i === next && cipher !== undefined) data = await cipher.open(i, data, i === n - 1)
        if (i !== next || data.byteLength !== length) throw new InvalidFrameError(`expected chunk ${next} of ${length} bytes, got chunk ${i} of ${data.byteLength}`)
        h.init()
        h.update(data)
        if (streamed) {
          // no hash to check against yet: keep it for the root the sender sends last
          manifest.chunkHashes.set(h.digest('binary'), i * BLAKE3_BYTES)
        } else if (!equalBytes(h.digest('binary'), manifest.chunkHashes.subarray(i * BLAKE3_BYTES, (i + 1) * BLAKE3_BYTES))) {
          throw new ChunkHashMismatchError(`chunk ${i} does not match its BLAKE3 hash in the manifest; nothing of it was written`)
        }
        // verified: write it, keeping a few writes in flight while the next chunk is hashed
        const write = partial.write(i * manifest.chunkSize, data, { signal: init.signal })
        write.then(() => { reservation?.written(length) }, () => {}) // awaited through #writes; this only keeps it from being unhandled
        this.#writes.push(write)
        this.#next++
        if (this.#writes.length > MAX_PENDING_WRITES) await this.#writes.shift()
        this.#framed.send({ k: 'credit', n: 1, at: this.#next })
        this.#commitSoon(partial)
        const now = performance.now()
        if (init.onProgress !== undefined && (now - lastReport > 200 || this.#next === n)) {
          lastReport = now
          const bytes = Math.min(manifest.size, this.#next * manifest.chunkSize)
          init.onProgress({ type: 'transfer:bytes', detail: { id: manifest.id, bytes, total: manifest.size, rate: (bytes - resumedFrom) / Math.max(1e-3, (now - started) / 1000) } })
        }
      }
      while (this.#writes.length > 0) await this.#writes.shift()
    } finally {
      releaseHasher(h)
    }
    if (streamed) await this.#checkRoot(partial)
  }

  /**
   * The end of a streamed offer: the sender's root, after its last chunk, must be the root
   * of the hashes of what arrived. Completes the manifest (the final check on disk then
   * verifies every chunk against those hashes); a mismatch drops the partial whole.
   */
  async #checkRoot (partial: PartialFile): Promise<void> {
    const frame = await this.#read()
    if (frame.k === 'cancel') {
      this.#remoteCancelled = true
      throw cancelledBy('sender', frame)
    }
    if (frame.k !== 'root') throw new InvalidFrameError(`expected the root after the last chunk, got ${String(frame.k)}`)
    const sent = bytesField(frame, 'r', 'root', BLAKE3_BYTES)
    const root = await completeStreamedManifest(this.#manifest)
    if (!equalBytes(sent, root)) {
      this.#next = this.#committed = 0
      await this.#committing
      await partial.rewind(0, { signal: this.#init.signal })
      throw new FileHashMismatchError(`The chunks received do not make the root the sender announced (${bytesToHex(sent)}); nothing was kept, send again`)
    }
  }

  /**
   * Records progress now and then without holding up the stream: once the writes so far
   * have settled, the store syncs them and then writes its record (one commit at a time).
   */
  #commitSoon (partial: PartialFile): void {
    const now = performance.now()
    if (this.#committing !== undefined || (this.#next - this.#committed < COMMIT_EVERY_CHUNKS && now - this.#lastCommit <= COMMIT_EVERY_MS)) return
    this.#lastCommit = now
    const upTo = this.#next
    const writes = [...this.#writes]
    this.#committing = (async () => {
      await Promise.all(writes)
      await partial.commit(upTo, { signal: this.#init.signal })
      this.#committed = Math.max(this.#committed, upTo)
    })().catch(() => {}).finally(() => { this.#committing = undefined }) // a failed write fails the stream's own await
  }

  /** Checks the whole file as it is on disk, then moves it into the inbox. */
  async #finish (partial: PartialFile): Promise<string> {
    const init = this.#init
    const manifest = this.#manifest
    await this.#committing
    // re-reading a large file and moving it into the inbox can take a while (OPFS copies
    // it): keep the sender's stall timer from firing with empty credits
    const keepalive = setInterval(() => { try { this.#framed.send({ k: 'credit', n: 0, at: this.#n }) } catch {} }, SENDER_STALL_MS / 4)
    try {
      const good = await verifyChunksOnDisk(manifest, 0, manifest.size, async (offset, length, into) => await partial.read(offset, length, { signal: init.signal, into }))
      if (good < this.#n) {
        this.#next = this.#committed = good
        await partial.rewind(good, { signal: init.signal })
        throw new PartialFileCorruptedError(`Chunk ${good} of ${manifest.name} no longer matches its hash on the receiver's disk; the partial was cut back to ${formatSize(good * manifest.chunkSize)}, send again to resume from there`)
      }
      return await partial.complete({ signal: init.signal })
    } finally {
      clearInterval(keepalive)
    }
  }

  /** Records what really reached the disk and tells the sender why the transfer ends. */
  async #fail (partial: PartialFile, err: Error): Promise<void> {
    await this.#committing
    // the chunks whose writes all succeeded
    const settled = await Promise.allSettled(this.#writes.splice(0))
    const firstFailed = settled.findIndex((r) => r.status === 'rejected')
    const onDisk = firstFailed < 0 ? this.#next : this.#next - settled.length + firstFailed
    if (onDisk > this.#committed) await partial.commit(onDisk).catch(() => {})
    if (this.#remoteCancelled) return // the sender ended it: nothing to tell it back
    // a cancel while we waited for a chunk surfaces as the read's abort: the sender is told the cancel's own reason
    const signal = this.#init.signal
    if (signal?.aborted === true && signal.reason instanceof Error) err = signal.reason
    const reason = isAbortError(err) ? new TransferCancelledError('The receiver cancelled the transfer') : forRemote(err, this.#init.log)
    try { this.#framed.send(cancelFrame(reason)); await this.#framed.close() } catch {}
  }
}
