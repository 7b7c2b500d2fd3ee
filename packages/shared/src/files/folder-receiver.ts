/**
 * The receiving side of a folder transfer: the `folder` offer on its own file stream, asked
 * once of the policy (name, file count, total size), then each entry's `offer` on a file
 * stream of its own, verified into the store's staging; on the sender's `end` the staged
 * folder moves into the inbox in one step and `done` goes back.
 *
 * @packageDocumentation
 */
import { present, stringField } from '../wire/fields.ts'
import { decodeValue } from '../wire/codec.ts'
import { bytesToHex } from '../bytes.ts'
import {
  EncryptionRequiredError, EncryptionUnavailableError, errorToWire, FileRefusedError, FileTooLargeError, InsufficientDiskSpaceError,
  InvalidFrameError, InvalidManifestError, toError, TransferCancelledError, OperationAbortedError, isAbortError
} from '../errors/index.ts'
import { formatSize } from '../units.ts'
import { cancelFrame, cancelledBy, diskShortfall, forRemote, refuseOffer } from './frames.ts'
import { folderFromWire, folderKey, safeFolderPaths } from './folder.ts'
import { sanitizeFileName } from './names.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import type { DiskReservations } from './reservations.ts'
import type { FileOffer, FolderManifest, FolderProgressEvent, FolderStaging, ReceiveFileInit, ReceivedFolder } from './types.ts'

/** A folder accepted here whose entries are arriving. */
export interface FolderSession {
  /** The folder as offered. */
  readonly manifest: FolderManifest
  /** Sanitised relative path of each entry. */
  readonly paths: string[]
  /** Where its entries are verified into. */
  readonly staging: FolderStaging
  /** Disk space promised to the folder's remaining bytes. */
  readonly reservation: ReturnType<DiskReservations['reserve']> | undefined
  /** Entries verified into the staging in this attempt. */
  readonly done: Set<number>
  /** Reports entry `index` at `bytes`. */
  progress: (index: number, bytes: number) => void
}

/** The folders being received, by sender and folder id, so each entry's offer finds its folder. */
export class FolderRegistry {
  readonly #active = new Map<string, FolderSession>()

  /** The session of folder `id` from `sender`, if one is in progress. */
  get (sender: string, id: string): FolderSession | undefined {
    return this.#active.get(`${sender}\n${id}`)
  }

