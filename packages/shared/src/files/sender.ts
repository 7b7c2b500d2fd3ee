/**
 * The sending side of one file transfer.
 *
 * @packageDocumentation
 */
import { asRecord, bytesField, uintField } from '../wire/fields.ts'
import { encodeValue } from '../wire/codec.ts'
import { BLAKE3_BYTES } from '../constants.ts'
import { OperationAbortedError, ConnectionLostError, errorFromWire, FileRefusedError, FileTooLargeError, InsufficientDiskSpaceError, InvalidFrameError, ManifestRequiredError, toError, TransferCancelledError, isAbortError } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import { X25519_BYTES } from '../encryption/envelope.ts'
import type { StreamCipher } from '../encryption/envelope.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import { SENDER_STALL_MS } from './types.ts'
import type { FileManifest, FileSealer, FileSource, SendFileOptions, SendFileResult } from './types.ts'
import { bytesToHex, equalBytes } from '../bytes.ts'
import { chunkCount, chunkLength, completeStreamedManifest, manifestToWire } from './manifest.ts'
import { releaseHasher, takeHasher } from './hash.ts'
import type { Blake3Hasher } from './hash.ts'
import { cancelFrame, cancelledBy } from './frames.ts'
import { FrameKind, wireErrorOf } from '../rpc/frames.ts'


/** What the sender learned from the receiver's `accept`. */
interface Accepted {
  /** The first chunk to send. */
  from: number
  /** Bytes the receiver already had. */
  resumedFrom: number
  /** Seals the chunks, when the transfer is encrypted. */
  cipher: StreamCipher | undefined
}

/**
 * The sending side of one transfer over a freshly opened file stream: offers the manifest,
 * streams the chunks the receiver does not have within its credit window, and resolves
 * only after the receiver acknowledged the file in its inbox with the same root. A
 * streamed manifest ({@link FileManifest.streamed}) is completed here: each chunk is hashed
 * as it is read, and the root goes out after the last chunk (`{ k: 'root', r }`), once the
 * source is checked unchanged.
 */
export class FileSender {
  readonly #framed: FramedStream
  readonly #source: FileSource
  readonly #manifest: FileManifest
  readonly #options: SendFileOptions & { e2e?: FileSealer | undefined }
  readonly #n: number
  #credit = 0
  #failure: Error | undefined
  #doneRoot: Uint8Array | undefined
  #wake: (() => void) | undefined
  #stall: ReturnType<typeof setTimeout> | undefined
  /**
   * Two read buffers, reused chunk after chunk: a chunk's bytes are copied out (into its frame,
   * or by the cipher) before the chunk after next is read into the same buffer.
   */
  readonly #buffers: [Uint8Array, Uint8Array]
  /** Hashes the chunks of a streamed manifest as they are read. */
  #hasher: Blake3Hasher | undefined
  /** The manifest was streamed when this transfer began (read once: a shared manifest object may be completed by another send). */
  readonly #streamed: boolean

