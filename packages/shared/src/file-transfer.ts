/**
 * Direct file transfer, `/subwire/sn/<netuid>/file/1.0.0`: one stream per transfer,
 * opened by the sender.
 *
 * - The sender hashes the file first: a BLAKE3 hash per chunk, and the **root**,
 *   BLAKE3 over a header and the chunk-hash list (a two-level tree, bao-style), which
 *   names the file. The manifest carries both.
 * - The receiver checks the root against the list, then verifies every chunk against
 *   its hash **before writing it**. The file is thus verified whole by construction.
 * - Resume: a new offer of the same file from the same sender continues after the chunks
 *   the receiver still has; it re-reads and re-checks them against the manifest first,
 *   and checks the whole file on disk again before it moves it into the inbox, so a
 *   partial copy changed, truncated or torn between attempts never lands there.
 * - Backpressure end to end: the receiver grants credit one chunk at a time as chunks
 *   reach its disk; the sender never has more than the window in flight.
 *
 * Frames (MessagePack maps, `k` is the kind):
 * - S→R `{ k: 'offer', m: { id, name, size, cs, h: chunk hashes, r: root } }`, or
 *   encrypted `{ k: 'offer', id, x: envelope of the MessagePack manifest }`
 * - R→S `{ k: 'accept', from: verified chunks, w: window, ek?: receiver's ephemeral key }` | `{ k: 'refuse', e }`
 * - S→R `{ k: 'chunk', i, d }` (`d` sealed under the file-data key when encrypted)
 * - R→S `{ k: 'credit', n, at: verified chunks }`
 * - R→S `{ k: 'done', r: root }` after the file is in the inbox; also in answer to an offer
 *   whose transfer id this receiver already delivered (`dup: true`: a retry after a lost ack)
 * - either way `{ k: 'cancel', e }`
 *
 * @packageDocumentation
 */
import { createBLAKE3 } from 'hash-wasm'
import { asRecord, bytesField, stringField, uintField } from './wire/fields.ts'
import { decodeValue, encodeValue } from './wire/codec.ts'
import {
  BLAKE3_BYTES,
  FILE_CHUNK_SIZE,
  FILE_WINDOW_CHUNKS,
  MAX_FILE_CHUNK_SIZE,
  MAX_FILE_CHUNKS,
  MAX_FILE_NAME_BYTES,
  MIN_FILE_CHUNK_SIZE
} from './constants.ts'
import {
  AbortError,
  ChunkHashMismatchError,
  ConnectionClosedError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  errorClasses,
  errorFromWire,
  errorToWire,
  FileRefusedError,
  FileTooLargeError,
  InsufficientDiskSpaceError,
  InvalidFrameError,
  InvalidManifestError,
  PartialFileCorruptedError,
  toError,
  TransferCancelledError
} from './errors/index.ts'
import { throwIfAborted } from './abort.ts'
import { formatSize } from './units.ts'
import { E2E_TAG_BYTES, X25519_BYTES } from './encryption/envelope.ts'
import type { StreamCipher } from './encryption/envelope.ts'
import type { FramedStream } from './wire/framed-stream.ts'
import type { AbortOptions } from './abort.ts'
import type { Caller } from './rpc/types.ts'
import type { IHasher } from 'hash-wasm'

const ROOT_DOMAIN = new TextEncoder().encode('SUBWIRE-FILE-ROOT-V1')
const KEY_DOMAIN = new TextEncoder().encode('SUBWIRE-TRANSFER-KEY-V1')

/** What a sender announces about a file. */
export interface FileManifest {
  /** Transfer id (random per send; the resume key does not depend on it). */
  id: string
  /** File name as the sender gives it (the receiver sanitises it). */
  name: string
  /** Size in bytes. */
  size: number
  /** Chunk size in bytes. */
  chunkSize: number
  /** BLAKE3 of each chunk, concatenated (32 bytes each). */
  chunkHashes: Uint8Array
  /** BLAKE3 root over the header and the chunk hashes: the file's identity. */
  root: Uint8Array
}

/** Somewhere file bytes are read from (a path on Node, a Blob in the browser). */
export interface FileSource {
  /** Name offered to the receiver. */
  readonly name: string
  /** Size in bytes. */
  readonly size: number
  /** Reads exactly `length` bytes at `offset`. */
  read(offset: number, length: number, options?: AbortOptions): Promise<Uint8Array>
  /** Throws `SourceChangedError` if the source changed since it was opened. */
  check?(options?: AbortOptions): Promise<void>
  /** Releases the source. */
  close?(): Promise<void>
}

