/**
 * The sending side of a folder transfer: hashes every file, offers the folder manifest on a
 * file stream of its own, sends each file as a file transfer naming its folder entry, then
 * `end`, and resolves on the receiver's `done` once the folder is in its inbox.
 *
 * @packageDocumentation
 */
import { asRecord, bytesField } from '../wire/fields.ts'
import { encodeValue } from '../wire/codec.ts'
import { BLAKE3_BYTES, MAX_FOLDER_ENTRIES } from '../constants.ts'
import { OperationAbortedError, ConnectionLostError, errorClasses, errorFromWire, FileRefusedError, FilesNotEnabledError, FolderLimitError, InvalidFrameError, InvalidManifestError, toError, TransferCancelledError, isAbortError, isConnectionLost } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import { FrameKind, wireErrorOf } from '../rpc/frames.ts'
import { bytesToHex, equalBytes } from '../bytes.ts'
import { cancelFrame, cancelledBy } from './frames.ts'
import { createManifest } from './manifest.ts'
import { folderRoot, folderToWire, safeFolderPaths } from './folder.ts'
import { SENDER_STALL_MS } from './types.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import type { FileManifest, FileSealer, FileSource, FolderManifest, FolderProgressEvent, FolderSource, SendFileOptions, SendFileResult, SendFolderOptions, SendFolderResult } from './types.ts'

/** What a folder sender is given: how to reach the receiver for the folder stream and for each file. */
export interface FolderSenderComponents {
  /** Opens a fresh file stream to the receiver. */
  openStream: (options: { signal?: AbortSignal | undefined }) => Promise<FramedStream>
  /** The sealer of transfer `id` when the transfer is encrypted. */
  sealer: (id: string) => Promise<FileSealer | undefined>
  /** How long the receiver has to answer the folder offer with `wait` (an older receiver never does). */
  answerTimeoutMs: number
  /** Sends one file (its manifest names the folder entry), as {@link FileService} sends a file. */
  sendFile: (source: FileSource, manifest: FileManifest, options: SendFileOptions) => Promise<Omit<SendFileResult, 'ms'>>
}

/** Sends one folder. */
export class FolderSender {
  readonly #c: FolderSenderComponents
  readonly #folder: FolderSource
  readonly #options: SendFolderOptions & { id?: string | undefined, chunkSize?: number | undefined }

  constructor (components: FolderSenderComponents, folder: FolderSource, options: SendFolderOptions & { id?: string | undefined, chunkSize?: number | undefined } = {}) {
    this.#c = components
    this.#folder = folder
    this.#options = options
  }

