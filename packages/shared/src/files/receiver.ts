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
 * - S→R `{ k: 'root', r }` after the last chunk of a **streamed** offer (its manifest `st: true`
 *   carries no hashes and no root): the receiver hashed every chunk as it came and checks
 *   the root of those hashes against `r` before the file is final. A streamed offer is
 *   accepted from chunk 0 only; a receiver holding part of the file answers
 *   `{ k: 'refuse', e: ManifestRequiredError }`, and the sender offers the hashed manifest.
 * - R→S `{ k: 'done', r: root }` after the file is in the inbox; also in answer to an offer
 *   whose transfer id this receiver already delivered (`dup: true`: a retry after a lost ack)
 * - either way `{ k: 'cancel', e }`
 *
 * @packageDocumentation
 */
import { asRecord, present, stringField } from '../wire/fields.ts'
import { decodeValue } from '../wire/codec.ts'
import { EncryptionRequiredError, EncryptionUnavailableError, errorToWire, FileRefusedError, FileTooLargeError, InvalidFrameError, InvalidManifestError, ManifestRequiredError, toError } from '../errors/index.ts'
import { formatSize } from '../units.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import type { AbortOptions } from '../abort.ts'
import type { Caller } from '../rpc/types.ts'
import type { FileManifest, FileOffer, FileOpener, PartialFile, ReceiveFileInit, ReceivedFile } from './types.ts'

export type { ReceiveFileInit } from './types.ts'
import { DiskReservations } from './reservations.ts'
import { bytesToHex, equalBytes } from '../bytes.ts'
import { contentKey, manifestFromWire, transferKey } from './manifest.ts'
import { sanitizeFileName } from './names.ts'
import { diskShortfall, refuseOffer } from './frames.ts'
import { ChunkReceiver } from './chunk-receiver.ts'



type OpenedOffer = Awaited<ReturnType<FileOpener['openOffer']>>

/**
 * The receiving side of one transfer on an inbound file stream: checks the offer against
 * the policy and the disk before anything is created, acknowledges a retry of something
 * already delivered, and hands an accepted offer to a {@link ChunkReceiver}.
 */
export class FileReceiver {
  readonly #framed: FramedStream
  readonly #init: ReceiveFileInit
  readonly #idleMs: number

  constructor (framed: FramedStream, init: ReceiveFileInit) {
    this.#framed = framed
    this.#init = init
    this.#idleMs = init.idleTimeoutMs ?? 60_000
  }

