/**
 * The types of direct file transfer: manifests, sources, stores and partial files, offers,
 * results, progress events, the encryption hooks and the receive policy.
 *
 * @packageDocumentation
 */
import type { StreamCipher } from '../encryption/envelope.ts'
import type { AbortOptions } from '../abort.ts'
import type { Caller } from '../rpc/types.ts'
import { blake3 } from './hash.ts'
import type { DiskReservations } from './reservations.ts'
import type { FolderSession } from './folder-receiver.ts'


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
  /**
   * BLAKE3 of each chunk, concatenated (32 bytes each). In a streamed manifest, zeros that
   * each side fills in as the chunks go.
   */
  chunkHashes: Uint8Array
  /**
   * BLAKE3 root over the header and the chunk hashes: the file's identity. Empty in a
   * streamed manifest until the sender has read the last chunk.
   */
  root: Uint8Array
  /**
   * Set when the manifest is **streamed**: the offer carries no chunk hashes and no root;
   * the sender hashes each chunk as it reads it and sends the root after the last one,
   * which the receiver checks against the hashes of what it received (wire `st`).
   */
  streamed?: boolean | undefined
  /**
   * What the sender's file system says of this content (path, size, mtime, inode, device,
   * hashed: see {@link ManifestCache.sourceKey}); with it the resume key is taken from it
   * instead of the root, so a streamed attempt and a later hashed one resume each other (wire `sk`).
   */
  sourceKey?: Uint8Array | undefined
  /**
   * Set when the file is entry `index` of folder transfer `id` (absent, and absent on the
   * wire, for a single file: its offer stays byte-identical).
   */
  folder?: { id: string, index: number } | undefined
}


/** Options of a read: a buffer the bytes may be read into (see {@link FileSource.read}). */
export interface ReadOptions extends AbortOptions {
  /** A buffer of at least the length asked for, which the reader may fill and return a view of. */
  into?: Uint8Array | undefined
}

/** Somewhere file bytes are read from (a path on Node, a Blob in the browser). */
export interface FileSource {
  /** Name offered to the receiver. */
  readonly name: string
  /** Size in bytes. */
  readonly size: number
  /**
   * Reads exactly `length` bytes at `offset`. With `into` (at least `length` bytes), a source
   * may read into it and return a view of it instead of allocating: the caller reuses a few
   * such buffers, so a 100 GB file is read through the same megabytes.
   */
  read(offset: number, length: number, options?: ReadOptions): Promise<Uint8Array>
  /** Throws `SourceChangedError` if the source changed since it was opened. */
  check?(options?: AbortOptions): Promise<void>
  /** Releases the source. */
  close?(): Promise<void>
  /**
   * Chunk hashes kept from an earlier pass over this very content (an outboard, e.g. keyed
   * by path, size, mtime and inode): {@link createManifest} takes them instead of hashing
   * the file again, and stores what it computed. A source that serves them must check
   * each chunk it reads against them (a change that kept the size and mtime is then a
   * `SourceChangedError`, never other bytes).
   */
  readonly outboard?: ManifestCache | undefined
}

/** Where a source keeps the chunk hashes of its content between sends. */
export interface ManifestCache {
  /** The hashes and root for this chunk size, if they are kept and the content is unchanged. */
  get(chunkSize: number, options?: AbortOptions): Promise<{ chunkHashes: Uint8Array, root: Uint8Array } | undefined>
  /** Keeps a manifest just computed. */
  put(manifest: FileManifest, options?: AbortOptions): Promise<void>
  /**
   * 32 bytes naming this version of the source as the file system sees it (a hash of its
   * path, size, mtime, inode and device): the same while the file is unchanged, other once
   * it changes. A source with one may be sent with a streamed manifest.
   */
  readonly sourceKey?: Uint8Array | undefined
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
  /** Reads back `length` bytes at `offset` of what was written (every write settled); `into` as in {@link FileSource.read}. */
  read(offset: number, length: number, options?: ReadOptions): Promise<Uint8Array>
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
  /**
   * Root hash, hex; empty for a streamed transfer (its root comes last). A partial of a
   * streamed attempt resumes only under a hashed manifest, which it is verified against.
   */
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
   * Whether a partial file from `sender` under `name` of `size` bytes holds any bytes,
   * whatever its key: a streamed offer, which cannot name the key a hashed attempt of the
   * same file used, then asks for the hashed manifest, which resumes it.
   */
  hasPartialOf?(sender: string, name: string, size: number, options?: AbortOptions): Promise<boolean>
  /**
   * Whether `<inbox>/<sender>/<name>` holds a file of `size` bytes: a second offer of content
   * already delivered under that name is acknowledged instead of stored again.
   */
  received?(sender: string, name: string, size: number, options?: AbortOptions): Promise<boolean>
  /**
   * Opens (or resumes) the staging of folder transfer `key` (sender and folder root):
   * entries are verified into it one by one, and it moves into `<inbox>/<sender>/<name>`
   * in one step once all are there. Without it the store refuses folders.
   */
  openFolder?(key: string, folder: FolderManifest, name: string, sender: string, options?: AbortOptions): Promise<FolderStaging>
  /**
   * Opens (or resumes) the partial file of a transfer. `key` identifies sender and file;
   * `name` is already sanitised; `sender` is the sender's verified SS58. A resumed partial
   * is re-verified against `manifest` from its first chunk, and cut back to the last good one.
   */
  open(key: string, manifest: FileManifest, name: string, sender: string, options?: AbortOptions): Promise<PartialFile>
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
  /**
   * Root hash, hex (a folder's: its folder root); empty when the manifest is streamed (the
   * root is checked once the last chunk is in: {@link ReceivedFile.blake3}).
   */
  root: string
  /** Set for a folder: how many files it holds (`size` is then their total). */
  files?: number | undefined
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
  /** Set when the file is an entry of a folder (then it is in the folder's staging, not yet the inbox). */
  folder?: string | undefined
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
  /**
   * Hash the whole file before its first chunk leaves (default: not when the source has a
   * {@link ManifestCache.sourceKey} and no kept outboard: its manifest is then streamed, the
   * chunks leave at once and the root follows the last one).
   */
  hashFirst?: boolean | undefined
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
  /**
   * Called for every offer; throw to refuse (the message reaches the sender). A streamed offer
   * has no root yet (`root: ''`): throw `ManifestRequiredError` to have the sender hash the file
   * and offer it again with its root.
   */
  onOffer?: ((offer: FileOffer) => void | Promise<void>) | undefined
}


