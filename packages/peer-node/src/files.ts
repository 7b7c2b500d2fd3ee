/**
 * File storage on Node: partial transfers in `<dir>/partial/<key>.part` with their
 * progress in `<key>.json` (data synced before each record; a resume re-verifies the data
 * anyway), completed files in `<dir>/inbox/<sender ss58>/<name>`. A folder's verified
 * files wait in `<dir>/partial/<folder key>.d/<relative path>` and the directory is
 * renamed into the inbox in one step once all are there. Every handle is closed
 * on every path, a full disk is the typed `InsufficientDiskSpaceError`, and partials left
 * by senders that never came back are collected after an age.
 *
 * @packageDocumentation
 */
import { link, mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink } from 'node:fs/promises'
import { dirname, extname, join } from 'node:path'
import { FileRefusedError, TransferInProgressError, InsufficientDiskSpaceError, isSs58 } from '@subwire/shared'
import { bytesToHex, chunkCount, safeFolderPaths, verifyChunksOnDisk } from '@subwire/shared/protocol'
import { writeFileAtomic } from './home.ts'
import type { FileManifest, FileStore, FolderManifest, FolderStaging, PartialFile, PartialProgress, ReadOptions } from '@subwire/shared'

export { NodeFileSource } from './file-source.ts'
import type { FileHandle } from 'node:fs/promises'

async function readProgress (path: string): Promise<PartialProgress | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PartialProgress
  } catch {
    return undefined
  }
}

/** Options of a {@link NodeFileStore}. */
export interface NodeFileStoreInit {
  /**
   * Partial transfers untouched for this long are deleted by {@link NodeFileStore.collect}
   * (a sender that never came back).
   *
   * @default 7 days
   */
  partialMaxAgeMs?: number | undefined
}

/** Default of {@link NodeFileStoreInit.partialMaxAgeMs}. */
export const DEFAULT_PARTIAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000

const isNoSpace = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

/** A write that found the disk full, as the typed, resumable error the sender is told. */
function noSpace (err: unknown): unknown {
  return isNoSpace(err)
    ? new InsufficientDiskSpaceError('The receiver ran out of disk space; it keeps what it has and resumes when space is free', { cause: err })
    : err
}

/** A directory that receives files. */
export class NodeFileStore implements FileStore {
  /** The storage directory. */
  readonly dir: string
  readonly #open = new Set<string>()
  readonly #partialMaxAgeMs: number

