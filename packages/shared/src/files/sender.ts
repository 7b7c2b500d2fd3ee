/**
 * The sending side of one file transfer.
 *
 * @packageDocumentation
 */
import { asRecord, bytesField, uintField } from '../wire/fields.ts'
import { encodeValue } from '../wire/codec.ts'
import { BLAKE3_BYTES } from '../constants.ts'
import { AbortError, ConnectionClosedError, errorFromWire, FileRefusedError, FileTooLargeError, InsufficientDiskSpaceError, InvalidFrameError, toError, TransferCancelledError } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import { X25519_BYTES } from '../encryption/envelope.ts'
import type { StreamCipher } from '../encryption/envelope.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import { SENDER_STALL_MS } from './types.ts'
import type { FileManifest, FileSealer, FileSource, SendFileOptions, SendFileResult } from './types.ts'
import { bytesToHex, equalBytes } from '../bytes.ts'
import { chunkCount, chunkLength, manifestToWire } from './manifest.ts'
import { cancelFrame, cancelledBy } from './frames.ts'


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
    return { id: manifest.id, name: manifest.name, size: manifest.size, blake3: bytesToHex(manifest.root), bytesSent: 0, resumedFrom: manifest.size }
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
  return { id: manifest.id, name: manifest.name, size: manifest.size, blake3: bytesToHex(manifest.root), bytesSent, resumedFrom }
}