/** Default free space kept on the receiver's disk. */
export const DEFAULT_MIN_FREE_BYTES = 1024 * 1024 * 1024

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
  /** The folders being received: an offer naming a folder (`f`) is an entry of one of them, or refused. */
  folders?: { get: (sender: string, id: string) => FolderSession | undefined } | undefined
}


/** One file of a folder, as the folder manifest lists it. */
export interface FolderEntry {
  /** Relative path, `/`-separated (the receiver checks and sanitises it). */
  path: string
  /** Size in bytes. */
  size: number
  /** The file's BLAKE3 root (see {@link FileManifest.root}). */
  root: Uint8Array
}

/** What a sender announces about a folder: every file's path, size and root, and the root over them. */
export interface FolderManifest {
  /** Folder transfer id (random per send). */
  id: string
  /** The folder's name (the receiver sanitises it). */
  name: string
  /** The files, in the order they are sent. */
  entries: FolderEntry[]
  /** BLAKE3 over the entries: the folder's identity and resume key. */
  root: Uint8Array
}

/** A folder being received: its verified files wait here until all are in. */
export interface FolderStaging {
  /**
   * Opens the partial of entry `index` (resume key `key`). An entry an earlier attempt
   * already staged is re-read and checked against `manifest`: if it verifies, the partial is
   * returned complete (`verifiedChunks` is every chunk), else it is dropped and received again.
   * `complete()` of the partial moves the file into the staging, not the inbox.
   */
  open(index: number, key: string, manifest: FileManifest, options?: AbortOptions): Promise<PartialFile>
  /** Moves the whole staged folder into the inbox in one step, never over anything; returns where it landed. */
  complete(options?: AbortOptions): Promise<string>
  /** Releases the staging, keeping it for a later resume. */
  close(): Promise<void>
}

/** One file of a folder to send, opened only when it is hashed or sent (a folder may hold thousands). */
export interface FolderSourceEntry {
  /** Relative path, `/`-separated. */
  readonly path: string
  /** Size in bytes. */
  readonly size: number
  /** Opens the file for reading. */
  open(options?: AbortOptions): Promise<FileSource>
}

/** A tree of files to send as one transfer. */
export interface FolderSource {
  /** The folder's name offered to the receiver. */
  readonly name: string
  /** Its files (empty directories are not carried). */
  readonly entries: readonly FolderSourceEntry[]
}

/** Progress of a folder transfer: the file moving now, and the folder's totals. */
export interface FolderProgressEvent {
  /** `folder:hashing` while the sender hashes the files, `folder:bytes` while bytes move. */
  type: 'folder:hashing' | 'folder:bytes'
  detail: {
    /** Folder transfer id. */
    id: string
    /** The file this event is about. */
    file: { index: number, path: string, bytes: number, total: number }
    /** Files finished in this phase. */
    filesDone: number
    /** Files in the folder. */
    files: number
    /** Bytes hashed or transferred over the whole folder (including what was resumed). */
    bytes: number
    /** Total bytes of the folder. */
    total: number
    /** Bytes per second over the current phase. */
    rate: number
  }
}

/** Options of sending a folder. */
export interface SendFolderOptions extends AbortOptions {
  /** Progress events. */
  onProgress?: ((event: FolderProgressEvent) => void) | undefined
  /** Give up when the receiver sends nothing (no credit, no ack) for this long (default 30 s). */
  stallTimeoutMs?: number | undefined
  /**
   * Hash the whole file before its first chunk leaves (default: not when the source has a
   * {@link ManifestCache.sourceKey} and no kept outboard: its manifest is then streamed, the
   * chunks leave at once and the root follows the last one).
   */
  hashFirst?: boolean | undefined
}

/** What a completed folder send reports. */
export interface SendFolderResult {
  /** Folder transfer id. */
  id: string
  /** Name offered. */
  name: string
  /** Number of files. */
  files: number
  /** Total bytes. */
  size: number
  /** Folder root, hex, as acknowledged by the receiver. */
  blake3: string
  /** Bytes sent in this attempt. */
  bytesSent: number
  /** Bytes the receiver already had. */
  resumedFrom: number
  /** Duration in ms, hashing included. */
  ms: number
  /** Each file as sent (empty when the receiver had the whole folder already). */
  entries: Array<{ path: string, size: number, blake3: string, bytesSent: number, resumedFrom: number }>
}

/** A folder received completely and moved into the inbox. */
export interface ReceivedFolder {
  /** Folder transfer id. */
  id: string
  /** The verified sender's hotkey. */
  from: string
  /** The verified sender. */
  caller: Caller
  /** Sanitised name it was offered under. */
  name: string
  /** Where it landed. */
  path: string
  /** Number of files. */
  files: number
  /** Total bytes. */
  size: number
  /** Folder root, hex. */
  blake3: string
  /** Each file: its sanitised relative path, size and root (hex). */
  entries: Array<{ path: string, size: number, blake3: string }>
}
