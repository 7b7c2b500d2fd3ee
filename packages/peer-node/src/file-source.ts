/**
 * A file on disk as a {@link FileSource}: read chunk by chunk, a change of size or mtime
 * while it is sent detected, and (with an {@link Outboard}) its chunk hashes kept between
 * sends, so a re-send, a resume or a queued copy of an unchanged file skips the hashing
 * pass; every chunk read is then checked against the kept hashes.
 *
 * @packageDocumentation
 */
import { open, stat } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { SourceChangedError } from '@subwire/shared'
import { takeHasher, releaseHasher } from '@subwire/shared/protocol'
import type { AbortOptions, FileManifest, FileSource, ManifestCache, ReadOptions } from '@subwire/shared'
import type { FileHandle } from 'node:fs/promises'
import { sourceKeyOf } from './outboard.ts'
import type { Outboard } from './outboard.ts'

/** Options of {@link NodeFileSource.open}. */
export interface NodeFileSourceInit {
  /** Keeps the file's chunk hashes between sends (default: none, every send hashes). */
  outboard?: Outboard | undefined
}

/** A regular file, opened for sending. */
export class NodeFileSource implements FileSource {
  readonly name: string
  readonly size: number
  /** The path it was opened from. */
  readonly path: string
  /** Its modification time when opened (ms). */
  readonly mtimeMs: number
  readonly outboard: ManifestCache | undefined
  readonly #handle: FileHandle
  /** The kept hashes every read is checked against, once they were served instead of a hashing pass. */
  #expected: { chunkSize: number, chunkHashes: Uint8Array } | undefined

  private constructor (path: string, handle: FileHandle, s: { size: number, mtimeMs: number, ino: number, dev: number }, name: string, outboard: Outboard | undefined) {
    this.path = path
    this.#handle = handle
    this.size = s.size
    this.mtimeMs = s.mtimeMs
    this.name = name
    const key = { path: resolve(path), size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, dev: s.dev }
    this.outboard = outboard === undefined
      ? undefined
      : {
          get: async (chunkSize: number) => {
            const kept = await outboard.get(key, chunkSize)
            if (kept !== undefined) this.#expected = { chunkSize, chunkHashes: kept.chunkHashes }
            return kept
          },
          put: async (manifest: FileManifest) => { await outboard.put(key, manifest) },
          sourceKey: sourceKeyOf(key)
        }
  }

  /** Opens a regular file. */
  static async open (path: string, name = basename(path), init: NodeFileSourceInit = {}): Promise<NodeFileSource> {
    const handle = await open(path, 'r')
    try {
      const s = await handle.stat()
      if (!s.isFile()) throw new SourceChangedError(`${path} is not a regular file`)
      return new NodeFileSource(path, handle, s, name, init.outboard)
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  async read (offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
    const into = options.into
    const buf = into !== undefined && into.byteLength >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      if (options.signal?.aborted === true) throw options.signal.reason as Error
      const { bytesRead } = await this.#handle.read(buf, done, length - done, offset + done)
      if (bytesRead === 0) throw new SourceChangedError(`${this.path} is shorter than when it was opened`)
      done += bytesRead
    }
    if (this.#expected !== undefined) await this.#verify(offset, buf)
    return buf
  }

  /** A whole chunk read after the kept hashes were used must still match them. */
  async #verify (offset: number, data: Uint8Array): Promise<void> {
    const { chunkSize, chunkHashes } = this.#expected as { chunkSize: number, chunkHashes: Uint8Array }
    if (offset % chunkSize !== 0) return
    const i = offset / chunkSize
    const expected = chunkHashes.subarray(i * 32, (i + 1) * 32)
    if (expected.byteLength !== 32 || (data.byteLength !== chunkSize && offset + data.byteLength !== this.size)) return
    const h = await takeHasher()
    try {
      h.init()
      h.update(data)
      const got = h.digest('binary')
      for (let j = 0; j < 32; j++) {
        if (got[j] !== expected[j]) throw new SourceChangedError(`${this.path}: chunk ${i} differs from when it was last hashed (changed without a new mtime)`)
      }
    } finally {
      releaseHasher(h)
    }
  }

  async check (): Promise<void> {
    const s = await stat(this.path)
    if (s.size !== this.size || s.mtimeMs !== this.mtimeMs) throw new SourceChangedError(`${this.path} changed while it was being sent`)
  }

  async close (): Promise<void> {
    await this.#handle.close()
  }
}
