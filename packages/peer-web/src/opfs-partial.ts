/**
 * One partial file in OPFS: `partial/<key>/` with `meta.json` and segment files that are
 * each written by one writable and committed whole when it closes (see `files.ts`).
 *
 * @packageDocumentation
 */
import { bytesToHex, chunkCount, verifyChunksOnDisk } from '@subwire/shared/protocol'
import type { FileManifest, PartialFile, PartialProgress } from '@subwire/shared'

/** Reads `name` in `dir` as JSON, or undefined if it is missing or unreadable. */
export async function readJson<T> (dir: FileSystemDirectoryHandle, name: string): Promise<T | undefined> {
  try {
    const file = await (await dir.getFileHandle(name)).getFile()
    return JSON.parse(await file.text()) as T
  } catch {
    return undefined
  }
}

/** Writes `name` in `dir` whole (an OPFS writable commits when it closes). */
export async function writeWhole (dir: FileSystemDirectoryHandle, name: string, data: string | Uint8Array): Promise<void> {
  const w = await (await dir.getFileHandle(name, { create: true })).createWritable()
  await w.write(data as FileSystemWriteChunkType)
  await w.close()
}

/** How a file of `manifest` is cut into segment files of about `segmentBytes`. */
export class SegmentLayout {
  /** Chunks in the file. */
  readonly total: number
  /** Chunks per segment (at least one). */
  readonly segChunks: number
  /** Bytes per full segment. */
  readonly segBytes: number
  /** Segment files of the file (at least one). */
  readonly segments: number
  readonly #size: number

  constructor (manifest: FileManifest, segmentBytes: number) {
    const { size, chunkSize } = manifest
    this.#size = size
    this.total = chunkCount(size, chunkSize)
    this.segChunks = Math.max(1, Math.floor(segmentBytes / chunkSize))
    this.segBytes = this.segChunks * chunkSize
    this.segments = Math.max(1, Math.ceil(this.total / this.segChunks))
  }