  constructor (dir: string, init: NodeFileStoreInit = {}) {
    this.dir = dir
    this.#partialMaxAgeMs = init.partialMaxAgeMs ?? DEFAULT_PARTIAL_MAX_AGE_MS
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

  async partialBytes (key: string): Promise<number> {
    if (!KEY.test(key)) return 0
    try {
      return (await stat(join(this.partial, `${key}.part`))).size
    } catch {
      return 0
    }
  }

  async hasPartialOf (sender: string, name: string, size: number): Promise<boolean> {
    let names: string[]
    try {
      names = (await readdir(this.partial)).filter((n) => KEY.test(n.slice(0, -5)) && n.endsWith('.json'))
    } catch {
      return false
    }
    for (const n of names) {
      const p = await readProgress(join(this.partial, n))
      if (p !== undefined && p.sender === sender && p.name === name && p.size === size && await this.partialBytes(n.slice(0, -5)) > 0) return true
    }
    return false
  }

  async received (sender: string, name: string, size: number): Promise<boolean> {
    if (!isSs58(sender) || name.includes('/') || name.startsWith('.')) return false
    try {
      const s = await stat(join(this.inbox, sender, name))
      return s.isFile() && s.size === size
    } catch {
      return false
    }
  }

  /**
   * Deletes the partial transfers nobody has touched for `partialMaxAgeMs` (data, progress
   * record and any leftover of an interrupted record write). Returns how many went.
   */
  async collect (now = Date.now()): Promise<number> {
    let names: string[]
    try {
      names = await readdir(this.partial)
    } catch {
      return 0
    }
    // a transfer's files go together: stale only when none of them was touched lately
    const byKey = new Map<string, Array<{ path: string, mtimeMs: number }>>()
    for (const name of names) {
      const key = name.split('.')[0] as string
      try {
        const { mtimeMs } = await stat(join(this.partial, name))
        byKey.set(key, [...(byKey.get(key) ?? []), { path: join(this.partial, name), mtimeMs }])
      } catch {}
    }
    let removed = 0
    for (const [key, files] of byKey) {
      if (this.#open.has(key) || files.some((f) => now - f.mtimeMs <= this.#partialMaxAgeMs)) continue
      for (const f of files) await rm(f.path, { recursive: true, force: true }).catch(() => {})
      removed++
    }
    return removed
  }

  async open (key: string, manifest: FileManifest, name: string, sender: string, _options?: unknown, land?: (partPath: string) => Promise<string>): Promise<PartialFile> {
    if (!KEY.test(key)) throw new FileRefusedError('bad transfer key')
    if (!isSs58(sender)) throw new FileRefusedError('bad sender')
    if (this.#open.has(key)) throw new TransferInProgressError()
    this.#open.add(key)
    try {
      return await this.#openPartial(key, manifest, name, sender, land)
    } catch (err) {
      this.#open.delete(key)
      throw noSpace(err)
    }
  }

  /**
   * The staging of a folder: `<partial>/<key>.d/`, kept between attempts. Each entry is
   * received as a partial file of its own and hard-linked into the staging at its
   * (sanitised) relative path once verified; `complete()` renames the directory into the
   * inbox, over nothing (an empty directory made for it first claims the name).
   */
  async openFolder (key: string, folder: FolderManifest, name: string, sender: string): Promise<FolderStaging> {
    if (!KEY.test(key)) throw new FileRefusedError('bad transfer key')
    if (!isSs58(sender) || name.includes('/') || name.startsWith('.')) throw new FileRefusedError('bad sender or folder name')
    if (this.#open.has(key)) throw new TransferInProgressError('The same folder from the same sender is already being received; try again when that transfer ends')
    const paths = safeFolderPaths(folder.entries)
    const dir = join(this.partial, `${key}.d`)
    this.#open.add(key)
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 })
    } catch (err) {
      this.#open.delete(key)
      throw noSpace(err)
    }
    let closed = false
    return {
      open: async (index, fileKey, manifest) => {
        const rel = paths[index]
        if (rel === undefined) throw new FileRefusedError('no such folder entry')
        const target = join(dir, ...rel.split('/'))
        const staged = await stagedFile(target, manifest)
        if (staged !== undefined) return staged
        return await this.open(fileKey, manifest, rel, sender, undefined, async (partPath) => {
          await mkdir(dirname(target), { recursive: true, mode: 0o700 })
          await rm(target, { force: true })
          await link(partPath, target)
          return target
        })
      },
      complete: async () => {
        const inbox = join(this.inbox, sender)
        await mkdir(inbox, { recursive: true, mode: 0o700 })
        const path = await claimDir(inbox, name)
        await rename(dir, path)
        return path
      },
      close: async () => {
        if (closed) return
        closed = true
        this.#open.delete(key)
      }
    }
  }

  async #openPartial (key: string, manifest: FileManifest, name: string, sender: string, land: ((partPath: string) => Promise<string>) | undefined): Promise<PartialFile> {
    await mkdir(this.partial, { recursive: true, mode: 0o700 })
    const partPath = join(this.partial, `${key}.part`)
    const progressPath = join(this.partial, `${key}.json`)
    const root = bytesToHex(manifest.root)
    const { chunkSize } = manifest
    const old = await readProgress(progressPath)
    // a streamed attempt's partial (its root unknown then) resumes under the hashed manifest of the same source
    const resumable = old !== undefined && root !== '' && (old.root === root || old.root === '') && old.size === manifest.size && old.chunkSize === chunkSize
    const handle = resumable ? await open(partPath, 'r+').catch(async () => await open(partPath, 'w+', 0o600)) : await open(partPath, 'w+', 0o600)
    let verified = 0
    try {
      if (resumable) {
        // what an earlier attempt left is trusted only as far as it verifies, from its first chunk
        const { size } = await handle.stat()
        verified = await verifyChunksOnDisk(manifest, 0, size, async (offset, length, into) => await readAt(handle, offset, length, into))
        await handle.truncate(Math.min(manifest.size, verified * chunkSize))
      }
      const progress: PartialProgress = { v: 1, root, size: manifest.size, chunkSize, name, sender, verifiedChunks: verified }
      const record = async (verifiedChunks: number): Promise<void> => {
        progress.verifiedChunks = verifiedChunks
        await writeFileAtomic(progressPath, JSON.stringify(progress))
      }
      await record(verified)
      return this.#partialFile(key, handle, verified, record, { partPath, progressPath, inbox: join(this.inbox, sender), name, chunkSize, land })
    } catch (err) {
      await handle.close().catch(() => {})
      throw err
    }
  }