  /**
   * Receives the file; resolves `undefined` for a retry of something already delivered.
   * `first` is the offer frame when the caller read it already.
   */
  async receive (first?: Record<string, unknown>): Promise<ReceivedFile | undefined> {
    const init = this.#init
    const offer = first ?? await this.#read()
    if (offer.k !== 'offer') throw new InvalidFrameError(`expected an offer, got ${String(offer.k)}`)
    let manifest: FileManifest
    let opened: OpenedOffer | undefined
    try {
      ({ manifest, opened } = await this.#open(offer))
    } catch (err) {
      return await this.#refuse(toError(err))
    }
    if (manifest.folder !== undefined) return await this.#receiveEntry(manifest, manifest.folder, opened)
    const streamed = manifest.streamed === true
    if (await init.delivered?.was(`f:${manifest.id}`) === true) {
      // a retry after a lost ack: a streamed offer names no root to acknowledge, so ask for it
      return streamed ? await this.#askManifest('the transfer was delivered') : await this.#ackDuplicate(manifest)
    }
    const name = sanitizeFileName(manifest.name)
    const publicOffer: FileOffer = { id: manifest.id, from: init.caller, name, size: manifest.size, root: bytesToHex(manifest.root) }
    let key = await transferKey(init.caller.ss58, manifest)
    const partialBytes = async (k: string): Promise<number> => await init.store.partialBytes?.(k, { signal: init.signal }) ?? 0
    const received = async (): Promise<boolean> => await init.store.received?.(init.caller.ss58, name, manifest.size, { signal: init.signal }) === true
    if (streamed) {
      // before the policy is asked: what only the hashed manifest can settle. A file of this name
      // and size in the inbox may be this very content (a re-run send: acknowledged, not stored
      // twice); part of it here from an earlier attempt is resumed only against the chunk hashes
      if (await received()) return await this.#askManifest('a file of this name and size is in the inbox')
      if (await partialBytes(key) > 0 || await init.store.hasPartialOf?.(init.caller.ss58, name, manifest.size, { signal: init.signal }) === true) {
        return await this.#askManifest('part of the file is here')
      }
    }
    if (await this.#checkPolicy(manifest, publicOffer) === 'ask') return await this.#askManifest('the receiver\'s policy asks for the root')
    // a hashed offer naming its source resumes a partial an attempt without the source key left (under the root's key)
    if (!streamed && manifest.sourceKey !== undefined && await partialBytes(key) === 0) {
      const byRoot = await contentKey(init.caller.ss58, manifest.root)
      if (await partialBytes(byRoot) > 0) key = byRoot
    }
    // the same content under the same name, delivered before and still there: a re-send, not a new file
    const contentId = async (root: Uint8Array): Promise<string> => `c:${await contentKey(init.caller.ss58, root)}:${name}`
    if (!streamed && await init.delivered?.was(await contentId(manifest.root)) === true && await received()) {
      await init.delivered?.mark(`f:${manifest.id}`)
      return await this.#ackDuplicate(manifest)
    }
    const release = await init.claim?.(key)
    try {
      const need = await this.#checkDisk(key, manifest)
      const reservation = init.reservations?.reserve(need)
      try {
        const receiver = new ChunkReceiver(this.#framed, init, manifest, async () => await this.#read())
        return await receiver.run(key, name, publicOffer, contentId, reservation, async (err) => await this.#refuse(err), opened?.accept)
      } finally {
        reservation?.release()
      }
    } finally {
      release?.()
    }
  }

  /**
   * An entry of a folder in progress: no consent or disk check of its own (the folder had
   * them), verified into the folder's staging instead of the inbox.
   */
  async #receiveEntry (manifest: FileManifest, ref: { id: string, index: number }, opened: OpenedOffer | undefined): Promise<ReceivedFile> {
    const init = this.#init
    const session = init.folders?.get(init.caller.ss58, ref.id)
    if (session === undefined) return await this.#refuse(new InvalidManifestError('the offer names a folder transfer that is not in progress here'))
    const entry = session.manifest.entries[ref.index]
    if (entry === undefined || entry.size !== manifest.size || !equalBytes(entry.root, manifest.root)) {
      return await this.#refuse(new InvalidManifestError(`the offer does not match entry ${ref.index} of its folder`))
    }
    const name = session.paths[ref.index] as string
    const publicOffer: FileOffer = { id: manifest.id, from: init.caller, name, size: manifest.size, root: bytesToHex(manifest.root) }
    const key = await transferKey(init.caller.ss58, manifest)
    const release = await init.claim?.(key)
    try {
      const { onAccepted: _accepted, ...rest } = init
      const entryInit: ReceiveFileInit = {
        ...rest,
        store: { open: async (k, m, _name, _sender, options) => staged(await session.staging.open(ref.index, k, m, options), () => { session.done.add(ref.index) }) },
        delivered: undefined,
        onProgress: (event) => { session.progress(ref.index, event.detail.bytes) }
      }
      const receiver = new ChunkReceiver(this.#framed, entryInit, manifest, async () => await this.#read())
      const received = await receiver.run(key, name, publicOffer, undefined, session.reservation, async (err) => await this.#refuse(err), opened?.accept)
      if (received.resumedFrom >= manifest.size) session.progress(ref.index, manifest.size)
      return { ...received, folder: ref.id }
    } finally {
      release?.()
    }
  }

  async #read (): Promise<Record<string, unknown>> {
    const signals = [AbortSignal.timeout(this.#idleMs), ...(this.#init.signal === undefined ? [] : [this.#init.signal])]
    return asRecord(await this.#framed.readFrame({ signal: AbortSignal.any(signals) }), 'sender frame')
  }

  /** Refuses the offer (the sender is told what it may know) and throws `err`. */
  async #refuse (err: Error): Promise<never> {
    return await refuseOffer(this.#framed, err, this.#init.log)
  }

  /**
   * Answers a streamed offer with `ManifestRequiredError` (not a failure here: the sender
   * hashes the file and offers it again, and that offer resumes or is acknowledged).
   */
  async #askManifest (why: string): Promise<undefined> {
    try {
      this.#framed.send({ k: 'refuse', e: errorToWire(new ManifestRequiredError(`The receiver needs the chunk hashes (${why}); offer the hashed manifest`)) })
      await this.#framed.close()
    } catch {}
    return undefined
  }

  async #ackDuplicate (manifest: FileManifest): Promise<undefined> {
    this.#framed.send({ k: 'done', r: manifest.root, dup: true })
    await this.#framed.close().catch(() => {})
    return undefined
  }

  /** The offer's manifest, opened first when it is sealed. */
  async #open (offer: Record<string, unknown>): Promise<{ manifest: FileManifest, opened: OpenedOffer | undefined }> {
    const init = this.#init
    if (!present(offer, 'x')) {
      if (init.requireEncryption === true) throw new EncryptionRequiredError('This peer accepts only end-to-end encrypted files')
      return { manifest: await manifestFromWire(offer.m), opened: undefined }
    }
    if (init.e2e === undefined) throw new EncryptionUnavailableError('This peer has end-to-end encryption turned off')
    const id = stringField(offer, 'id', 'offer', 64)
    const opened = await init.e2e.openOffer(offer.x, id)
    const manifest = await manifestFromWire(decodeValue(opened.manifest))
    if (manifest.id !== id) throw new InvalidManifestError('the sealed manifest names another transfer id than the offer')
    return { manifest, opened }
  }

  /**
   * The size limit and the policy hook; a refusal reaches the sender. `'ask'` when the hook
   * threw `ManifestRequiredError` for a streamed offer (it wants the root first).
   */
  async #checkPolicy (manifest: FileManifest, publicOffer: FileOffer): Promise<'ask' | undefined> {
    const policy = this.#init.policy
    if (policy.maxFileSize !== undefined && manifest.size > policy.maxFileSize) {
      await this.#refuse(new FileTooLargeError(`${formatSize(manifest.size)} is above this peer's limit of ${formatSize(policy.maxFileSize)}`))
    }
    try {
      await policy.onOffer?.(publicOffer)
    } catch (err) {
      if (manifest.streamed === true && toError(err).name === ManifestRequiredError.name) return 'ask'
      await this.#refuse(new FileRefusedError(toError(err).message))
    }
    return undefined
  }

  /**
   * The disk check, before the partial is made (a refused offer leaves nothing behind):
   * returns the bytes still to be written.
   */
  async #checkDisk (key: string, manifest: FileManifest): Promise<number> {
    const { store, signal } = this.#init
    const need = manifest.size - Math.min(manifest.size, await store.partialBytes?.(key, { signal }) ?? 0)
    const short = await diskShortfall(this.#init, need)
    if (short !== undefined) await this.#refuse(short)
    return need
  }
}

/**
 * A folder entry's partial that records the entry as staged the moment it is (before the
 * entry's `done` goes out, so the folder's `end`, which the sender sends on that `done`,
 * always finds it counted).
 */
function staged (partial: PartialFile, onStaged: () => void): PartialFile {
  return {
    get verifiedChunks () { return partial.verifiedChunks },
    write: async (offset, bytes, options) => { await partial.write(offset, bytes, options) },
    commit: async (n, options) => { await partial.commit(n, options) },
    read: async (offset, length, options) => await partial.read(offset, length, options),
    rewind: async (n, options) => { await partial.rewind(n, options) },
    complete: async (options) => { const path = await partial.complete(options); onStaged(); return path },
    close: async () => { await partial.close() }
  }
}

/**
 * Receives one file on an inbound file stream: checks the offer against the policy and
 * the disk before anything is created, resumes from the chunks on disk that still verify,
 * verifies each chunk before writing it, grants credit, checks the whole file on disk
 * against the manifest, moves it into the inbox and acknowledges it. Resolves `undefined`
 * for a retry of something already delivered (acknowledged again, not received again).
 */
export async function receiveFileOverStream (framed: FramedStream, init: ReceiveFileInit): Promise<ReceivedFile | undefined> {
  return await new FileReceiver(framed, init).receive()
}