  /** Runs the transfer; resolves on the receiver's `done`. */
  async send (): Promise<Omit<SendFolderResult, 'ms'>> {
    const { signal } = this.#options
    throwIfAborted(signal)
    const entries = this.#folder.entries
    if (entries.length === 0) throw new InvalidManifestError('The folder holds no files')
    if (entries.length > MAX_FOLDER_ENTRIES) throw new FolderLimitError(`The folder has ${entries.length} files, more than the ${MAX_FOLDER_ENTRIES} one transfer may hold`)
    // the receiver checks the paths the same way: fail here, before a hashing pass
    safeFolderPaths(entries.map((e) => ({ path: e.path, size: e.size, root: new Uint8Array(BLAKE3_BYTES) })))
    const id = this.#options.id ?? crypto.randomUUID()
    const manifests = await this.#hash(id)
    const folder: FolderManifest = { id, name: this.#folder.name, entries: manifests.map((m, i) => ({ path: entries[i]?.path as string, size: m.size, root: m.root })), root: new Uint8Array() }
    folder.root = await folderRoot(folder.entries)
    const total = folder.entries.reduce((n, e) => n + e.size, 0)
    const base = { id, name: folder.name, files: entries.length, size: total, blake3: bytesToHex(folder.root) }
    const framed = await this.#c.openStream({ signal })
    try {
      const reply = await this.#offer(framed, folder)
      if (reply === 'done') return { ...base, bytesSent: 0, resumedFrom: total, entries: [] }
      const sent = await this.#sendEntries(framed, folder, manifests)
      return { ...base, bytesSent: sent.reduce((n, e) => n + e.bytesSent, 0), resumedFrom: sent.reduce((n, e) => n + e.resumedFrom, 0), entries: sent }
    } catch (err) {
      const e = toError(err)
      if (isAbortError(e) || e.name === 'SourceChangedError') {
        try { framed.send(cancelFrame(isAbortError(e) ? new TransferCancelledError('The sender cancelled the transfer') : e)); await framed.close() } catch {}
      } else {
        framed.abort(e)
      }
      throw e
    }
  }

  /** Hashes every file in turn (one open at a time), with folder progress. */
  async #hash (id: string): Promise<FileManifest[]> {
    const { signal, onProgress } = this.#options
    const entries = this.#folder.entries
    const total = entries.reduce((n, e) => n + e.size, 0)
    const started = performance.now()
    const out: FileManifest[] = []
    let before = 0
    for (const [index, entry] of entries.entries()) {
      throwIfAborted(signal)
      const source = await entry.open({ signal })
      try {
        const manifest = await createManifest(source, {
          signal,
          chunkSize: this.#options.chunkSize,
          onProgress: (event) => {
            const bytes = before + event.detail.bytes
            onProgress?.(this.#event('folder:hashing', id, index, event.detail.bytes, out.length, bytes, total, bytes / Math.max(1e-3, (performance.now() - started) / 1000)))
          }
        })
        if (manifest.size !== entry.size) throw new InvalidManifestError(`${entry.path} changed size while the folder was listed`)
        out.push(manifest)
        before += manifest.size
      } finally {
        await source.close?.()
      }
    }
    return out
  }

  #event (type: FolderProgressEvent['type'], id: string, index: number, fileBytes: number, filesDone: number, bytes: number, total: number, rate: number): FolderProgressEvent {
    const entry = this.#folder.entries[index]
    return { type, detail: { id, file: { index, path: entry?.path ?? '', bytes: fileBytes, total: entry?.size ?? 0 }, filesDone, files: this.#folder.entries.length, bytes, total, rate } }
  }

  /** Offers the folder; resolves `accept`, or `done` for a folder this receiver already has. */
  async #offer (framed: FramedStream, folder: FolderManifest): Promise<'accept' | 'done'> {
    const sealer = await this.#c.sealer(folder.id)
    if (sealer === undefined) {
      framed.send({ k: 'folder', m: folderToWire(folder) })
    } else {
      const sealed = await sealer.sealOffer(encodeValue(folderToWire(folder)))
      framed.send({ k: 'folder', id: folder.id, x: sealed.x })
    }
    let reply = asRecord(await this.#read(framed, this.#c.answerTimeoutMs), 'folder reply')
    // `wait`: the receiver understands folders and is checking the offer (or asking its user)
    if (reply.k === 'wait') reply = asRecord(await this.#read(framed, undefined), 'folder reply')
    if (reply.k === 'refuse') {
      const reason = errorFromWire(asRecord(reply.e, 'refusal') as { name: string, message: string })
      throw Object.hasOwn(errorClasses, reason.name) ? reason : new FileRefusedError(`${reason.name}: ${reason.message}`, { cause: reason })
    }
    if (reply.k === FrameKind.Refused) throw errorFromWire(wireErrorOf(reply))
    if (reply.k === 'done') {
      if (!equalBytes(bytesField(reply, 'r', 'done', BLAKE3_BYTES), folder.root)) throw new InvalidFrameError('The receiver acknowledged another folder root than the one offered')
      await framed.close().catch(() => {})
      return 'done'
    }
    if (reply.k !== 'accept') throw new InvalidFrameError(`expected accept, refuse, done or a refusal (7), got ${String(reply.k)}`)
    return 'accept'
  }

  /** The next frame; a receiver that says nothing for `ms` (an older one) is `FilesNotEnabledError`. */
  async #read (framed: FramedStream, ms: number | undefined): Promise<unknown> {
    const signal = this.#options.signal
    const timeout = ms === undefined ? undefined : AbortSignal.timeout(ms)
    const signals = [...(timeout === undefined ? [] : [timeout]), ...(signal === undefined ? [] : [signal])]
    try {
      return await framed.readFrame({ signal: signals.length === 0 ? undefined : AbortSignal.any(signals) })
    } catch (err) {
      const e = toError(err)
      if (signal?.aborted === true) throw new OperationAbortedError()
      if (timeout?.aborted === true || e.name === 'TruncatedFrameError' || isConnectionLost(e)) {
        throw new FilesNotEnabledError(`The receiver did not answer the folder offer (${e.message}): it may run a subwire without folders; send the files one by one`, { cause: e })
      }
      throw e
    }
  }

  /**
   * Sends each file on a stream of its own while listening on the folder stream (a cancel
   * from the receiver stops the file in flight), then `end`, and waits for `done`.
   */
  async #sendEntries (framed: FramedStream, folder: FolderManifest, manifests: FileManifest[]): Promise<SendFolderResult['entries']> {
    const { signal, onProgress } = this.#options
    const stop = new AbortController()
    const onAbort = (): void => { stop.abort(new OperationAbortedError()) }
    signal?.addEventListener('abort', onAbort)
    const total = folder.entries.reduce((n, e) => n + e.size, 0)
    const started = performance.now()
    // the receiver speaks on the folder stream only to cancel, or with `done` after our `end`
    let remote: Error | undefined
    const next = framed.readFrame().then((frame) => {
      const rec = asRecord(frame, 'folder frame')
      if (rec.k === 'cancel') { remote = cancelledBy('receiver', rec); stop.abort(remote) }
      return rec
    }, (err: unknown) => { remote = new ConnectionLostError(`Lost the folder stream (${toError(err).message}); send again to resume`, { cause: err }); stop.abort(remote); throw remote })
    next.catch(() => {})
    const sent: SendFolderResult['entries'] = []
    let before = 0
    let moved = 0
    try {
      for (const [index, entry] of this.#folder.entries.entries()) {
        const manifest = { ...(manifests[index] as FileManifest), name: entry.path, folder: { id: folder.id, index } }
        const source = await entry.open({ signal: stop.signal })
        try {
          const r = await this.#c.sendFile(source, manifest, {
            signal: stop.signal,
            stallTimeoutMs: this.#options.stallTimeoutMs,
            onProgress: (event) => {
              const bytes = before + event.detail.bytes
              onProgress?.(this.#event('folder:bytes', folder.id, index, event.detail.bytes, sent.length, bytes, total, (moved + event.detail.bytes) / Math.max(1e-3, (performance.now() - started) / 1000)))
            }
          })
          sent.push({ path: entry.path, size: r.size, blake3: r.blake3, bytesSent: r.bytesSent, resumedFrom: r.resumedFrom })
          before += r.size
          moved += r.bytesSent
          if (r.bytesSent === 0) onProgress?.(this.#event('folder:bytes', folder.id, index, r.size, sent.length, before, total, moved / Math.max(1e-3, (performance.now() - started) / 1000)))
        } catch (err) {
          throw remote ?? (signal?.aborted === true ? new OperationAbortedError() : err)
        } finally {
          await source.close?.()
        }
      }
      framed.send({ k: 'end' })
      const stall = this.#options.stallTimeoutMs ?? SENDER_STALL_MS
      const timer = setTimeout(() => { stop.abort(new ConnectionLostError(`The receiver did not confirm the folder within ${Math.round(stall / 1000)} s; send again to resume`)) }, stall)
      let done: Record<string, unknown>
      try {
        done = await Promise.race([next, new Promise<never>((_resolve, reject) => { stop.signal.addEventListener('abort', () => { reject(stop.signal.reason) }, { once: true }) })])
      } finally {
        clearTimeout(timer)
      }
      if (done.k === 'cancel') throw remote as Error
      if (done.k !== 'done' || !equalBytes(bytesField(done, 'r', 'done', BLAKE3_BYTES), folder.root)) throw new InvalidFrameError('The receiver acknowledged another folder root than the one offered')
      await framed.close().catch(() => {})
      return sent
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }
}