  #partialFile (key: string, handle: FileHandle, verified: number, record: (verifiedChunks: number) => Promise<void>,
    at: { partPath: string, progressPath: string, inbox: string, name: string, chunkSize: number, land: ((partPath: string) => Promise<string>) | undefined }): PartialFile {
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
        try {
          while (done < bytes.byteLength) {
            const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, offset + done)
            done += bytesWritten
          }
        } catch (err) {
          throw noSpace(err)
        }
      },
      commit: async (verifiedChunks: number) => {
        // the data first: a record never names chunks a power cut could still take away
        try {
          await handle.datasync()
          await record(verifiedChunks)
        } catch (err) {
          throw noSpace(err)
        }
      },
      read: async (offset: number, length: number, options?: ReadOptions) => await readAt(handle, offset, length, options?.into),
      rewind: async (verifiedChunks: number) => {
        await handle.truncate(verifiedChunks * at.chunkSize)
        await handle.datasync()
        await record(verifiedChunks)
      },
      complete: async () => {
        await handle.sync()
        await release()
        let path: string
        if (at.land !== undefined) {
          path = await at.land(at.partPath)
        } else {
          await mkdir(at.inbox, { recursive: true, mode: 0o700 })
          path = await linkUnique(at.partPath, at.inbox, at.name)
        }
        await unlink(at.partPath)
        await unlink(at.progressPath)
        return path
      },
      close: release
    }
  }
}

const KEY = /^[0-9a-f]{64}$/

/** Reads up to `length` bytes at `offset` (fewer at the end of the file). */
async function readAt (handle: FileHandle, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  const buf = into !== undefined && into.byteLength >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, offset + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buf.subarray(0, done)
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

/**
 * A folder entry an earlier attempt already verified into the staging: served complete if
 * every chunk still matches `manifest`, else removed (it is received again).
 */
async function stagedFile (target: string, manifest: FileManifest): Promise<PartialFile | undefined> {
  let handle: FileHandle
  try {
    handle = await open(target, 'r')
  } catch {
    return undefined
  }
  const n = chunkCount(manifest.size, manifest.chunkSize)
  try {
    const { size } = await handle.stat()
    if (size === manifest.size && await verifyChunksOnDisk(manifest, 0, size, async (offset, length, into) => await readAt(handle, offset, length, into)) === n) {
      let closed = false
      const close = async (): Promise<void> => { if (!closed) { closed = true; await handle.close() } }
      return {
        verifiedChunks: n,
        write: async () => { throw new FileRefusedError('a staged folder entry is complete') },
        commit: async () => {},
        read: async (offset: number, length: number, options?: ReadOptions) => await readAt(handle, offset, length, options?.into),
        rewind: async () => { await close(); await rm(target, { force: true }) },
        complete: async () => { await close(); return target },
        close
      }
    }
  } catch {}
  await handle.close().catch(() => {})
  await rm(target, { force: true })
  return undefined
}

/** Makes an empty directory `name`, or `name (1)`, `name (2)`… in `dir`, and returns it: a folder moved onto it takes the name whole. */
async function claimDir (dir: string, name: string): Promise<string> {
  for (let i = 0; i < 10_000; i++) {
    const candidate = join(dir, i === 0 ? name : `${name} (${i})`)
    try {
      await mkdir(candidate, { mode: 0o700 })
      return candidate
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
  throw new FileRefusedError(`too many folders named ${name}`)
}