  /** Bytes of segment `s` when it is complete. */
  length (s: number): number { return Math.min(this.segBytes, this.#size - s * this.segBytes) }
  /** Chunks of segment `s`. */
  chunks (s: number): number { return Math.min(this.segChunks, this.total - s * this.segChunks) }
  /** File name of segment `s`. */
  name (s: number): string { return s.toString().padStart(8, '0') }
  /** The segment holding byte `offset`. */
  of (offset: number): number { return Math.floor(offset / this.segBytes) }
}

/**
 * The chunks of an earlier attempt in `dir` that verify against `manifest`, from the first
 * chunk, over the complete segments in order, cut back to a segment boundary (a segment is
 * written and committed whole).
 */
async function verifiedPrefix (dir: FileSystemDirectoryHandle, manifest: FileManifest, layout: SegmentLayout): Promise<number> {
  let available = 0
  const files: File[] = []
  for (let s = 0; s < layout.segments; s++) {
    let file: File
    try { file = await (await dir.getFileHandle(layout.name(s))).getFile() } catch { break }
    if (file.size !== layout.length(s)) break
    files.push(file)
    available += file.size
  }
  const verified = await verifyChunksOnDisk(manifest, 0, available, async (offset, length) => {
    const file = files[layout.of(offset)] as File
    const at = offset % layout.segBytes
    return new Uint8Array(await file.slice(at, at + length).arrayBuffer())
  })
  return verified === layout.total ? verified : verified - verified % layout.segChunks
}

/**
 * Opens (or creates) `partials/<key>/` for `manifest`: an earlier attempt of the same file
 * is kept as far as it verifies; anything else there is removed. Returns the directory and
 * the verified chunks, with `meta.json` written for them.
 */
export async function resumePartial (partials: FileSystemDirectoryHandle, key: string, manifest: FileManifest, layout: SegmentLayout, meta: Omit<PartialProgress, 'verifiedChunks'>): Promise<{ dir: FileSystemDirectoryHandle, progress: PartialProgress }> {
  let dir = await partials.getDirectoryHandle(key, { create: true })
  const old = await readJson<PartialProgress>(dir, 'meta.json')
  let verified = 0
  // a streamed attempt's partial (its root unknown then) resumes under the hashed manifest of the same source
  if (old !== undefined && meta.root !== '' && (old.root === meta.root || old.root === '') && old.size === meta.size && old.chunkSize === meta.chunkSize) {
    verified = await verifiedPrefix(dir, manifest, layout)
  } else {
    await partials.removeEntry(key, { recursive: true })
    dir = await partials.getDirectoryHandle(key, { create: true })
  }
  const progress: PartialProgress = { ...meta, verifiedChunks: verified }
  await writeWhole(dir, 'meta.json', JSON.stringify(progress))
  return { dir, progress }
}

/** The metadata of a partial of `manifest`, before its verified chunks are known. */
export function partialMeta (manifest: FileManifest, name: string, sender: string): Omit<PartialProgress, 'verifiedChunks'> {
  return { v: 1, root: bytesToHex(manifest.root), size: manifest.size, chunkSize: manifest.chunkSize, name, sender }
}

/** Where a completed file goes: a directory, the name in it and the path to report. */
export interface Destination {
  dir: FileSystemDirectoryHandle
  name: string
  path: string
}

/** What {@link OpfsPartialFile} needs besides its directory. */
export interface OpfsPartialInit {
  /** `partial/`, from which the directory is removed once the file is complete. */
  partials: FileSystemDirectoryHandle
  /** The transfer key: the directory's name. */
  key: string
  /** The partial's own directory. */
  dir: FileSystemDirectoryHandle
  layout: SegmentLayout
  /** What `meta.json` holds (updated as chunks are committed). */
  progress: PartialProgress
  /** Where the complete file goes, asked once every segment is closed. */
  destination: () => Promise<Destination>
  /** Called once when the file is complete or closed. */
  release: () => void
}

/** A segment being written: one writable, shared by every write to it. */
interface OpenSegment {
  w: Promise<FileSystemWritableFileStream>
  chunks: number
  closing?: Promise<void>
}

/** A {@link PartialFile} kept as OPFS segment files. */
export class OpfsPartialFile implements PartialFile {
  readonly verifiedChunks: number
  readonly #init: OpfsPartialInit
  readonly #layout: SegmentLayout
  readonly #dir: FileSystemDirectoryHandle
  /**
   * Open writables by segment, with the chunks written into each. The writable is stored
   * as a promise at once: concurrent writes to a new segment must share one writable (two
   * would each start the segment empty, and the last one closed would lose the other's chunks).
   */
  readonly #writing = new Map<number, OpenSegment>()
  /** Segments [0, closedUpTo) are complete on disk. */
  #closedUpTo: number
  readonly #closed = new Set<number>()
  #done = false

  constructor (init: OpfsPartialInit) {
    this.#init = init
    this.#layout = init.layout
    this.#dir = init.dir
    this.verifiedChunks = init.progress.verifiedChunks
    this.#closedUpTo = Math.floor(this.verifiedChunks / init.layout.segChunks)
  }

  #segment (s: number): OpenSegment {
    let entry = this.#writing.get(s)
    if (entry === undefined) {
      const w = this.#dir.getFileHandle(this.#layout.name(s), { create: true }).then(async (h) => await h.createWritable({ keepExistingData: false }))
      w.catch(() => {}) // awaited by the writer
      entry = { w, chunks: 0 }
      this.#writing.set(s, entry)
    }
    return entry
  }

  async write (offset: number, bytes: Uint8Array): Promise<void> {
    const s = this.#layout.of(offset)
    const entry = this.#segment(s)
    const w = await entry.w
    await w.write({ type: 'write', position: offset - s * this.#layout.segBytes, data: bytes as Uint8Array<ArrayBuffer> })
    entry.chunks++
    if (entry.chunks === this.#layout.chunks(s)) {
      entry.closing = w.close()
      await entry.closing
      this.#writing.delete(s)
      this.#closed.add(s)
      while (this.#closed.has(this.#closedUpTo)) this.#closedUpTo++
    }
  }

  async commit (verifiedChunks: number): Promise<void> {
    // only closed segments are on disk: an OPFS writable commits when it closes
    const { progress, layout } = this.#init
    progress.verifiedChunks = Math.min(verifiedChunks, this.#closedUpTo * layout.segChunks, layout.total)
    await writeWhole(this.#dir, 'meta.json', JSON.stringify(progress))
  }

  async read (offset: number, length: number): Promise<Uint8Array> {
    const s = this.#layout.of(offset)
    let file: File
    try { file = await (await this.#dir.getFileHandle(this.#layout.name(s))).getFile() } catch { return new Uint8Array(0) }
    const at = offset - s * this.#layout.segBytes
    return new Uint8Array(await file.slice(at, at + length).arrayBuffer())
  }

  async rewind (verifiedChunks: number): Promise<void> {
    // back to the start of the segment holding the first bad chunk: segments are whole
    const layout = this.#layout
    const keep = Math.floor(verifiedChunks / layout.segChunks)
    for (const [s, e] of this.#writing) {
      if (s < keep) continue
      await e.w.then(async (w) => { await w.abort() }).catch(() => {})
      this.#writing.delete(s)
    }
    for (let s = keep; s < layout.segments; s++) {
      this.#closed.delete(s)
      await this.#dir.removeEntry(layout.name(s)).catch(() => {})
    }
    this.#closedUpTo = Math.min(this.#closedUpTo, keep)
    this.#init.progress.verifiedChunks = keep * layout.segChunks
    await writeWhole(this.#dir, 'meta.json', JSON.stringify(this.#init.progress))
  }

  async complete (): Promise<string> {
    for (const e of this.#writing.values()) await (e.closing ?? (await e.w).close())
    this.#writing.clear()
    const target = await this.#init.destination()
    await this.#assemble(target)
    this.#done = true
    this.#init.release()
    await this.#init.partials.removeEntry(this.#init.key, { recursive: true })
    return target.path
  }

  /** Concatenates the segments into `target`, removing a half-written target on failure. */
  async #assemble (target: Destination): Promise<void> {
    const out = await (await target.dir.getFileHandle(target.name, { create: true })).createWritable()
    try {
      for (let s = 0; s < (this.#init.progress.size === 0 ? 0 : this.#layout.segments); s++) {
        const file = await (await this.#dir.getFileHandle(this.#layout.name(s))).getFile()
        await file.stream().pipeTo(out, { preventClose: true })
      }
      await out.close()
    } catch (err) {
      await out.abort().catch(() => {})
      await target.dir.removeEntry(target.name).catch(() => {})
      throw err
    }
  }

  async close (): Promise<void> {
    if (this.#done) return
    this.#done = true
    // unfinished segments are discarded, not committed: a segment on disk is always whole
    for (const e of this.#writing.values()) await e.w.then(async (w) => { await w.abort() }).catch(() => {})
    this.#writing.clear()
    this.#init.release()
  }
}
