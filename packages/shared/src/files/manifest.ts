/**
 * File manifests: the chunk hashes and the root that names a file, how they are made
 * from a source, checked from the wire and re-checked against a copy on disk, and the
 * resume key of a transfer.
 *
 * @packageDocumentation
 */
import { asRecord, bytesField, present, stringField, uintField } from '../wire/fields.ts'
import { BLAKE3_BYTES, FILE_CHUNK_SIZE, MAX_FILE_CHUNK_SIZE, MAX_FILE_CHUNKS, MAX_FOLDER_ENTRIES, MIN_FILE_CHUNK_SIZE } from '../constants.ts'
import { FileTooLargeError, InvalidManifestError } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import type { FileManifest, FileSource, SendFileOptions } from './types.ts'
import { bytesToHex, equalBytes } from '../bytes.ts'
import { blake3, releaseHasher, takeHasher } from './hash.ts'
import { sha256 } from '@noble/hashes/sha2.js'


const ROOT_DOMAIN = new TextEncoder().encode('SUBWIRE-FILE-ROOT-V1')

const KEY_DOMAIN = new TextEncoder().encode('SUBWIRE-TRANSFER-KEY-V1')

const SOURCE_KEY_DOMAIN = new TextEncoder().encode('SUBWIRE-TRANSFER-KEY-V2')

/** Bytes of a {@link FileManifest.sourceKey}. */
export const SOURCE_KEY_BYTES = 32

/**
 * A {@link ManifestCache.sourceKey} from what names a version of a source: SHA-256 of
 * `subwire-source-v1` and the fields, NUL-separated (Node: device, inode, size, mtime and
 * absolute path; a browser `File`: `file`, name, size, lastModified).
 */
export function deriveSourceKey (fields: ReadonlyArray<string | number>): Uint8Array {
  return sha256(new TextEncoder().encode(['subwire-source-v1', ...fields.map(String)].join('\u0000')))
}


function header (size: number, chunkSize: number): Uint8Array {
  const out = new Uint8Array(ROOT_DOMAIN.byteLength + 8 + 4)
  out.set(ROOT_DOMAIN)
  const view = new DataView(out.buffer)
  view.setBigUint64(ROOT_DOMAIN.byteLength, BigInt(size))
  view.setUint32(ROOT_DOMAIN.byteLength + 8, chunkSize)
  return out
}


/** The file root: BLAKE3(`SUBWIRE-FILE-ROOT-V1` ‖ size u64 ‖ chunk size u32 ‖ chunk hashes). */
export async function fileRoot (size: number, chunkSize: number, chunkHashes: Uint8Array): Promise<Uint8Array> {
  const h = await takeHasher()
  try {
    h.init()
    h.update(header(size, chunkSize))
    h.update(chunkHashes)
    return h.digest('binary')
  } finally {
    releaseHasher(h)
  }
}


/** Number of chunks of a file. */
export function chunkCount (size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}


/** Length of chunk `i`. */
export function chunkLength (i: number, size: number, chunkSize: number): number {
  return Math.min(chunkSize, size - i * chunkSize)
}


/** Options of {@link createManifest}. */
export interface CreateManifestOptions extends SendFileOptions {
  /** Transfer id (default: a random UUID). */
  id?: string | undefined
  /** Chunk size (default {@link FILE_CHUNK_SIZE}). */
  chunkSize?: number | undefined
  /**
   * May the manifest be streamed: without kept hashes, a source with a
   * {@link ManifestCache.sourceKey} then gets a streamed manifest at once (no hashing here;
   * the sender hashes as it sends). Default false: always the whole manifest.
   */
  streamed?: boolean | undefined
}

/**
 * Hashes a source into a manifest: one pass, chunk by chunk, reading the next chunk while
 * hashing this one (never more than two in memory), or takes the hashes its outboard kept
 * from an earlier pass (see {@link FileSource.outboard}), or (`streamed`) returns a
 * streamed manifest without reading the file. Emits `transfer:hashing` progress.
 */