  constructor (framed: FramedStream, source: FileSource, manifest: FileManifest, options: SendFileOptions & { e2e?: FileSealer | undefined } = {}) {
    this.#framed = framed
    this.#source = source
    this.#manifest = manifest
    this.#options = options
    this.#n = chunkCount(manifest.size, manifest.chunkSize)
    this.#streamed = manifest.streamed === true
    // a streamed manifest has no room for its hashes until it is sent (see createManifest, manifestFromWire)
    if (this.#streamed && manifest.chunkHashes.byteLength !== this.#n * BLAKE3_BYTES) manifest.chunkHashes = new Uint8Array(this.#n * BLAKE3_BYTES)
    this.#buffers = [new Uint8Array(0), new Uint8Array(0)]
  }

  /** Runs the transfer; resolves on the receiver's final ack. */
  async send (): Promise<Omit<SendFileResult, 'ms'>> {
    const { signal } = this.#options
    const manifest = this.#manifest
    throwIfAborted(signal)
    const sealed = await this.#offer()
    const reply = asRecord(await this.#reply(), 'offer reply')
    if (reply.k === 'refuse') return await this.#refused(reply)
    // the whole channel is refused (not admitted to the subnet, not authenticated, takes no files)
    if (reply.k === FrameKind.Refused) {
      await this.#framed.close().catch(() => {})
      throw errorFromWire(wireErrorOf(reply))
    }
    if (reply.k === 'done') {
      // the receiver already has this transfer (a retry after a lost ack)
      if (!equalBytes(bytesField(reply, 'r', 'done', BLAKE3_BYTES), manifest.root)) throw new InvalidFrameError('The receiver acknowledged another root than the one offered')
      await this.#framed.close().catch(() => {})
      return { id: manifest.id, name: manifest.name, size: manifest.size, blake3: bytesToHex(manifest.root), bytesSent: 0, resumedFrom: manifest.size }
    }
    if (reply.k !== 'accept') throw new InvalidFrameError(`expected accept, refuse, done or a refusal (7), got ${String(reply.k)}`)
    const accepted = await this.#accepted(reply, sealed)
    if (this.#streamed && accepted.from !== 0) {
      const e = new InvalidFrameError(`A streamed offer is accepted from chunk 0 only, the receiver asked for ${accepted.from}`)
      this.#framed.abort(e)
      throw e
    }
    this.#listen()
    const bytesSent = await this.#stream(accepted)
    if (this.#doneRoot === undefined || !equalBytes(this.#doneRoot, manifest.root)) {
      throw new InvalidFrameError('The receiver acknowledged another root than the one offered')
    }
    await this.#framed.close().catch(() => {})
    return { id: manifest.id, name: manifest.name, size: manifest.size, blake3: bytesToHex(manifest.root), bytesSent, resumedFrom: accepted.resumedFrom }
  }

  /** Sends the offer, sealed when the transfer is encrypted. */
  async #offer (): Promise<Awaited<ReturnType<FileSealer['sealOffer']>> | undefined> {
    const e2e = this.#options.e2e
    if (e2e === undefined) {
      this.#framed.send({ k: 'offer', m: manifestToWire(this.#manifest) })
      return undefined
    }
    const sealed = await e2e.sealOffer(encodeValue(manifestToWire(this.#manifest)))
    this.#framed.send({ k: 'offer', id: this.#manifest.id, x: sealed.x })
    return sealed
  }

  /**
   * The receiver's answer to the offer. Stopped meanwhile (while its user decides, say), we
   * tell it so: it gives up the transfer and its claim instead of waiting for chunks.
   */
  async #reply (): Promise<unknown> {
    try {
      return await this.#framed.readFrame({ signal: this.#options.signal })
    } catch (err) {
      const e = toError(err)
      await this.#abandon(e)
      throw e
    }
  }

  async #refused (reply: Record<string, unknown>): Promise<never> {
    const reason = errorFromWire(asRecord(reply.e, 'refusal') as { name: string, message: string })
    await this.#framed.close().catch(() => {})
    throw reason.name === FileTooLargeError.name || reason.name === InsufficientDiskSpaceError.name || reason.name === FileRefusedError.name || reason.name === ManifestRequiredError.name
      ? reason
      : new FileRefusedError(`${reason.name}: ${reason.message}`, { cause: reason })
  }

  async #accepted (reply: Record<string, unknown>, sealed: Awaited<ReturnType<FileSealer['sealOffer']>> | undefined): Promise<Accepted> {
    const manifest = this.#manifest
    const from = uintField(reply, 'from', 'accept', this.#n)
    this.#credit = Math.max(1, Math.min(uintField(reply, 'w', 'accept', 1024), 64))
    const resumedFrom = Math.min(manifest.size, from * manifest.chunkSize)
    let cipher: StreamCipher | undefined
    if (sealed !== undefined) {
      const ek = bytesField(reply, 'ek', 'accept', X25519_BYTES)
      cipher = await sealed.dataCipher(ek)
    }
    return { from, resumedFrom, cipher }
  }

  /** Takes credit, the final ack and cancels from the receiver. */
  #listen (): void {
    this.#framed.onFrame((frame) => {
      this.#armStall()
      try {
        const rec = asRecord(frame, 'receiver frame')
        if (rec.k === 'credit') this.#credit += uintField(rec, 'n', 'credit', 1024)
        else if (rec.k === 'done') this.#doneRoot = bytesField(rec, 'r', 'done', BLAKE3_BYTES)
        else if (rec.k === 'cancel') this.#failure = cancelledBy('receiver', rec)
        else throw new InvalidFrameError(`unexpected frame ${String(rec.k)} from the receiver`)
      } catch (err) {
        this.#failure = toError(err)
      }
      this.#notify()
    })
    this.#framed.onEnd((err) => {
      if (this.#doneRoot === undefined) {
        this.#failure ??= err === undefined
          ? new ConnectionLostError('The receiver closed the transfer stream')
          : new ConnectionLostError(`Lost the connection to the receiver (${err.message}); send again to resume`, { cause: err })
      }
      this.#notify()
    })
  }

  /**
   * A receiver that vanished without the transport noticing (e.g. a killed process behind
   * WebRTC) would leave us waiting for credit forever: give up after a quiet spell.
   */
  #armStall (): void {
    const stallMs = this.#options.stallTimeoutMs ?? SENDER_STALL_MS
    clearTimeout(this.#stall)
    this.#stall = setTimeout(() => {
      this.#failure ??= new ConnectionLostError(`The receiver stopped answering for ${Math.round(stallMs / 1000)} s; send again to resume`)
      this.#framed.abort(this.#failure)
      this.#notify()
    }, stallMs)
  }

  #notify (): void {
    const w = this.#wake
    this.#wake = undefined
    w?.()
  }

  async #waitFor (ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.#failure !== undefined) throw this.#failure
      if (this.#options.signal?.aborted === true) throw new OperationAbortedError()
      await new Promise<void>((resolve) => { this.#wake = resolve })
    }
    if (this.#failure !== undefined) throw this.#failure
  }

  /** Reads one chunk ahead (sealed when encrypted), so the disk works while we wait for credit. */
  #readChunk (i: number, cipher: StreamCipher | undefined): Promise<Uint8Array> | undefined {
    const manifest = this.#manifest
    const n = this.#n
    if (i >= n) return undefined
    const length = chunkLength(i, manifest.size, manifest.chunkSize)
    const slot = i % 2 as 0 | 1
    if (this.#buffers[slot].byteLength < length) this.#buffers[slot] = new Uint8Array(manifest.chunkSize)
    const h = this.#hasher
    let read = this.#source.read(i * manifest.chunkSize, length, { signal: this.#options.signal, into: this.#buffers[slot] })
    if (h !== undefined) {
      // a streamed manifest: the hash of the plaintext, before it is sealed or sent
      read = read.then((d) => {
        h.init()
        h.update(d)
        manifest.chunkHashes.set(h.digest('binary'), i * BLAKE3_BYTES)
        return d
      })
    }
    const p = cipher === undefined ? read : read.then(async (d) => await cipher.seal(i, d, i === n - 1))
    p.catch(() => {}) // awaited below; this only keeps an early exit from leaving it unhandled
    return p
  }

  /** Streams the chunks from `from` on and waits for the final ack; returns the bytes sent. */
  async #stream ({ from, resumedFrom, cipher }: Accepted): Promise<number> {
    const { signal, onProgress } = this.#options
    const manifest = this.#manifest
    const framed = this.#framed
    const onAbort = (): void => { this.#notify() }
    signal?.addEventListener('abort', onAbort)
    let bytesSent = 0
    const started = performance.now()
    let lastReport = 0
    this.#armStall()
    if (this.#streamed) this.#hasher = await takeHasher()
    let ahead: Promise<Uint8Array> | undefined
    try {
      ahead = this.#readChunk(from, cipher)
      for (let i = from; i < this.#n; i++) {
        throwIfAborted(signal)
        const length = chunkLength(i, manifest.size, manifest.chunkSize)
        const data = await (ahead as Promise<Uint8Array>)
        ahead = this.#readChunk(i + 1, cipher)
        await this.#waitFor(() => this.#credit > 0)
        this.#credit--
        framed.send({ k: 'chunk', i, d: data })
        bytesSent += length
        const now = performance.now()
        if (onProgress !== undefined && (now - lastReport > 200 || i === this.#n - 1)) {
          lastReport = now
          onProgress({ type: 'transfer:bytes', detail: { id: manifest.id, bytes: resumedFrom + bytesSent, total: manifest.size, rate: bytesSent / Math.max(1e-3, (now - started) / 1000) } })
        }
        await framed.waitWritable({ signal })
      }
      await this.#source.check?.({ signal })
      throwIfAborted(signal)
      // the root of what was read and sent, once the source is known unchanged
      if (this.#streamed) framed.send({ k: 'root', r: await completeStreamedManifest(manifest) })
      await this.#waitFor(() => this.#doneRoot !== undefined)
    } catch (err) {
      const e = toError(err)
      await this.#abandon(e)
      throw e
    } finally {
      // a read still in flight (an early exit) hashes with it when it lands: back to the pool only after
      if (this.#hasher !== undefined) {
        await ahead?.catch(() => {})
        releaseHasher(this.#hasher)
      }
      this.#hasher = undefined
      clearTimeout(this.#stall)
      signal?.removeEventListener('abort', onAbort)
    }
    return bytesSent
  }

  /** Tells the receiver why we stop (a cancel or a changed source), or drops the stream. */
  async #abandon (e: Error): Promise<void> {
    if (isAbortError(e) || e.name === 'SourceChangedError') {
      try {
        this.#framed.send(cancelFrame(isAbortError(e) ? new TransferCancelledError('The sender cancelled the transfer') : e))
        await this.#framed.close()
      } catch {}
    } else if (this.#failure === undefined) {
      this.#framed.abort(e)
    }
  }
}

/**
 * Sends a file over a freshly opened file stream. Resolves only after the receiver
 * acknowledged the file in its inbox with the same root.
 */
export async function sendFileOverStream (framed: FramedStream, source: FileSource, manifest: FileManifest, options: SendFileOptions & { e2e?: FileSealer | undefined } = {}): Promise<Omit<SendFileResult, 'ms'>> {
  return await new FileSender(framed, source, manifest, options).send()
}
