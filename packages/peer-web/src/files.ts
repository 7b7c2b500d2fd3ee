/**
 * Files in the browser: received files stream into the Origin Private File System
 * (OPFS), never into memory; files are sent from a `File`/`Blob` read chunk by chunk.
 *
 * A partial transfer is a directory `subwire/partial/<key>/` holding `meta.json` and
 * segment files of {@link OPFS_SEGMENT_BYTES}. A main-thread OPFS writable is committed
 * atomically when closed, so a segment on disk at its full length is complete; after a
 * reload the transfer resumes from the verified prefix of complete segments (re-hashed
 * against the manifest from the first chunk before it is trusted). Completed files are assembled into
 * `subwire/inbox/<sender ss58>/<name>` without ever overwriting one. A folder's files are
 * assembled into its staging `subwire/partial/<folder key>.d/<relative path>` as each is
 * verified, and the staging moves into `subwire/inbox/<sender>/<name>/` once all are there.
 *
 * @packageDocumentation
 */
import { FileRefusedError, TransferInProgressError, isSs58, SourceChangedError } from '@subwire/shared'
import { bytesToHex, chunkCount, safeFolderPaths, verifyChunksOnDisk } from '@subwire/shared/protocol'
import { OPFS_ROOT, OPFS_SEGMENT_BYTES } from './constants.ts'
import type { AbortOptions, FileManifest, FileSource, FileStore, FolderManifest, FolderSource, FolderSourceEntry, FolderStaging, PartialFile, PartialProgress } from '@subwire/shared'

/** A received file in the inbox. */
export interface InboxFile {
  /** Path inside the store, `inbox/<sender>/<name>`. */
  path: string
  /** Sender's verified SS58. */
  sender: string
  /** File name. */
  name: string
  /** Size in bytes. */
  size: number
  /** Last modification (ms since epoch). */
  lastModified: number
}

const isNotFound = (err: unknown): boolean => (err as { name?: string }).name === 'NotFoundError'

async function readJson<T> (dir: FileSystemDirectoryHandle, name: string): Promise<T | undefined> {
  try {
    const file = await (await dir.getFileHandle(name)).getFile()
    return JSON.parse(await file.text()) as T
  } catch {
    return undefined
  }
}

async function writeWhole (dir: FileSystemDirectoryHandle, name: string, data: string | Uint8Array): Promise<void> {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable()
  await w.write(data as FileSystemWriteChunkType)
  await w.close()
}

/** Received files in OPFS. */
export class OpfsFileStore implements FileStore {
  readonly #rootName: string
  readonly #segmentBytes: number
  readonly #open = new Set<string>()

  constructor (init: { root?: string, segmentBytes?: number } = {}) {
    this.#rootName = init.root ?? OPFS_ROOT
    this.#segmentBytes = init.segmentBytes ?? OPFS_SEGMENT_BYTES
  }

  async #dir (...path: string[]): Promise<FileSystemDirectoryHandle> {
    let dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(this.#rootName, { create: true })
    for (const p of path) dir = await dir.getDirectoryHandle(p, { create: true })
    return dir
  }

  async freeBytes (): Promise<number | undefined> {
    const { quota, usage } = await navigator.storage.estimate()
    return quota === undefined ? undefined : quota - (usage ?? 0)
  }