/** A transfer being received, as the store keeps it. */
export interface PartialFile {
  /**
   * Chunks already on disk from an earlier attempt, each re-read and checked against the
   * manifest when the partial was opened (never taken from a progress record alone).
   */
  readonly verifiedChunks: number
  /** Writes verified bytes at `offset`. */
  write(offset: number, bytes: Uint8Array, options?: AbortOptions): Promise<void>
  /**
   * Records that the first `verifiedChunks` chunks are written. The data is made durable
   * (synced) before the record, so a record never names data a power cut could lose.
   */
  commit(verifiedChunks: number, options?: AbortOptions): Promise<void>
  /** Reads back `length` bytes at `offset` of what was written (every write settled). */
  read(offset: number, length: number, options?: AbortOptions): Promise<Uint8Array>
  /** Drops everything past the first `verifiedChunks` chunks (a store may keep less) and records that. */
  rewind(verifiedChunks: number, options?: AbortOptions): Promise<void>
  /** Moves the complete file into the inbox without overwriting anything; returns where it landed. */
  complete(options?: AbortOptions): Promise<string>
  /** Releases the partial file, keeping it for a later resume. */
  close(): Promise<void>
}

/** What a {@link FileStore} records next to a partial file, so a later attempt can resume it. */
export interface PartialProgress {
  v: 1
  /** Root hash, hex. */
  root: string
  size: number
  chunkSize: number
  name: string
  /** The sender's verified SS58. */
  sender: string
  /** Chunks recorded as verified and written. */
  verifiedChunks: number
}

/** Where received files go: a directory on Node, OPFS in the browser. */
export interface FileStore {
  /** Free bytes where partial files are written, if known. */
  freeBytes?(options?: AbortOptions): Promise<number | undefined>
  /**
   * Bytes an earlier attempt left for transfer `key` (0 if none), looked up without
   * creating anything: the disk check before a partial is made counts them as already there.
   */
  partialBytes?(key: string, options?: AbortOptions): Promise<number>
  /**
   * Whether `<inbox>/<sender>/<name>` holds a file of `size` bytes: a second offer of content
   * already delivered under that name is acknowledged instead of stored again.
   */
  received?(sender: string, name: string, size: number, options?: AbortOptions): Promise<boolean>
  /**
   * Opens (or resumes) the partial file of a transfer. `key` identifies sender and file;
   * `name` is already sanitised; `sender` is the sender's verified SS58. A resumed partial
   * is re-verified against `manifest` from its first chunk, and cut back to the last good one.
   */
  open(key: string, manifest: FileManifest, name: string, sender: string, options?: AbortOptions): Promise<PartialFile>
}

/**
 * Disk space promised to the transfers in flight on one store: an offer is accepted only if
 * the free space, less what the others still have to write, leaves the configured minimum.
 */
export class DiskReservations {
  #total = 0

