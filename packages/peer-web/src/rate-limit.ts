/**
 * The upload bandwidth limit of the browser peer: one pacer shared by every file this
 * peer sends, on the sending path (the chunk reads the file sender makes as it streams),
 * never on the hashing pass. A limit of 0 (the default) sends as fast as the link goes;
 * a change applies from the next chunk on, also to transfers already moving.
 *
 * @packageDocumentation
 */
import { OperationAbortedError, InvalidConfigError } from '@subwire/shared'
import type { AbortOptions, FileSource, ManifestCache } from '@subwire/shared'

/** Paces bytes to at most {@link UploadLimiter.bytesPerSecond}, across every upload. */
export class UploadLimiter {
  #rate = 0
  /** When the next read may start (ms, performance clock): each read pushes it by its own length's time. */
  #next = 0

  /** The limit in bytes per second; 0: none. */
  get bytesPerSecond (): number { return this.#rate }

  set bytesPerSecond (rate: number) {
    if (!Number.isFinite(rate) || rate < 0) throw new InvalidConfigError(`An upload limit must be a number of bytes per second, 0 or more (got ${rate})`)
    this.#rate = rate
    this.#next = 0
  }

  /** Waits until `bytes` more may go out (at once when there is no limit). */
  async take (bytes: number, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#rate === 0) return
    const now = performance.now()
    const start = Math.max(now, this.#next)
    this.#next = start + bytes / this.#rate * 1000
    const wait = start - now
    if (wait <= 0) return
    const signal = options.signal
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { clearTimeout(timer); reject(new OperationAbortedError()) }
      const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, wait)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** A {@link FileSource} whose reads wait for the {@link UploadLimiter} first. */
export class LimitedFileSource implements FileSource {
  readonly #source: FileSource
  readonly #limiter: UploadLimiter

  constructor (source: FileSource, limiter: UploadLimiter) {
    this.#source = source
    this.#limiter = limiter
  }

  get name (): string { return this.#source.name }
  get size (): number { return this.#source.size }
  get outboard (): ManifestCache | undefined { return this.#source.outboard }

  async read (offset: number, length: number, options: AbortOptions = {}): Promise<Uint8Array> {
    await this.#limiter.take(length, options)
    return await this.#source.read(offset, length, options)
  }

  async check (options?: AbortOptions): Promise<void> { await this.#source.check?.(options) }
  async close (): Promise<void> { await this.#source.close?.() }
}
