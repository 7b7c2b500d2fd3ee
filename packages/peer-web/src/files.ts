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
import { deriveSourceKey, FileRefusedError, TransferInProgressError, isSs58, SourceChangedError } from '@subwire/shared'
import { chunkCount, safeFolderPaths, verifyChunksOnDisk } from '@subwire/shared/protocol'
import { OpfsPartialFile, partialMeta, resumePartial, SegmentLayout } from './opfs-partial.ts'
import type { Destination } from './opfs-partial.ts'
import { OPFS_ROOT, OPFS_SEGMENT_BYTES } from './constants.ts'
import type { AbortOptions, FileManifest, FileSource, FileStore, FolderManifest, FolderSource, FolderSourceEntry, FolderStaging, ManifestCache, PartialFile } from '@subwire/shared'

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

/** Default of the OPFS store's `partialMaxAgeMs`: a week. */
export const DEFAULT_PARTIAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000

/** Received files in OPFS. */
export class OpfsFileStore implements FileStore {
  readonly #rootName: string
  readonly #segmentBytes: number
  readonly #open = new Set<string>()

  readonly #partialMaxAgeMs: number

  /**
   * `partialMaxAgeMs`: partial transfers untouched for this long are deleted by
   * {@link OpfsFileStore.collect} (default 7 days, as on Node: a sender that never comes back
   * must not hold the browser's quota forever).
   */
  constructor (init: { root?: string, segmentBytes?: number, partialMaxAgeMs?: number } = {}) {
    this.#rootName = init.root ?? OPFS_ROOT
    this.#segmentBytes = init.segmentBytes ?? OPFS_SEGMENT_BYTES
    this.#partialMaxAgeMs = init.partialMaxAgeMs ?? DEFAULT_PARTIAL_MAX_AGE_MS
  }

  /**
   * Deletes the partial transfers nobody has touched for `partialMaxAgeMs` (every file of the
   * partial, its progress record included, older than that) and not being received now.
   * Returns how many went. The web peer runs it when it starts.
   */
  async collect (now = Date.now()): Promise<number> {
    const partials = await this.#dir('partial')
    const stale: string[] = []
    for await (const [key, handle] of partials.entries()) {
      if (handle.kind !== 'directory' || this.#open.has(key)) continue
      let newest = 0
      for await (const [, entry] of (handle as FileSystemDirectoryHandle).entries()) {
        if (entry.kind === 'file') newest = Math.max(newest, (await (entry as FileSystemFileHandle).getFile()).lastModified)
      }
      if (now - newest > this.#partialMaxAgeMs) stale.push(key)
    }
    let removed = 0
    for (const key of stale) {
      if (this.#open.has(key)) continue
      try {
        await partials.removeEntry(key, { recursive: true })
        removed++
      } catch {}
    }
    return removed
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

  async hasPartialOf (sender: string, name: string, size: number): Promise<boolean> {
    let partials: FileSystemDirectoryHandle
    try {
      partials = await this.#dir('partial')
    } catch {
      return false
    }
    for await (const [key, handle] of partials.entries()) {
      if (handle.kind !== 'directory') continue
      let meta: { sender?: unknown, name?: unknown, size?: unknown }
      try {
        meta = JSON.parse(await (await (await (handle as FileSystemDirectoryHandle).getFileHandle('meta.json')).getFile()).text()) as typeof meta
      } catch {
        continue
      }
      if (meta.sender === sender && meta.name === name && meta.size === size && await this.partialBytes(key) > 0) return true
    }
    return false
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
    const layout = new SegmentLayout(manifest, this.#segmentBytes)
    const partials = await this.#dir('partial')
    const { dir, progress } = await resumePartial(partials, key, manifest, layout, partialMeta(manifest, name, sender))
    const destination = async (): Promise<Destination> => {
      const target = land === undefined ? undefined : await land()
      const inbox = target?.dir ?? await this.#dir('inbox', sender)
      const finalName = target?.overwrite === true ? target.name : await uniqueName(inbox, name)
      return { dir: inbox, name: finalName, path: target?.path ?? `inbox/${sender}/${finalName}` }
    }
    return new OpfsPartialFile({ partials, key, dir, layout, progress, destination, release: () => { this.#open.delete(key) } })
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

/**
 * A `File` or `Blob` as a {@link FileSource}: read slice by slice, never whole. A `File`
 * names its version (name, size, lastModified: {@link ManifestCache.sourceKey}), so it is
 * sent with a streamed manifest (read once, not hashed first) and a send cut off by a
 * reload resumes when the same file is picked again; a plain `Blob` is hashed first.
 */
export class BlobFileSource implements FileSource {
  readonly name: string
  readonly size: number
  readonly outboard: ManifestCache | undefined
  readonly #blob: Blob

  constructor (blob: Blob, name?: string) {
    this.#blob = blob
    this.size = blob.size
    this.name = name ?? (blob instanceof File ? blob.name : 'blob')
    this.outboard = blob instanceof File
      ? { get: async () => undefined, put: async () => {}, sourceKey: deriveSourceKey(['file', blob.name, blob.size, blob.lastModified]) }
      : undefined
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