  async partialBytes (key: string): Promise<number> {
    if (!/^[0-9a-f]{64}$/.test(key)) return 0
    let dir: FileSystemDirectoryHandle
    try {
      dir = await (await this.#dir('partial')).getDirectoryHandle(key)
    } catch {
      return 0
    }
    let bytes = 0
    for await (const [name, handle] of dir.entries()) {
      if (handle.kind === 'file' && /^[0-9]{8}$/.test(name)) bytes += (await (handle as FileSystemFileHandle).getFile()).size
    }
    return bytes
  }

  async received (sender: string, name: string, size: number): Promise<boolean> {
    if (!isSs58(sender)) return false
    try {
      const inbox = await (await this.#dir('inbox')).getDirectoryHandle(sender)
      return (await (await inbox.getFileHandle(name)).getFile()).size === size
    } catch {
      return false
    }
  }

  async open (key: string, manifest: FileManifest, name: string, sender: string, _options?: unknown, land?: Landing): Promise<PartialFile> {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new FileRefusedError('bad transfer key')
    if (!isSs58(sender)) throw new FileRefusedError('bad sender')
    if (this.#open.has(key)) throw new TransferInProgressError()
    this.#open.add(key)
    try {
      return await this.#openPartial(key, manifest, name, sender, land)
    } catch (err) {
      this.#open.delete(key)
      throw err
    }
  }

  /**
   * The staging of a folder, `partial/<key>.d/`, kept between attempts: each entry is
   * assembled there at its sanitised relative path once verified; `complete()` moves the
   * directory into `inbox/<sender>/<name>` (a name already taken gets ` (1)`).
   */
  async openFolder (key: string, folder: FolderManifest, name: string, sender: string): Promise<FolderStaging> {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new FileRefusedError('bad transfer key')
    if (!isSs58(sender) || name.includes('/') || name.startsWith('.')) throw new FileRefusedError('bad sender or folder name')
    if (this.#open.has(key)) throw new TransferInProgressError('The same folder from the same sender is already being received; try again when that transfer ends')
    const paths = safeFolderPaths(folder.entries)
    this.#open.add(key)
    const partials = await this.#dir('partial')
    const staging = await partials.getDirectoryHandle(`${key}.d`, { create: true })
    const parentOf = async (rel: string): Promise<{ dir: FileSystemDirectoryHandle, file: string }> => {
      const parts = rel.split('/')
      let dir = staging
      for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, { create: true })
      return { dir, file: parts.at(-1) as string }
    }
    let closed = false
    return {
      open: async (index, fileKey, manifest) => {
        const rel = paths[index]
        if (rel === undefined) throw new FileRefusedError('no such folder entry')
        const { dir, file } = await parentOf(rel)
        const staged = await stagedFile(dir, file, manifest)
        if (staged !== undefined) return staged
        return await this.open(fileKey, manifest, rel, sender, undefined, async () => ({ dir, name: file, path: rel, overwrite: true }))
      },
      complete: async () => {
        const inbox = await this.#dir('inbox', sender)
        const finalName = await uniqueName(inbox, name, true)
        await moveDirectory(staging, partials, `${key}.d`, inbox, finalName)
        closed = true
        this.#open.delete(key)
        return `inbox/${sender}/${finalName}`
      },
      close: async () => {
        if (closed) return
        closed = true
        this.#open.delete(key)
      }
    }
  }

  async #openPartial (key: string, manifest: FileManifest, name: string, sender: string, land: Landing | undefined): Promise<PartialFile> {
    const { size, chunkSize } = manifest
    const total = chunkCount(size, chunkSize)
    const segChunks = Math.max(1, Math.floor(this.#segmentBytes / chunkSize))
    const segBytes = segChunks * chunkSize
    const segments = Math.max(1, Math.ceil(total / segChunks))
    const segLength = (s: number): number => Math.min(segBytes, size - s * segBytes)
    const segName = (s: number): string => s.toString().padStart(8, '0')
    const partials = await this.#dir('partial')
    const root = bytesToHex(manifest.root)
    let dir = await partials.getDirectoryHandle(key, { create: true })
    const old = await readJson<PartialProgress>(dir, 'meta.json')
    let verified = 0
    if (old !== undefined && old.root === root && old.size === size && old.chunkSize === chunkSize) {
      // the verified prefix: complete segments (full length) in order, re-hashed past the record
      let available = 0
      const files: File[] = []
      for (let s = 0; s < segments; s++) {
        let file: File
        try { file = await (await dir.getFileHandle(segName(s))).getFile() } catch { break }
        if (file.size !== segLength(s)) break
        files.push(file)
        available += file.size
      }
      // trusted only as far as it verifies, from the first chunk
      verified = await verifyChunksOnDisk(manifest, 0, available, async (offset, length) => {
        const file = files[Math.floor(offset / segBytes)] as File
        const at = offset % segBytes
        return new Uint8Array(await file.slice(at, at + length).arrayBuffer())
      })
      // resume on a segment boundary: a segment is written (and committed) whole
      if (verified !== total) verified -= verified % segChunks
    } else {
      await partials.removeEntry(key, { recursive: true })
      dir = await partials.getDirectoryHandle(key, { create: true })
    }
    const meta: PartialProgress = { v: 1, root, size, chunkSize, name, sender, verifiedChunks: verified }
    await writeWhole(dir, 'meta.json', JSON.stringify(meta))

    // open writables by segment, with the chunks written into each
    // the writable is stored as a promise at once: concurrent writes to a new segment must
    // share one writable (two would each start the segment empty, and the last one closed
    // would lose the other's chunks)
    const writing = new Map<number, { w: Promise<FileSystemWritableFileStream>, chunks: number, closing?: Promise<void> }>()
    let closedUpTo = Math.floor(verified / segChunks) // segments [0, closedUpTo) are complete on disk
    const closed = new Set<number>()
    const advance = (): void => { while (closed.has(closedUpTo)) closedUpTo++ }
    const segChunkCount = (s: number): number => Math.min(segChunks, total - s * segChunks)
    const release = (): void => { this.#open.delete(key) }
    let done = false

    return {
      verifiedChunks: verified,
      write: async (offset: number, bytes: Uint8Array) => {
        const s = Math.floor(offset / segBytes)
        let entry = writing.get(s)
        if (entry === undefined) {
          const w = dir.getFileHandle(segName(s), { create: true }).then(async (h) => await h.createWritable({ keepExistingData: false }))
          w.catch(() => {}) // awaited below
          entry = { w, chunks: 0 }
          writing.set(s, entry)
        }
        const w = await entry.w
        await w.write({ type: 'write', position: offset - s * segBytes, data: bytes as Uint8Array<ArrayBuffer> })
        entry.chunks++
        if (entry.chunks === segChunkCount(s)) {
          entry.closing = w.close()
          await entry.closing
          writing.delete(s)
          closed.add(s)
          advance()
        }
      },
      commit: async (verifiedChunks: number) => {
        // only closed segments are on disk: an OPFS writable commits when it closes
        meta.verifiedChunks = Math.min(verifiedChunks, closedUpTo * segChunks, total)
        await writeWhole(dir, 'meta.json', JSON.stringify(meta))
      },
      read: async (offset: number, length: number) => {
        const s = Math.floor(offset / segBytes)
        let file: File
        try { file = await (await dir.getFileHandle(segName(s))).getFile() } catch { return new Uint8Array(0) }
        const at = offset - s * segBytes
        return new Uint8Array(await file.slice(at, at + length).arrayBuffer())
      },
      rewind: async (verifiedChunks: number) => {
        // back to the start of the segment holding the first bad chunk: segments are whole
        const keep = Math.floor(verifiedChunks / segChunks)
        for (const [s, e] of writing) {
          if (s < keep) continue
          await e.w.then(async (w) => { await w.abort() }).catch(() => {})
          writing.delete(s)
        }
        for (let s = keep; s < segments; s++) {
          closed.delete(s)
          await dir.removeEntry(segName(s)).catch(() => {})
        }
        closedUpTo = Math.min(closedUpTo, keep)
        meta.verifiedChunks = keep * segChunks
        await writeWhole(dir, 'meta.json', JSON.stringify(meta))
      },
      complete: async () => {
        for (const e of writing.values()) await (e.closing ?? (await e.w).close())
        writing.clear()
        const target = land === undefined ? undefined : await land()
        const inbox = target?.dir ?? await this.#dir('inbox', sender)
        const finalName = target?.overwrite === true ? target.name : await uniqueName(inbox, name)
        const out = await (await inbox.getFileHandle(finalName, { create: true })).createWritable()
        try {
          for (let s = 0; s < (size === 0 ? 0 : segments); s++) {
            const file = await (await dir.getFileHandle(segName(s))).getFile()
            await file.stream().pipeTo(out, { preventClose: true })
          }
          await out.close()
        } catch (err) {
          await out.abort().catch(() => {})
          await inbox.removeEntry(finalName).catch(() => {})
          throw err
        }
        done = true
        release()
        await partials.removeEntry(key, { recursive: true })
        return target?.path ?? `inbox/${sender}/${finalName}`
      },
      close: async () => {
        if (done) return
        done = true
        // unfinished segments are discarded, not committed: a segment on disk is always whole
        for (const e of writing.values()) await e.w.then(async (w) => { await w.abort() }).catch(() => {})
        writing.clear()
        release()
      }
    }
  }

  /** Received files, newest first; a received folder's files are listed as `<folder>/<relative path>`. */
  async list (options: AbortOptions = {}): Promise<InboxFile[]> {
    const inbox = await this.#dir('inbox')
    const out: InboxFile[] = []
    const walk = async (dir: FileSystemDirectoryHandle, sender: string, prefix: string): Promise<void> => {
      for await (const [name, f] of dir.entries()) {
        if (options.signal?.aborted === true) return
        if (f.kind === 'directory') { await walk(f as FileSystemDirectoryHandle, sender, `${prefix}${name}/`); continue }
        const file = await (f as FileSystemFileHandle).getFile()
        out.push({ path: `inbox/${sender}/${prefix}${name}`, sender, name: `${prefix}${name}`, size: file.size, lastModified: file.lastModified })
      }
    }
    for await (const [sender, handle] of inbox.entries()) {
      if (handle.kind === 'directory') await walk(handle as FileSystemDirectoryHandle, sender, '')
    }
    return out.sort((a, b) => b.lastModified - a.lastModified)
  }

  /** The directory and name of an inbox path (`inbox/<sender>/<name>` or, in a folder, `inbox/<sender>/<folder>/…/<name>`). */
  async #inboxEntry (path: string): Promise<{ dir: FileSystemDirectoryHandle, name: string }> {
    const [top, sender, ...rest] = path.split('/')
    if (top !== 'inbox' || sender === undefined || rest.length === 0 || !isSs58(sender) || rest.some((p) => p === '' || p === '.' || p === '..')) {
      throw new FileRefusedError(`not an inbox path: ${path}`)
    }
    let dir = await (await this.#dir('inbox')).getDirectoryHandle(sender)
    for (const p of rest.slice(0, -1)) dir = await dir.getDirectoryHandle(p)
    return { dir, name: rest.at(-1) as string }
  }

  /** A received file as a disk-backed `File` (for a download link or hashing). */
  async file (path: string): Promise<File> {
    const { dir, name } = await this.#inboxEntry(path)
    return await (await dir.getFileHandle(name)).getFile()
  }

  /** Deletes a received file. */
  async remove (path: string): Promise<void> {
    const { dir, name } = await this.#inboxEntry(path)
    await dir.removeEntry(name)
  }
}

/** Where a folder entry's partial is assembled instead of the inbox. */
type Landing = () => Promise<{ dir: FileSystemDirectoryHandle, name: string, path: string, overwrite: boolean }>

/**
 * A folder entry an earlier attempt already assembled into the staging: served complete if
 * every chunk still matches `manifest`, else removed (it is received again).
 */
async function stagedFile (dir: FileSystemDirectoryHandle, name: string, manifest: FileManifest): Promise<PartialFile | undefined> {
  let file: File
  try {
    file = await (await dir.getFileHandle(name)).getFile()
  } catch {
    return undefined
  }
  const n = chunkCount(manifest.size, manifest.chunkSize)
  const read = async (offset: number, length: number): Promise<Uint8Array> => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer())
  if (file.size === manifest.size && await verifyChunksOnDisk(manifest, 0, file.size, read) === n) {
    return {
      verifiedChunks: n,
      write: async () => { throw new FileRefusedError('a staged folder entry is complete') },
      commit: async () => {},
      read,
      rewind: async () => { await dir.removeEntry(name).catch(() => {}) },
      complete: async () => name,
      close: async () => {}
    }
  }
  await dir.removeEntry(name).catch(() => {})
  return undefined
}

/**
 * Moves a directory in one step with `move()` where the browser supports it for OPFS
 * directories (Chromium). Elsewhere it is copied into its final name and the staging then
 * removed: every file was verified before, but a reader could see the folder while it is
 * being copied (the copy is the only non-atomic window; a failure leaves the staging for a resume).
 */
async function moveDirectory (src: FileSystemDirectoryHandle, srcParent: FileSystemDirectoryHandle, srcName: string, destParent: FileSystemDirectoryHandle, destName: string): Promise<void> {
  const movable = src as unknown as { move?: (parent: FileSystemDirectoryHandle, name: string) => Promise<void> }
  if (typeof movable.move === 'function') {
    try {
      await movable.move(destParent, destName)
      return
    } catch {}
  }
  const copy = async (from: FileSystemDirectoryHandle, to: FileSystemDirectoryHandle): Promise<void> => {
    for await (const [name, handle] of from.entries()) {
      if (handle.kind === 'directory') {
        await copy(handle as FileSystemDirectoryHandle, await to.getDirectoryHandle(name, { create: true }))
      } else {
        const out = await (await to.getFileHandle(name, { create: true })).createWritable()
        await (await (handle as FileSystemFileHandle).getFile()).stream().pipeTo(out)
      }
    }
  }
  await copy(src, await destParent.getDirectoryHandle(destName, { create: true }))
  await srcParent.removeEntry(srcName, { recursive: true })
}

async function uniqueName (dir: FileSystemDirectoryHandle, name: string, directory = false): Promise<string> {
  if (directory) {
    for (let i = 0; i < 10_000; i++) {
      const candidate = i === 0 ? name : `${name} (${i})`
      if (!(await hasEntry(dir, candidate))) return candidate
    }
    throw new FileRefusedError(`too many folders named ${name}`)
  }
  const dot = name.lastIndexOf('.')
  const base = dot > 0 ? name.slice(0, dot) : name
  const ext = dot > 0 ? name.slice(dot) : ''
  for (let i = 0; i < 10_000; i++) {
    const candidate = i === 0 ? name : `${base} (${i})${ext}`
    try {
      await dir.getFileHandle(candidate)
    } catch (err) {
      if (isNotFound(err)) return candidate
      throw err
    }
  }
  throw new FileRefusedError(`too many files named ${name}`)
}

async function hasEntry (dir: FileSystemDirectoryHandle, name: string): Promise<boolean> {
  for await (const key of dir.keys()) if (key === name) return true
  return false
}

/**
 * Several `File`s (a dropped selection, an `<input webkitdirectory>`, a directory handle
 * walked) as a {@link FolderSource}. Each file's path is its `webkitRelativePath` without
 * the top directory, or the path given, or its name.
 */
export class BlobFolderSource implements FolderSource {
  readonly name: string
  readonly entries: readonly FolderSourceEntry[]

  constructor (name: string, files: ReadonlyArray<File | { file: Blob, path: string }>) {
    this.name = name
    this.entries = files.map((f) => {
      const blob = f instanceof Blob ? f : f.file
      const path = f instanceof Blob ? relativePathOf(f) : f.path
      return { path, size: blob.size, open: async () => new BlobFileSource(blob, path) }
    })
  }
}

/** A picked file's path inside the picked folder (`webkitRelativePath` less its first component). */
function relativePathOf (file: File): string {
  const rel = file.webkitRelativePath
  if (rel === '' || !rel.includes('/')) return file.name
  return rel.split('/').slice(1).join('/')
}

/** A `File` or `Blob` as a {@link FileSource}: read slice by slice, never whole. */
export class BlobFileSource implements FileSource {
  readonly name: string
  readonly size: number
  readonly #blob: Blob

  constructor (blob: Blob, name?: string) {
    this.#blob = blob
    this.size = blob.size
    this.name = name ?? (blob instanceof File ? blob.name : 'blob')
  }

  async read (offset: number, length: number): Promise<Uint8Array> {
    let buf: ArrayBuffer
    try {
      buf = await this.#blob.slice(offset, offset + length).arrayBuffer()
    } catch (err) {
      // a File whose disk file changed or vanished is no longer readable
      throw new SourceChangedError(`${this.name} can no longer be read: ${(err as Error).message}`, { cause: err })
    }
    if (buf.byteLength !== length) throw new SourceChangedError(`${this.name} is shorter than when it was opened`)
    return new Uint8Array(buf)
  }
}