export async function createManifest (source: FileSource, options: CreateManifestOptions = {}): Promise<FileManifest> {
  const chunkSize = options.chunkSize ?? FILE_CHUNK_SIZE
  validateChunking(source.size, chunkSize)
  const id = options.id ?? crypto.randomUUID()
  const sourceKey = source.outboard?.sourceKey
  const base = { id, name: source.name, size: source.size, chunkSize, ...(sourceKey === undefined ? {} : { sourceKey }) }
  const kept = await source.outboard?.get(chunkSize, options)
  if (kept !== undefined) {
    options.onProgress?.({ type: 'transfer:hashing', detail: { id, bytes: source.size, total: source.size, rate: 0 } })
    return { ...base, chunkHashes: kept.chunkHashes, root: kept.root }
  }
  if (options.streamed === true && sourceKey !== undefined) {
    // the hashes are allocated and filled in by the sender (FileSender), as from the wire
    return { ...base, chunkHashes: new Uint8Array(0), root: new Uint8Array(0), streamed: true }
  }
  const manifest = { ...await hashSource(source, id, chunkSize, options), ...(sourceKey === undefined ? {} : { sourceKey }) }
  await source.outboard?.put(manifest, options)
  return manifest
}

/**
 * Completes a streamed manifest once every chunk hash is in: sets its root and makes it a
 * whole manifest (a later offer of it carries the hashes). Returns the root.
 */
export async function completeStreamedManifest (manifest: FileManifest): Promise<Uint8Array> {
  manifest.root = await fileRoot(manifest.size, manifest.chunkSize, manifest.chunkHashes)
  manifest.streamed = false
  return manifest.root
}

async function hashSource (source: FileSource, id: string, chunkSize: number, options: SendFileOptions): Promise<FileManifest> {
  const n = chunkCount(source.size, chunkSize)
  const chunkHashes = new Uint8Array(n * BLAKE3_BYTES)
  const h = await takeHasher()
  const started = performance.now()
  let last = 0
  // two chunks in memory: the one being hashed and the next being read, in two reused buffers
  const buffers = [new Uint8Array(Math.min(chunkSize, source.size)), new Uint8Array(n > 1 ? chunkSize : 0)]
  const read = (i: number): Promise<Uint8Array> | undefined => {
    if (i >= n) return undefined
    const p = source.read(i * chunkSize, chunkLength(i, source.size, chunkSize), { ...options, into: buffers[i % 2] })
    p.catch(() => {}) // awaited in turn below; this only keeps an early exit from leaving it unhandled
    return p
  }
  let next = read(0)
  try {
    for (let i = 0; i < n; i++) {
      throwIfAborted(options.signal)
      const chunk = await (next as Promise<Uint8Array>)
      next = read(i + 1)
      h.init()
      h.update(chunk)
      chunkHashes.set(h.digest('binary'), i * BLAKE3_BYTES)
      const now = performance.now()
      if (options.onProgress !== undefined && (now - last > 200 || i === n - 1)) {
        last = now
        const bytes = Math.min(source.size, (i + 1) * chunkSize)
        options.onProgress({ type: 'transfer:hashing', detail: { id, bytes, total: source.size, rate: bytes / Math.max(1e-3, (now - started) / 1000) } })
      }
    }
  } finally {
    releaseHasher(h)
  }
  return { id, name: source.name, size: source.size, chunkSize, chunkHashes, root: await fileRoot(source.size, chunkSize, chunkHashes) }
}


/** Checks a file's size and chunk size against the protocol's limits. */
export function validateChunking (size: number, chunkSize: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidManifestError('size must be a non-negative integer')
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_FILE_CHUNK_SIZE || chunkSize > MAX_FILE_CHUNK_SIZE) {
    throw new InvalidManifestError(`chunk size must be from ${MIN_FILE_CHUNK_SIZE} to ${MAX_FILE_CHUNK_SIZE} bytes`)
  }
  if (chunkCount(size, chunkSize) > MAX_FILE_CHUNKS) {
    throw new FileTooLargeError(`a file of ${size} bytes has more than ${MAX_FILE_CHUNKS} chunks of ${chunkSize} bytes`)
  }
}