  /** Registers a session; returns its removal. */
  add (sender: string, session: FolderSession): () => void {
    const k = `${sender}\n${session.manifest.id}`
    if (this.#active.has(k)) throw new InvalidManifestError('this folder transfer id is already in progress')
    this.#active.set(k, session)
    return () => { if (this.#active.get(k) === session) this.#active.delete(k) }
  }
}

/** What a folder receiver is given beyond a file receiver's init. */
export interface ReceiveFolderInit extends ReceiveFileInit {
  /** The folders in progress (entries look their folder up here). */
  folders: FolderRegistry
  /** Called once the folder is accepted. */
  onFolderAccepted?: ((offer: FileOffer) => void) | undefined
  /** Folder progress events (per entry and total). */
  onFolderProgress?: ((event: FolderProgressEvent) => void) | undefined
}

/** Receives one folder on the file stream its `folder` offer arrived on. */
export class FolderReceiver {
  readonly #framed: FramedStream
  readonly #init: ReceiveFolderInit
  #remoteCancelled = false

  constructor (framed: FramedStream, init: ReceiveFolderInit) {
    this.#framed = framed
    this.#init = init
  }

  /** Receives the folder; resolves `undefined` for a retry of a folder already delivered. */
  async receive (offer: Record<string, unknown>): Promise<ReceivedFolder | undefined> {
    const init = this.#init
    // at once, before the checks and the policy (a person may take minutes): this receiver
    // understands folders; a sender that hears nothing knows it reached an older one
    this.#framed.send({ k: 'wait' })
    let manifest: FolderManifest
    let paths: string[]
    try {
      manifest = await this.#open(offer)
      paths = safeFolderPaths(manifest.entries)
    } catch (err) {
      return await this.#refuse(toError(err))
    }
    if (await init.delivered?.was(`d:${manifest.id}`) === true) {
      this.#framed.send({ k: 'done', r: manifest.root, dup: true })
      await this.#framed.close().catch(() => {})
      return undefined
    }
    const name = sanitizeFileName(manifest.name)
    const total = manifest.entries.reduce((n, e) => n + e.size, 0)
    const publicOffer: FileOffer = { id: manifest.id, from: init.caller, name, size: total, root: bytesToHex(manifest.root), files: manifest.entries.length }
    await this.#checkPolicy(manifest, publicOffer)
    const key = await folderKey(init.caller.ss58, manifest.root)
    const release = await init.claim?.(`d:${key}`)
    try {
      await this.#checkDisk(total)
      const reservation = init.reservations?.reserve(total)
      try {
        return await this.#run(key, manifest, name, paths, publicOffer, reservation)
      } finally {
        reservation?.release()
      }
    } finally {
      release?.()
    }
  }

  async #run (key: string, manifest: FolderManifest, name: string, paths: string[], publicOffer: FileOffer, reservation: FolderSession['reservation']): Promise<ReceivedFolder> {
    const init = this.#init
    if (init.store.openFolder === undefined) return await this.#refuse(new FileRefusedError('This peer does not receive folders'))
    let staging: FolderStaging
    try {
      staging = await init.store.openFolder(key, manifest, name, init.caller.ss58, { signal: init.signal })
    } catch (err) {
      return await this.#refuse(toError(err))
    }
    const session: FolderSession = { manifest, paths, staging, reservation, done: new Set(), progress: this.#progress(manifest, paths) }
    const unregister = init.folders.add(init.caller.ss58, session)
    try {
      this.#framed.send({ k: 'accept' })
      init.onFolderAccepted?.(publicOffer)
      let path: string
      try {
        // entries arrive on streams of their own; this one waits for the sender's `end`
        const frame = await this.#framed.readFrame({ signal: init.signal })
        const rec = frame as Record<string, unknown>
        if (rec?.k === 'cancel') {
          this.#remoteCancelled = true
          throw cancelledBy('sender', rec)
        }
        if (rec?.k !== 'end') throw new InvalidFrameError(`expected end or cancel on the folder stream, got ${String(rec?.k)}`)
        if (session.done.size !== manifest.entries.length) {
          throw new TransferCancelledError(`The sender ended the folder with ${manifest.entries.length - session.done.size} of its ${manifest.entries.length} files missing`)
        }
        path = await staging.complete({ signal: init.signal })
      } catch (err) {
        await this.#fail(toError(err))
        throw err
      }
      await init.delivered?.mark(`d:${manifest.id}`)
      this.#framed.send({ k: 'done', r: manifest.root })
      await this.#framed.close().catch(() => {})
      return {
        id: manifest.id,
        from: init.caller.ss58,
        caller: init.caller,
        name,
        path,
        files: manifest.entries.length,
        size: publicOffer.size,
        blake3: publicOffer.root,
        entries: manifest.entries.map((e, i) => ({ path: paths[i] as string, size: e.size, blake3: bytesToHex(e.root) }))
      }
    } finally {
      unregister()
      await staging.close().catch(() => {})
    }
  }

  /** Folder progress from entry progress: the entries done so far plus the one moving. */
  #progress (manifest: FolderManifest, paths: string[]): FolderSession['progress'] {
    const total = manifest.entries.reduce((n, e) => n + e.size, 0)
    const started = performance.now()
    let doneBytes = 0
    let filesDone = 0
    return (index, bytes) => {
      const entry = manifest.entries[index]
      if (entry === undefined) return
      const all = doneBytes + bytes
      if (bytes >= entry.size) { doneBytes += entry.size; filesDone++ }
      this.#init.onFolderProgress?.({
        type: 'folder:bytes',
        detail: {
          id: manifest.id,
          file: { index, path: paths[index] as string, bytes, total: entry.size },
          filesDone,
          files: manifest.entries.length,
          bytes: all,
          total,
          rate: all / Math.max(1e-3, (performance.now() - started) / 1000)
        }
      })
    }
  }

  /** The folder manifest, opened first when it is sealed (purpose 4 under the folder id). */
  async #open (offer: Record<string, unknown>): Promise<FolderManifest> {
    const init = this.#init
    if (!present(offer, 'x')) {
      if (init.requireEncryption === true) throw new EncryptionRequiredError('This peer accepts only end-to-end encrypted files')
      return await folderFromWire(offer.m)
    }
    if (init.e2e === undefined) throw new EncryptionUnavailableError('This peer has end-to-end encryption turned off')
    const id = stringField(offer, 'id', 'folder', 64)
    const opened = await init.e2e.openOffer(offer.x, id)
    const manifest = await folderFromWire(decodeValue(opened.manifest))
    if (manifest.id !== id) throw new InvalidManifestError('the sealed folder manifest names another transfer id than the offer')
    return manifest
  }

  async #checkPolicy (manifest: FolderManifest, publicOffer: FileOffer): Promise<void> {
    const policy = this.#init.policy
    const largest = Math.max(...manifest.entries.map((e) => e.size))
    if (policy.maxFileSize !== undefined && largest > policy.maxFileSize) {
      await this.#refuse(new FileTooLargeError(`a file of ${formatSize(largest)} in the folder is above this peer's limit of ${formatSize(policy.maxFileSize)}`))
    }
    try {
      await policy.onOffer?.(publicOffer)
    } catch (err) {
      await this.#refuse(new FileRefusedError(toError(err).message))
    }
  }

  async #checkDisk (need: number): Promise<void> {
    const short = await diskShortfall(this.#init, need)
    if (short !== undefined) await this.#refuse(short)
  }

  async #refuse (err: Error): Promise<never> {
    return await refuseOffer(this.#framed, err, this.#init.log)
  }

  async #fail (err: Error): Promise<void> {
    if (this.#remoteCancelled) return
    const reason = isAbortError(err) ? new TransferCancelledError('The receiver cancelled the transfer') : forRemote(err, this.#init.log)
    try { this.#framed.send(cancelFrame(reason)); await this.#framed.close() } catch {}
  }
}