  /** Bytes still to be written by the transfers holding a reservation. */
  get total (): number { return this.#total }

  /** Reserves `bytes`; `written(n)` gives back what reached the disk, `release()` the rest. */
  reserve (bytes: number): { written: (n: number) => void, release: () => void } {
    let left = Math.max(0, bytes)
    this.#total += left
    return {
      written: (n) => { const d = Math.min(left, n); left -= d; this.#total -= d },
      release: () => { this.#total -= left; left = 0 }
    }
  }
}

/** An incoming offer, shown to the receiver's policy. */
export interface FileOffer {
  /** Transfer id. */
  id: string
  /** The verified sender. */
  from: Caller
  /** Sanitised file name. */
  name: string
  /** Size in bytes. */
  size: number
  /** Root hash, hex. */
  root: string
}

/** A file received completely and moved into the inbox. */
export interface ReceivedFile {
  /** Transfer id. */
  id: string
  /** The verified sender's hotkey. */
  from: string
  /** The verified sender. */
  caller: Caller
  /** Sanitised name it was offered under. */
  name: string
  /** Where it landed. */
  path: string
  /** Size in bytes. */
  size: number
  /** Root hash, hex. */
  blake3: string
  /** Bytes that were already there from an earlier attempt. */
  resumedFrom: number
}

/** What a completed send reports. */
export interface SendFileResult {
  /** Transfer id. */
  id: string
  /** Name offered. */
  name: string
  /** Size in bytes. */
  size: number
  /** Root hash, hex, as acknowledged by the receiver. */
  blake3: string
  /** Bytes sent in this attempt. */
  bytesSent: number
  /** Bytes the receiver already had. */
  resumedFrom: number
  /** Duration in ms, hashing included. */
  ms: number
}

/** Progress of a transfer, as a typed event. */
export interface TransferProgressEvent {
  /** `transfer:hashing` while the sender hashes, `transfer:bytes` while bytes move. */
  type: 'transfer:hashing' | 'transfer:bytes'
  detail: {
    /** Transfer id. */
    id: string
    /** Bytes hashed or transferred (including what was resumed). */
    bytes: number
    /** Total bytes. */
    total: number
    /** Bytes per second over the current phase. */
    rate: number
  }
}

/** Options of sending a file. */
export interface SendFileOptions extends AbortOptions {
  /** Progress events. */
  onProgress?: ((event: TransferProgressEvent) => void) | undefined
  /** Give up when the receiver sends nothing (no credit, no ack) for this long (default 30 s). */
  stallTimeoutMs?: number | undefined
}

/** The sender's end-to-end encryption of one transfer (built by the engine for the verified receiver). */
export interface FileSealer {
  /** Seals the encoded manifest; returns the envelope and how to make the data cipher from the receiver's ephemeral key. */
  sealOffer(manifest: Uint8Array): Promise<{ x: unknown, dataCipher: (receiverEphemeral: Uint8Array) => Promise<StreamCipher> }>
}

/** The receiver's end-to-end decryption of one transfer. */
export interface FileOpener {
  /** Opens the sealed manifest of transfer `id`; `accept()` makes our ephemeral key and the data cipher. */
  openOffer(x: unknown, id: string): Promise<{ manifest: Uint8Array, accept: () => Promise<{ ek: Uint8Array, cipher: StreamCipher }> }>
}

/** Default of {@link SendFileOptions.stallTimeoutMs}; the receiver sends keepalives at a quarter of it. */
export const SENDER_STALL_MS = 30_000

/** Receive limits and policy. */
export interface ReceivePolicy {
  /** Largest file accepted (default: no limit beyond the protocol's 512 GiB). */
  maxFileSize?: number | undefined
  /** Free disk space that must remain after the file (default 1 GiB). */
  minFreeBytes?: number | undefined
  /** Called for every offer; throw to refuse (the message reaches the sender). */
  onOffer?: ((offer: FileOffer) => void | Promise<void>) | undefined
}

/**
 * The receiver records its progress (data synced first) at least every this many chunks or
 * ms. The record is a hint, never trusted alone: a resume re-verifies the chunks on disk.
 */
const COMMIT_EVERY_CHUNKS = 32
const COMMIT_EVERY_MS = 1000
/** Disk writes the receiver keeps in flight while it hashes the next chunks. */
const MAX_PENDING_WRITES = 4

/** Default free space kept on the receiver's disk. */
export const DEFAULT_MIN_FREE_BYTES = 1024 * 1024 * 1024

function toHex (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

const hasherPool: IHasher[] = []

/** Borrows a BLAKE3 hasher (WASM, ~0.7 GB/s); return it with {@link releaseHasher}. */
async function takeHasher (): Promise<IHasher> {
  return hasherPool.pop() ?? await createBLAKE3()
}

function releaseHasher (h: IHasher): void {
  if (hasherPool.length < 8) hasherPool.push(h)
}

/** BLAKE3 of some bytes. */
export async function blake3 (bytes: Uint8Array): Promise<Uint8Array> {
  const h = await takeHasher()
  try {
    h.init()
    h.update(bytes)
    return h.digest('binary')
  } finally {
    releaseHasher(h)
  }
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

/**
 * Hashes a source into a manifest: one pass, chunk by chunk, reading the next chunk while
 * hashing this one (never more than two in memory). Emits `transfer:hashing` progress.
 */
export async function createManifest (source: FileSource, options: SendFileOptions & { id?: string | undefined, chunkSize?: number | undefined } = {}): Promise<FileManifest> {
  const chunkSize = options.chunkSize ?? FILE_CHUNK_SIZE
  validateChunking(source.size, chunkSize)
  const id = options.id ?? crypto.randomUUID()
  const n = chunkCount(source.size, chunkSize)
  const chunkHashes = new Uint8Array(n * BLAKE3_BYTES)
  const h = await takeHasher()
  const started = performance.now()
  let last = 0
  const read = (i: number): Promise<Uint8Array> | undefined => {
    if (i >= n) return undefined
    const p = source.read(i * chunkSize, chunkLength(i, source.size, chunkSize), options)
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

function validateChunking (size: number, chunkSize: number): void {
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
export async function verifyChunksOnDisk (manifest: FileManifest, from: number, available: number, read: (offset: number, length: number) => Promise<Uint8Array>): Promise<number> {
  const n = chunkCount(manifest.size, manifest.chunkSize)
  const fits = (i: number): boolean => i < n && (i * manifest.chunkSize) + chunkLength(i, manifest.size, manifest.chunkSize) <= available
  const readChunk = (i: number): Promise<Uint8Array> | undefined => {
    if (!fits(i)) return undefined
    const p = read(i * manifest.chunkSize, chunkLength(i, manifest.size, manifest.chunkSize))
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

/** The manifest as it travels. */
export function manifestToWire (m: FileManifest): Record<string, unknown> {
  return { id: m.id, name: m.name, size: m.size, cs: m.chunkSize, h: m.chunkHashes, r: m.root }
}

/** Parses and checks a manifest from the wire: shape, chunk count, and that the root matches the list. */
export async function manifestFromWire (value: unknown): Promise<FileManifest> {
  let rec: Record<string, unknown>
  let m: FileManifest
  try {
    rec = asRecord(value, 'manifest')
    m = {
      id: stringField(rec, 'id', 'manifest', 64),
      name: stringField(rec, 'name', 'manifest', 4096),
      size: uintField(rec, 'size', 'manifest'),
      chunkSize: uintField(rec, 'cs', 'manifest', MAX_FILE_CHUNK_SIZE),
      chunkHashes: bytesField(rec, 'h', 'manifest', MAX_FILE_CHUNKS * BLAKE3_BYTES),
      root: bytesField(rec, 'r', 'manifest', BLAKE3_BYTES)
    }
  } catch (err) {
    throw new InvalidManifestError((err as Error).message)
  }
  validateChunking(m.size, m.chunkSize)
  if (m.chunkHashes.byteLength !== chunkCount(m.size, m.chunkSize) * BLAKE3_BYTES) {
    throw new InvalidManifestError(`manifest has ${m.chunkHashes.byteLength / BLAKE3_BYTES} chunk hashes, the size needs ${chunkCount(m.size, m.chunkSize)}`)
  }
  if (m.root.byteLength !== BLAKE3_BYTES || !equalBytes(m.root, await fileRoot(m.size, m.chunkSize, m.chunkHashes))) {
    throw new InvalidManifestError('manifest root does not match its chunk hashes')
  }
  return m
}

/** The resume key of a transfer: BLAKE3 over the sender's hotkey and the file's root (hex). */
export async function transferKey (senderSs58: string, manifest: FileManifest): Promise<string> {
  const ss58 = new TextEncoder().encode(senderSs58)
  const bytes = new Uint8Array(KEY_DOMAIN.byteLength + 1 + ss58.byteLength + BLAKE3_BYTES)
  bytes.set(KEY_DOMAIN)
  bytes[KEY_DOMAIN.byteLength] = ss58.byteLength
  bytes.set(ss58, KEY_DOMAIN.byteLength + 1)
  bytes.set(manifest.root, KEY_DOMAIN.byteLength + 1 + ss58.byteLength)
  return toHex(await blake3(bytes))
}

const RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i

/**
 * Neutralises a file name from the network: keeps the last path component only, drops
 * control and path characters, refuses `.`/`..`, leading dots and Windows reserved
 * names, and caps the length (keeping the extension). Never returns an empty name.
 */
export function sanitizeFileName (name: string): string {
  const last = name.split(/[/\\]/).filter((p) => p.length > 0).pop() ?? ''
  // eslint-disable-next-line no-control-regex
  let clean = last.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f<>:"|?*]/g, '_').trim()
  clean = clean.replace(/^\.+/, (dots) => '_'.repeat(dots.length))
  if (clean === '') clean = 'file'
  if (RESERVED_NAMES.test(clean)) clean = `_${clean}`
  const encoder = new TextEncoder()
  if (encoder.encode(clean).byteLength > MAX_FILE_NAME_BYTES) {
    const dot = clean.lastIndexOf('.')
    const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : ''
    let base = clean.slice(0, clean.length - ext.length)
    while (encoder.encode(base + ext).byteLength > MAX_FILE_NAME_BYTES) base = base.slice(0, -1)
    clean = base + ext
  }
  return clean
}

function cancelFrame (err: Error): Record<string, unknown> {
  return { k: 'cancel', e: errorToWire(err) }
}

/**
 * Reasons for a cancel that reach the other side as themselves rather than wrapped in
 * `TransferCancelledError`: the receiver's disk filled up, or its partial copy failed
 * verification. Both are resumable, and callers (the outbox) tell them apart by name.
 */
const SURFACED_CANCELS = new Set([InsufficientDiskSpaceError.name, PartialFileCorruptedError.name])

function cancelledBy (side: string, rec: Record<string, unknown>): Error {
  const reason = errorFromWire(asRecord(rec.e, 'cancel') as { name: string, message: string })
  if (SURFACED_CANCELS.has(reason.name)) return reason
  return new TransferCancelledError(`Cancelled by the ${side}: ${reason.name}: ${reason.message}`, { cause: reason })
}

/**
 * Sends a file over a freshly opened file stream. Resolves only after the receiver
 * acknowledged the file in its inbox with the same root.
 */
export async function sendFileOverStream (framed: FramedStream, source: FileSource, manifest: FileManifest, options: SendFileOptions & { e2e?: FileSealer | undefined } = {}): Promise<Omit<SendFileResult, 'ms'>> {
  const { signal } = options
  throwIfAborted(signal)
  let sealed: Awaited<ReturnType<FileSealer['sealOffer']>> | undefined
  if (options.e2e !== undefined) {
    sealed = await options.e2e.sealOffer(encodeValue(manifestToWire(manifest)))
    framed.send({ k: 'offer', id: manifest.id, x: sealed.x })
  } else {
    framed.send({ k: 'offer', m: manifestToWire(manifest) })
  }
  const reply = asRecord(await framed.readFrame({ signal }), 'offer reply')
  if (reply.k === 'refuse') {
    const reason = errorFromWire(asRecord(reply.e, 'refusal') as { name: string, message: string })
    await framed.close().catch(() => {})
    throw reason.name === FileTooLargeError.name || reason.name === InsufficientDiskSpaceError.name || reason.name === FileRefusedError.name
      ? reason
      : new FileRefusedError(`${reason.name}: ${reason.message}`, { cause: reason })
  }
  if (reply.k === 'done') {
    // the receiver already has this transfer (a retry after a lost ack)
    if (!equalBytes(bytesField(reply, 'r', 'done', BLAKE3_BYTES), manifest.root)) throw new InvalidFrameError('The receiver acknowledged another root than the one offered')
    await framed.close().catch(() => {})
    return { id: manifest.id, name: manifest.name, size: manifest.size, blake3: toHex(manifest.root), bytesSent: 0, resumedFrom: manifest.size }
  }
  if (reply.k !== 'accept') throw new InvalidFrameError(`expected accept, refuse or done, got ${String(reply.k)}`)
  const n = chunkCount(manifest.size, manifest.chunkSize)
  const from = uintField(reply, 'from', 'accept', n)
  const window = Math.max(1, Math.min(uintField(reply, 'w', 'accept', 1024), 64))
  const resumedFrom = Math.min(manifest.size, from * manifest.chunkSize)
  let cipher: StreamCipher | undefined
  if (sealed !== undefined) {
    const ek = bytesField(reply, 'ek', 'accept', X25519_BYTES)
    cipher = await sealed.dataCipher(ek)
  }

  let credit = window
  let failure: Error | undefined
  // a receiver that vanished without the transport noticing (e.g. a killed process behind
  // WebRTC) would leave us waiting for credit forever: give up after a quiet spell
  const stallMs = options.stallTimeoutMs ?? SENDER_STALL_MS
  let stall: ReturnType<typeof setTimeout> | undefined
  const armStall = (): void => {
    clearTimeout(stall)
    stall = setTimeout(() => {
      failure ??= new ConnectionClosedError(`The receiver stopped answering for ${Math.round(stallMs / 1000)} s; send again to resume`)
      framed.abort(failure)
      notify()
    }, stallMs)
  }
  let doneRoot: Uint8Array | undefined
  let wake: (() => void) | undefined
  const notify = (): void => { const w = wake; wake = undefined; w?.() }
  framed.onFrame((frame) => {
    armStall()
    try {
      const rec = asRecord(frame, 'receiver frame')
      if (rec.k === 'credit') credit += uintField(rec, 'n', 'credit', 1024)
      else if (rec.k === 'done') doneRoot = bytesField(rec, 'r', 'done', BLAKE3_BYTES)
      else if (rec.k === 'cancel') failure = cancelledBy('receiver', rec)
      else throw new InvalidFrameError(`unexpected frame ${String(rec.k)} from the receiver`)
    } catch (err) {
      failure = toError(err)
    }
    notify()
  })
  framed.onEnd((err) => {
    if (doneRoot === undefined) {
      failure ??= err === undefined
        ? new ConnectionClosedError('The receiver closed the transfer stream')
        : new ConnectionClosedError(`Lost the connection to the receiver (${err.message}); send again to resume`, { cause: err })
    }
    notify()
  })
  const onAbort = (): void => { notify() }
  signal?.addEventListener('abort', onAbort)
  const waitFor = async (ready: () => boolean): Promise<void> => {
    while (!ready()) {
      if (failure !== undefined) throw failure
      if (signal?.aborted === true) throw new AbortError()
      await new Promise<void>((resolve) => { wake = resolve })
    }
    if (failure !== undefined) throw failure
  }

  let bytesSent = 0
  const started = performance.now()
  let lastReport = 0
  armStall()
  try {
    // read one chunk ahead, so the disk works while we wait for credit
    const readChunk = (i: number): Promise<Uint8Array> | undefined => {
      if (i >= n) return undefined
      const read = source.read(i * manifest.chunkSize, chunkLength(i, manifest.size, manifest.chunkSize), { signal })
      const p = cipher === undefined ? read : read.then(async (d) => await (cipher as StreamCipher).seal(i, d, i === n - 1))
      p.catch(() => {}) // awaited below; this only keeps an early exit from leaving it unhandled
      return p
    }
    let ahead = readChunk(from)
    for (let i = from; i < n; i++) {
      const length = chunkLength(i, manifest.size, manifest.chunkSize)
      const data = await (ahead as Promise<Uint8Array>)
      ahead = readChunk(i + 1)
      await waitFor(() => credit > 0)
      credit--
      framed.send({ k: 'chunk', i, d: data })
      bytesSent += length
      const now = performance.now()
      if (options.onProgress !== undefined && (now - lastReport > 200 || i === n - 1)) {
        lastReport = now
        options.onProgress({ type: 'transfer:bytes', detail: { id: manifest.id, bytes: resumedFrom + bytesSent, total: manifest.size, rate: bytesSent / Math.max(1e-3, (now - started) / 1000) } })
      }
      await framed.waitWritable({ signal })
    }
    await source.check?.({ signal })
    await waitFor(() => doneRoot !== undefined)
  } catch (err) {
    const e = toError(err)
    if (e.name === AbortError.name || e.name === 'SourceChangedError') {
      try {
        framed.send(cancelFrame(e.name === AbortError.name ? new TransferCancelledError('The sender cancelled the transfer') : e))
        await framed.close()
      } catch {}
    } else if (failure === undefined) {
      framed.abort(e)
    }
    throw e
  } finally {
    clearTimeout(stall)
    signal?.removeEventListener('abort', onAbort)
  }
  if (doneRoot === undefined || !equalBytes(doneRoot, manifest.root)) {
    throw new InvalidFrameError('The receiver acknowledged another root than the one offered')
  }
  await framed.close().catch(() => {})
  return { id: manifest.id, name: manifest.name, size: manifest.size, blake3: toHex(manifest.root), bytesSent, resumedFrom }
}

/** Options of receiving one file. */
export interface ReceiveFileInit extends AbortOptions {
  /** The verified sender. */
  caller: Caller
  /** Where it goes. */
  store: FileStore
  /** Limits and policy. */
  policy: ReceivePolicy
  /** Space promised to the other transfers into the same store (none: each offer is checked alone). */
  reservations?: DiskReservations | undefined
  /** Called once the offer is accepted, with the manifest (so the transfer can be cancelled by id). */
  onAccepted?: (offer: FileOffer) => void
  /** Progress events. */
  onProgress?: ((event: TransferProgressEvent) => void) | undefined
  /** Opens encrypted offers; without it an encrypted offer is refused with `EncryptionUnavailableError`. */
  e2e?: FileOpener | undefined
  /** Refuse plaintext offers with `EncryptionRequiredError`. */
  requireEncryption?: boolean | undefined
  /** Time to wait for the offer or for the next chunk before giving up (default 60 s). */
  idleTimeoutMs?: number
  /**
   * Takes the resume key before the partial file is opened, and returns its release.
   * The engine uses it so that a new offer of the same file from the same sender (whose
   * old process died unseen) supersedes the stale transfer instead of being refused.
   */
  claim?: (key: string) => Promise<() => void>
  /**
   * The receiver's delivery log. An offer of a transfer id already delivered is answered
   * `done` at once (nothing is written or announced again); so is an offer of content
   * (`contentKey`: sender, root and name) already delivered and still in the inbox. A
   * completed transfer is recorded under both before its `done` is sent.
   */
  delivered?: {
    was: (id: string) => Promise<boolean>
    mark: (id: string) => Promise<void>
  } | undefined
  /** Where the receiver logs what the sender is not told (local paths, system errors). */
  log?: ((format: string, ...args: unknown[]) => void) | undefined
}

/**
 * What a remote may be told of a local failure: a subwire error as it is; anything else
 * (a system error naming local paths) as a plain refusal, logged here in full.
 */
function forRemote (err: Error, log: ReceiveFileInit['log']): Error {
  if (Object.hasOwn(errorClasses, err.name)) return err
  log?.('file receive failed locally: %s: %s', err.name, err.message)
  return new FileRefusedError('The receiver could not store the file')
}

/**
 * Receives one file on an inbound file stream: checks the offer against the policy and
 * the disk before anything is created, resumes from the chunks on disk that still verify,
 * verifies each chunk before writing it, grants credit, checks the whole file on disk
 * against the manifest, moves it into the inbox and acknowledges it. Resolves `undefined`
 * for a retry of something already delivered (acknowledged again, not received again).
 */
export async function receiveFileOverStream (framed: FramedStream, init: ReceiveFileInit): Promise<ReceivedFile | undefined> {
  const idle = init.idleTimeoutMs ?? 60_000
  const read = async (): Promise<Record<string, unknown>> => {
    const signals = [AbortSignal.timeout(idle), ...(init.signal === undefined ? [] : [init.signal])]
    return asRecord(await framed.readFrame({ signal: AbortSignal.any(signals) }), 'sender frame')
  }
  const refuse = async (err: Error): Promise<never> => {
    try {
      framed.send({ k: 'refuse', e: errorToWire(forRemote(err, init.log)) })
      await framed.close()
    } catch {}
    throw err
  }
  const ackDuplicate = async (manifest: FileManifest): Promise<undefined> => {
    framed.send({ k: 'done', r: manifest.root, dup: true })
    await framed.close().catch(() => {})
    return undefined
  }

  const offer = await read()
  if (offer.k !== 'offer') throw new InvalidFrameError(`expected an offer, got ${String(offer.k)}`)
  let manifest: FileManifest
  let opened: Awaited<ReturnType<FileOpener['openOffer']>> | undefined
  try {
    if (offer.x !== undefined) {
      if (init.e2e === undefined) throw new EncryptionUnavailableError('This peer has end-to-end encryption turned off')
      const id = stringField(offer, 'id', 'offer', 64)
      opened = await init.e2e.openOffer(offer.x, id)
      manifest = await manifestFromWire(decodeValue(opened.manifest))
      if (manifest.id !== id) throw new InvalidManifestError('the sealed manifest names another transfer id than the offer')
    } else {
      if (init.requireEncryption === true) throw new EncryptionRequiredError('This peer accepts only end-to-end encrypted files')
      manifest = await manifestFromWire(offer.m)
    }
  } catch (err) {
    return await refuse(toError(err))
  }
  const { policy, store } = init
  if (await init.delivered?.was(`f:${manifest.id}`) === true) return await ackDuplicate(manifest)
  const name = sanitizeFileName(manifest.name)
  const publicOffer: FileOffer = { id: manifest.id, from: init.caller, name, size: manifest.size, root: toHex(manifest.root) }
  if (policy.maxFileSize !== undefined && manifest.size > policy.maxFileSize) {
    return await refuse(new FileTooLargeError(`${formatSize(manifest.size)} is above this peer's limit of ${formatSize(policy.maxFileSize)}`))
  }
  try {
    await policy.onOffer?.(publicOffer)
  } catch (err) {
    return await refuse(new FileRefusedError(toError(err).message))
  }
  const key = await transferKey(init.caller.ss58, manifest)
  // the same content under the same name, delivered before and still there: a re-send, not a new file
  const contentId = `c:${key}:${name}`
  if (await init.delivered?.was(contentId) === true && await store.received?.(init.caller.ss58, name, manifest.size, { signal: init.signal }) === true) {
    await init.delivered?.mark(`f:${manifest.id}`)
    return await ackDuplicate(manifest)
  }
  const release = await init.claim?.(key)
  try {
    // the disk check comes before the partial is made: a refused offer leaves nothing behind
    const need = manifest.size - Math.min(manifest.size, await store.partialBytes?.(key, { signal: init.signal }) ?? 0)
    const free = await store.freeBytes?.({ signal: init.signal })
    const minFree = policy.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES
    if (free !== undefined && free - (init.reservations?.total ?? 0) - need < minFree) {
      return await refuse(new InsufficientDiskSpaceError(`Not enough free disk space for ${formatSize(need)} (this peer keeps ${formatSize(minFree)} free); try again later`))
    }
    const reservation = init.reservations?.reserve(need)
    try {
      const receiver = new ChunkReceiver(framed, init, manifest, read)
      return await receiver.run(key, name, publicOffer, contentId, reservation, refuse, opened?.accept)
    } finally {
      reservation?.release()
    }
  } finally {
    release?.()
  }
}

/** Receives the chunks of one accepted offer into its partial file. */
class ChunkReceiver {
  readonly #framed: FramedStream
  readonly #init: ReceiveFileInit
  readonly #manifest: FileManifest
  readonly #read: () => Promise<Record<string, unknown>>
  readonly #n: number
  /** Writes in flight, oldest first. */
  readonly #writes: Array<Promise<void>> = []
  /** Chunks verified and handed to the store. */
  #next = 0
  /** Chunks recorded in the store's progress (data synced first). */
  #committed = 0
  #committing: Promise<void> | undefined
  #lastCommit = 0
  #remoteCancelled = false

  constructor (framed: FramedStream, init: ReceiveFileInit, manifest: FileManifest, read: () => Promise<Record<string, unknown>>) {
    this.#framed = framed
    this.#init = init
    this.#manifest = manifest
    this.#read = read
    this.#n = chunkCount(manifest.size, manifest.chunkSize)
  }

  async run (key: string, name: string, publicOffer: FileOffer, contentId: string, reservation: ReturnType<DiskReservations['reserve']> | undefined,
    refuse: (err: Error) => Promise<never>, acceptEncrypted: (() => Promise<{ ek: Uint8Array, cipher: StreamCipher }>) | undefined): Promise<ReceivedFile> {
    const init = this.#init
    const manifest = this.#manifest
    let partial: PartialFile
    try {
      partial = await init.store.open(key, manifest, name, init.caller.ss58, { signal: init.signal })
    } catch (err) {
      return await refuse(toError(err))
    }
    try {
      this.#next = this.#committed = Math.min(partial.verifiedChunks, this.#n)
      const resumedFrom = Math.min(manifest.size, this.#next * manifest.chunkSize)
      let cipher: StreamCipher | undefined
      if (acceptEncrypted !== undefined) {
        const a = await acceptEncrypted()
        cipher = a.cipher
        this.#framed.send({ k: 'accept', from: this.#next, w: FILE_WINDOW_CHUNKS, ek: a.ek })
      } else {
        this.#framed.send({ k: 'accept', from: this.#next, w: FILE_WINDOW_CHUNKS })
      }
      init.onAccepted?.(publicOffer)
      let path: string
      try {
        await this.#receiveChunks(partial, cipher, resumedFrom, reservation)
        path = await this.#finish(partial)
      } catch (err) {
        await this.#fail(partial, toError(err))
        throw err
      }
      await init.delivered?.mark(`f:${manifest.id}`)
      await init.delivered?.mark(contentId)
      this.#framed.send({ k: 'done', r: manifest.root })
      await this.#framed.close().catch(() => {})
      return { id: manifest.id, from: init.caller.ss58, caller: init.caller, name, path, size: manifest.size, blake3: toHex(manifest.root), resumedFrom }
    } finally {
      await partial.close().catch(() => {})
    }
  }

  async #receiveChunks (partial: PartialFile, cipher: StreamCipher | undefined, resumedFrom: number, reservation: ReturnType<DiskReservations['reserve']> | undefined): Promise<void> {
    const init = this.#init
    const manifest = this.#manifest
    const n = this.#n
    const h = await takeHasher()
    const started = performance.now()
    this.#lastCommit = started
    let lastReport = 0
    try {
      while (this.#next < n) {
        if (this.#framed.pendingFrames > FILE_WINDOW_CHUNKS + 2) throw new InvalidFrameError('sender ignored the credit window')
        if (init.signal?.aborted === true) throw init.signal.reason instanceof Error ? init.signal.reason : new AbortError()
        const frame = await this.#read()
        if (frame.k === 'cancel') {
          this.#remoteCancelled = true
          throw cancelledBy('sender', frame)
        }
        if (frame.k !== 'chunk') throw new InvalidFrameError(`expected a chunk, got ${String(frame.k)}`)
        const i = uintField(frame, 'i', 'chunk', n)
        const next = this.#next
        const length = chunkLength(next, manifest.size, manifest.chunkSize)
        let data = bytesField(frame, 'd', 'chunk', manifest.chunkSize + (cipher === undefined ? 0 : E2E_TAG_BYTES))
        if (i === next && cipher !== undefined) data = await cipher.open(i, data, i === n - 1)
        if (i !== next || data.byteLength !== length) throw new InvalidFrameError(`expected chunk ${next} of ${length} bytes, got chunk ${i} of ${data.byteLength}`)
        h.init()
        h.update(data)
        if (!equalBytes(h.digest('binary'), manifest.chunkHashes.subarray(i * BLAKE3_BYTES, (i + 1) * BLAKE3_BYTES))) {
          throw new ChunkHashMismatchError(`chunk ${i} does not match its BLAKE3 hash in the manifest; nothing of it was written`)
        }
        // verified: write it, keeping a few writes in flight while the next chunk is hashed
        const write = partial.write(i * manifest.chunkSize, data, { signal: init.signal })
        write.then(() => { reservation?.written(length) }, () => {}) // awaited through #writes; this only keeps it from being unhandled
        this.#writes.push(write)
        this.#next++
        if (this.#writes.length > MAX_PENDING_WRITES) await this.#writes.shift()
        this.#framed.send({ k: 'credit', n: 1, at: this.#next })
        this.#commitSoon(partial)
        const now = performance.now()
        if (init.onProgress !== undefined && (now - lastReport > 200 || this.#next === n)) {
          lastReport = now
          const bytes = Math.min(manifest.size, this.#next * manifest.chunkSize)
          init.onProgress({ type: 'transfer:bytes', detail: { id: manifest.id, bytes, total: manifest.size, rate: (bytes - resumedFrom) / Math.max(1e-3, (now - started) / 1000) } })
        }
      }
      while (this.#writes.length > 0) await this.#writes.shift()
    } finally {
      releaseHasher(h)
    }
  }

  /**
   * Records progress now and then without holding up the stream: once the writes so far
   * have settled, the store syncs them and then writes its record (one commit at a time).
   */
  #commitSoon (partial: PartialFile): void {
    const now = performance.now()
    if (this.#committing !== undefined || (this.#next - this.#committed < COMMIT_EVERY_CHUNKS && now - this.#lastCommit <= COMMIT_EVERY_MS)) return
    this.#lastCommit = now
    const upTo = this.#next
    const writes = [...this.#writes]
    this.#committing = (async () => {
      await Promise.all(writes)
      await partial.commit(upTo, { signal: this.#init.signal })
      this.#committed = Math.max(this.#committed, upTo)
    })().catch(() => {}).finally(() => { this.#committing = undefined }) // a failed write fails the stream's own await
  }

  /** Checks the whole file as it is on disk, then moves it into the inbox. */
  async #finish (partial: PartialFile): Promise<string> {
    const init = this.#init
    const manifest = this.#manifest
    await this.#committing
    // re-reading a large file and moving it into the inbox can take a while (OPFS copies
    // it): keep the sender's stall timer from firing with empty credits
    const keepalive = setInterval(() => { try { this.#framed.send({ k: 'credit', n: 0, at: this.#n }) } catch {} }, SENDER_STALL_MS / 4)
    try {
      const good = await verifyChunksOnDisk(manifest, 0, manifest.size, async (offset, length) => await partial.read(offset, length, { signal: init.signal }))
      if (good < this.#n) {
        this.#next = this.#committed = good
        await partial.rewind(good, { signal: init.signal })
        throw new PartialFileCorruptedError(`Chunk ${good} of ${manifest.name} no longer matches its hash on the receiver's disk; the partial was cut back to ${formatSize(good * manifest.chunkSize)}, send again to resume from there`)
      }
      return await partial.complete({ signal: init.signal })
    } finally {
      clearInterval(keepalive)
    }
  }

  /** Records what really reached the disk and tells the sender why the transfer ends. */
  async #fail (partial: PartialFile, err: Error): Promise<void> {
    await this.#committing
    // the chunks whose writes all succeeded
    const settled = await Promise.allSettled(this.#writes.splice(0))
    const firstFailed = settled.findIndex((r) => r.status === 'rejected')
    const onDisk = firstFailed < 0 ? this.#next : this.#next - settled.length + firstFailed
    if (onDisk > this.#committed) await partial.commit(onDisk).catch(() => {})
    if (this.#remoteCancelled) return // the sender ended it: nothing to tell it back
    const reason = err.name === AbortError.name ? new TransferCancelledError('The receiver cancelled the transfer') : forRemote(err, this.#init.log)
    try { this.#framed.send(cancelFrame(reason)); await this.#framed.close() } catch {}
  }
}

/** Lowercase hex of bytes. */
export { toHex as bytesToHex }