/**
 * Counts how many chunks from `from` on are intact: reads each at its offset (the next one
 * while this one is hashed) and compares its BLAKE3 with the manifest, stopping at the
 * first missing or torn one.
 */
export async function verifyChunksOnDisk (manifest: FileManifest, from: number, available: number, read: (offset: number, length: number, into: Uint8Array) => Promise<Uint8Array>): Promise<number> {
  const n = chunkCount(manifest.size, manifest.chunkSize)
  const fits = (i: number): boolean => i < n && (i * manifest.chunkSize) + chunkLength(i, manifest.size, manifest.chunkSize) <= available
  // the chunk being hashed and the next being read, in two reused buffers (a reader may ignore them)
  const buffers = [new Uint8Array(0), new Uint8Array(0)]
  const readChunk = (i: number): Promise<Uint8Array> | undefined => {
    if (!fits(i)) return undefined
    const length = chunkLength(i, manifest.size, manifest.chunkSize)
    if ((buffers[i % 2] as Uint8Array).byteLength < length) buffers[i % 2] = new Uint8Array(manifest.chunkSize)
    const p = read(i * manifest.chunkSize, length, buffers[i % 2] as Uint8Array)
    p.catch(() => {}) // awaited in turn below; this only keeps an early exit from leaving it unhandled
    return p
  }
  const h = await takeHasher()
  let i = from
  try {
    let next = readChunk(i)
    for (; next !== undefined; i++) {
      const chunk = await next
      next = readChunk(i + 1)
      if (chunk.byteLength !== chunkLength(i, manifest.size, manifest.chunkSize)) break
      h.init()
      h.update(chunk)
      if (!equalBytes(h.digest('binary'), manifest.chunkHashes.subarray(i * BLAKE3_BYTES, (i + 1) * BLAKE3_BYTES))) break
    }
  } finally {
    releaseHasher(h)
  }
  return i
}


/** The manifest as it travels (a streamed one without `h` and `r`, with `st: true`). */
export function manifestToWire (m: FileManifest): Record<string, unknown> {
  const wire: Record<string, unknown> = m.streamed === true
    ? { id: m.id, name: m.name, size: m.size, cs: m.chunkSize, st: true }
    : { id: m.id, name: m.name, size: m.size, cs: m.chunkSize, h: m.chunkHashes, r: m.root }
  if (m.sourceKey !== undefined) wire.sk = m.sourceKey
  // only a folder's entry carries `f`: a single file's manifest is byte-identical to before folders
  if (m.folder !== undefined) wire.f = { id: m.folder.id, i: m.folder.index }
  return wire
}


/**
 * Parses and checks a manifest from the wire: shape, chunk count, and that the root matches
 * the list; a streamed one (`st: true`: no `h`, no `r`, `sk` required, never a folder entry)
 * has empty hashes and an empty root until it is received.
 */
