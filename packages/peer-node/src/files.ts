/**
 * File storage on Node: partial transfers in `<dir>/partial/<key>.part` with their
 * verified progress in `<key>.json`, completed files in `<dir>/inbox/<sender ss58>/<name>`.
 *
 * @packageDocumentation
 */
import { link, mkdir, open, readFile, stat, statfs, unlink } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { bytesToHex, chunkCount, FileRefusedError, isSs58, SourceChangedError, verifyChunksOnDisk } from '@subwire/shared'
import { writeFileAtomic } from './home.ts'
import type { AbortOptions, FileManifest, FileSource, FileStore, PartialFile, PartialProgress } from '@subwire/shared'
import type { FileHandle } from 'node:fs/promises'

async function readProgress (path: string): Promise<PartialProgress | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PartialProgress
  } catch {
    return undefined
  }
}

/** A directory that receives files. */
export class NodeFileStore implements FileStore {
  /** The storage directory. */
  readonly dir: string
  readonly #open = new Set<string>()

  constructor (dir: string) {
    this.dir = dir
  }

  /** Where completed files land. */
  get inbox (): string { return join(this.dir, 'inbox') }
  /** Where partial transfers are kept. */
  get partial (): string { return join(this.dir, 'partial') }

  async freeBytes (): Promise<number | undefined> {
    await mkdir(this.dir, { recursive: true })
    const s = await statfs(this.dir)
    return s.bavail * s.bsize
  }

  async open (key: string, manifest: FileManifest, name: string, sender: string): Promise<PartialFile> {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new FileRefusedError('bad transfer key')
    if (!isSs58(sender)) throw new FileRefusedError('bad sender')
    if (this.#open.has(key)) throw new FileRefusedError('the same file from the same sender is already being received')
    await mkdir(this.partial, { recursive: true, mode: 0o700 })
    const partPath = join(this.partial, `${key}.part`)
    const progressPath = join(this.partial, `${key}.json`)
    const root = bytesToHex(manifest.root)
    const old = await readProgress(progressPath)
    let verified = 0
    let handle: FileHandle
    if (old !== undefined && old.root === root && old.size === manifest.size && old.chunkSize === manifest.chunkSize) {
      try {
        handle = await open(partPath, 'r+')
        // progress is recorded now and then: re-verify what is on disk past the record
        const { size } = await handle.stat()
        const h = handle
        verified = await verifyChunksOnDisk(manifest, Math.min(old.verifiedChunks, chunkCount(manifest.size, manifest.chunkSize)), size, async (offset, length) => {
          const buf = Buffer.allocUnsafe(length)
          const { bytesRead } = await h.read(buf, 0, length, offset)
          return buf.subarray(0, bytesRead)
        })
        // bytes past the verified prefix may be a torn write from a crash: drop them
        await handle.truncate(Math.min(manifest.size, verified * manifest.chunkSize))
      } catch {
        handle = await open(partPath, 'w+', 0o600)
        verified = 0
      }
    } else {
      handle = await open(partPath, 'w+', 0o600)
    }
    const progress: PartialProgress = { v: 1, root, size: manifest.size, chunkSize: manifest.chunkSize, name, sender, verifiedChunks: verified }
    await writeFileAtomic(progressPath, JSON.stringify(progress))
    this.#open.add(key)
    const inbox = join(this.inbox, sender)
    let closed = false
    const release = async (): Promise<void> => {
      if (closed) return
      closed = true
      this.#open.delete(key)
      await handle.close()
    }
    return {
      verifiedChunks: verified,
      write: async (offset: number, bytes: Uint8Array) => {
        let done = 0
        while (done < bytes.byteLength) {
          const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, offset + done)
          done += bytesWritten
        }
      },
      commit: async (verifiedChunks: number) => {
        progress.verifiedChunks = verifiedChunks
        await writeFileAtomic(progressPath, JSON.stringify(progress))
      },
      complete: async () => {
        await handle.sync()
        await release()
        await mkdir(inbox, { recursive: true, mode: 0o700 })
        const path = await linkUnique(partPath, inbox, name)
        await unlink(partPath)
        await unlink(progressPath)
        return path
      },
      close: release
    }
  }
}

/** Hard-links `from` into `dir` under `name`, or `name (1)`, `name (2)`… : never overwrites. */
async function linkUnique (from: string, dir: string, name: string): Promise<string> {
  const ext = extname(name)
  const base = ext.length > 0 && ext.length < name.length ? name.slice(0, -ext.length) : name
  for (let i = 0; i < 10_000; i++) {
    const candidate = join(dir, i === 0 ? name : `${base} (${i})${ext === name ? '' : ext}`)
    try {
      await link(from, candidate)
      return candidate
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
  throw new FileRefusedError(`too many files named ${name}`)
}

/** A file on disk as a {@link FileSource}; detects a change of size or mtime while sending. */
export class NodeFileSource implements FileSource {
  readonly name: string
  readonly size: number
  /** The path it was opened from. */
  readonly path: string
  /** Its modification time when opened (ms). */
  readonly mtimeMs: number
  readonly #handle: FileHandle

  private constructor (path: string, handle: FileHandle, size: number, mtimeMs: number, name: string) {
    this.path = path
    this.#handle = handle
    this.size = size
    this.mtimeMs = mtimeMs
    this.name = name
  }

  /** Opens a regular file. */
  static async open (path: string, name = basename(path)): Promise<NodeFileSource> {
    const handle = await open(path, 'r')
    try {
      const s = await handle.stat()
      if (!s.isFile()) throw new SourceChangedError(`${path} is not a regular file`)
      return new NodeFileSource(path, handle, s.size, s.mtimeMs, name)
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  async read (offset: number, length: number, options: AbortOptions = {}): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      if (options.signal?.aborted === true) throw options.signal.reason as Error
      const { bytesRead } = await this.#handle.read(buf, done, length - done, offset + done)
      if (bytesRead === 0) throw new SourceChangedError(`${this.path} is shorter than when it was opened`)
      done += bytesRead
    }
    return buf
  }

  async check (): Promise<void> {
    const s = await stat(this.path)
    if (s.size !== this.size || s.mtimeMs !== this.mtimeMs) throw new SourceChangedError(`${this.path} changed while it was being sent`)
  }

  async close (): Promise<void> {
    await this.#handle.close()
  }
}

