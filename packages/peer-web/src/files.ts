/**
 * Files in the browser: received files stream into the Origin Private File System
 * (OPFS), never into memory; files are sent from a `File`/`Blob` read chunk by chunk.
 *
 * A partial transfer is a directory `subwire/partial/<key>/` holding `meta.json` and
 * segment files of {@link OPFS_SEGMENT_BYTES}. A main-thread OPFS writable is committed
 * atomically when closed, so a segment on disk at its full length is complete; after a
 * reload the transfer resumes from the verified prefix of complete segments (re-hashed
 * against the manifest from the first chunk before it is trusted). Completed files are assembled into
 * `subwire/inbox/<sender ss58>/<name>` without ever overwriting one.
 *
 * @packageDocumentation
 */
import { FileRefusedError, isSs58, SourceChangedError } from '@subwire/shared'
import { bytesToHex, chunkCount, verifyChunksOnDisk } from '@subwire/shared/protocol'
import { OPFS_ROOT, OPFS_SEGMENT_BYTES } from './constants.ts'
import type { AbortOptions, FileManifest, FileSource, FileStore, PartialFile, PartialProgress } from '@subwire/shared'

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

  async open (key: string, manifest: FileManifest, name: string, sender: string): Promise<PartialFile> {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new FileRefusedError('bad transfer key')
    if (!isSs58(sender)) throw new FileRefusedError('bad sender')
    if (this.#open.has(key)) throw new FileRefusedError('the same file from the same sender is already being received')
    this.#open.add(key)
    try {
      return await this.#openPartial(key, manifest, name, sender)
    } catch (err) {
      this.#open.delete(key)
      throw err
    }
  }

  async #openPartial (key: string, manifest: FileManifest, name: string, sender: string): Promise<PartialFile> {
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
        const inbox = await this.#dir('inbox', sender)
        const finalName = await uniqueName(inbox, name)
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
        return `inbox/${sender}/${finalName}`
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

  /** Received files, newest first. */
  async list (options: AbortOptions = {}): Promise<InboxFile[]> {
    const inbox = await this.#dir('inbox')
    const out: InboxFile[] = []
    for await (const [sender, handle] of inbox.entries()) {
      if (handle.kind !== 'directory') continue
      for await (const [name, f] of (handle as FileSystemDirectoryHandle).entries()) {
        if (options.signal?.aborted === true) return out
        if (f.kind !== 'file') continue
        const file = await (f as FileSystemFileHandle).getFile()
        out.push({ path: `inbox/${sender}/${name}`, sender, name, size: file.size, lastModified: file.lastModified })
      }
    }
    return out.sort((a, b) => b.lastModified - a.lastModified)
  }

  /** A received file as a disk-backed `File` (for a download link or hashing). */
  async file (path: string): Promise<File> {
    const [top, sender, name] = path.split('/')
    if (top !== 'inbox' || sender === undefined || name === undefined || !isSs58(sender)) throw new FileRefusedError(`not an inbox path: ${path}`)
    const dir = await this.#dir('inbox', sender)
    return await (await dir.getFileHandle(name)).getFile()
  }

  /** Deletes a received file. */
  async remove (path: string): Promise<void> {
    const [, sender, name] = path.split('/')
    if (sender === undefined || name === undefined) return
    await (await this.#dir('inbox', sender)).removeEntry(name)
  }
}

async function uniqueName (dir: FileSystemDirectoryHandle, name: string): Promise<string> {
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