export async function manifestFromWire (value: unknown): Promise<FileManifest> {
  let rec: Record<string, unknown>
  let m: FileManifest
  try {
    rec = asRecord(value, 'manifest')
    const streamed = present(rec, 'st')
    if (streamed && rec.st !== true) throw new Error('manifest field st must be true when present')
    if (streamed && (present(rec, 'h') || present(rec, 'r'))) throw new Error('a streamed manifest carries no chunk hashes and no root')
    if (streamed && !present(rec, 'sk')) throw new Error('a streamed manifest needs its source key (sk)')
    if (streamed && present(rec, 'f')) throw new Error('a folder entry is never streamed')
    m = {
      id: stringField(rec, 'id', 'manifest', 64),
      name: stringField(rec, 'name', 'manifest', 4096),
      size: uintField(rec, 'size', 'manifest'),
      chunkSize: uintField(rec, 'cs', 'manifest', MAX_FILE_CHUNK_SIZE),
      chunkHashes: streamed ? new Uint8Array(0) : bytesField(rec, 'h', 'manifest', MAX_FILE_CHUNKS * BLAKE3_BYTES),
      root: streamed ? new Uint8Array(0) : bytesField(rec, 'r', 'manifest', BLAKE3_BYTES)
    }
    if (streamed) m.streamed = true
    if (present(rec, 'sk')) {
      m.sourceKey = bytesField(rec, 'sk', 'manifest', SOURCE_KEY_BYTES)
      if (m.sourceKey.byteLength !== SOURCE_KEY_BYTES) throw new Error(`manifest field sk must be ${SOURCE_KEY_BYTES} bytes`)
    }
    if (present(rec, 'f')) {
      const f = asRecord(rec.f, 'manifest folder')
      m.folder = { id: stringField(f, 'id', 'manifest folder', 64), index: uintField(f, 'i', 'manifest folder', MAX_FOLDER_ENTRIES - 1) }
    }
  } catch (err) {
    throw new InvalidManifestError((err as Error).message)
  }
  validateChunking(m.size, m.chunkSize)
  // the hashes to fill in are allocated once the offer is accepted (ChunkReceiver): an offer of
  // ~100 bytes must not hold up to 16 MiB while the policy and the disk are asked
  if (m.streamed === true) return m
  if (m.chunkHashes.byteLength !== chunkCount(m.size, m.chunkSize) * BLAKE3_BYTES) {
    throw new InvalidManifestError(`manifest has ${m.chunkHashes.byteLength / BLAKE3_BYTES} chunk hashes, the size needs ${chunkCount(m.size, m.chunkSize)}`)
  }
  if (m.root.byteLength !== BLAKE3_BYTES || !equalBytes(m.root, await fileRoot(m.size, m.chunkSize, m.chunkHashes))) {
    throw new InvalidManifestError('manifest root does not match its chunk hashes')
  }
  return m
}


/**
 * The resume key of a transfer (hex): BLAKE3 over the sender's hotkey and, when the
 * manifest has a {@link FileManifest.sourceKey}, that key, the size and the chunk size
 * (`SUBWIRE-TRANSFER-KEY-V2`: a streamed attempt and a hashed one of the same source share
 * it), else the file's root ({@link contentKey}).
 */
export async function transferKey (senderSs58: string, manifest: FileManifest): Promise<string> {
  if (manifest.sourceKey === undefined) return await contentKey(senderSs58, manifest.root)
  const ss58 = new TextEncoder().encode(senderSs58)
  const bytes = new Uint8Array(SOURCE_KEY_DOMAIN.byteLength + 1 + ss58.byteLength + SOURCE_KEY_BYTES + 12)
  bytes.set(SOURCE_KEY_DOMAIN)
  bytes[SOURCE_KEY_DOMAIN.byteLength] = ss58.byteLength
  bytes.set(ss58, SOURCE_KEY_DOMAIN.byteLength + 1)
  bytes.set(manifest.sourceKey, SOURCE_KEY_DOMAIN.byteLength + 1 + ss58.byteLength)
  const view = new DataView(bytes.buffer, SOURCE_KEY_DOMAIN.byteLength + 1 + ss58.byteLength + SOURCE_KEY_BYTES)
  view.setBigUint64(0, BigInt(manifest.size))
  view.setUint32(8, manifest.chunkSize)
  return bytesToHex(await blake3(bytes))
}

/** The content key of a file from a sender (hex): BLAKE3(`SUBWIRE-TRANSFER-KEY-V1` ‖ len ‖ hotkey ‖ root). */
export async function contentKey (senderSs58: string, root: Uint8Array): Promise<string> {
  const ss58 = new TextEncoder().encode(senderSs58)
  const bytes = new Uint8Array(KEY_DOMAIN.byteLength + 1 + ss58.byteLength + BLAKE3_BYTES)
  bytes.set(KEY_DOMAIN)
  bytes[KEY_DOMAIN.byteLength] = ss58.byteLength
  bytes.set(ss58, KEY_DOMAIN.byteLength + 1)
  bytes.set(root, KEY_DOMAIN.byteLength + 1 + ss58.byteLength)
  return bytesToHex(await blake3(bytes))
}
