/**
 * The byte pipes under the WebTransport streams: writes to a QUIC send stream with
 * backpressure, and a read loop that feeds a libp2p message stream.
 *
 * @packageDocumentation
 */
import type { AbstractMessageStream, SendResult } from '@libp2p/utils'
import type { SessionStream } from './session.ts'

/** The byte list libp2p hands to `sendData` (the type of the @libp2p/utils in use). */
export type Uint8ArrayList = Parameters<AbstractMessageStream['sendData']>[0]

/** Bytes a stream may have in Deno's writer before libp2p is told to wait for `drain`. */
const MAX_BUFFERED_WRITE_BYTES = 4 * 1024 * 1024

/**
 * Writes to a QUIC send stream with byte-counted backpressure: `canSendMore` is false
 * while more than {@link MAX_BUFFERED_WRITE_BYTES} are queued, and `onDrain` runs once
 * they are written.
 */
export class StreamWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>
  readonly #onError: (err: Error) => void
  readonly #onDrain: () => void
  #queued = 0
  #needsDrain = false

  constructor (writable: WritableStream<Uint8Array>, onError: (err: Error) => void, onDrain: () => void) {
    this.#writer = writable.getWriter()
    this.#onError = onError
    this.#onDrain = onDrain
  }

  /** Queues every buffer of `data`; `canSendMore` says whether libp2p may go on writing. */
  write (data: Uint8ArrayList): SendResult {
    for (const buf of data) {
      const n = buf.byteLength
      this.#queued += n
      this.#writer.write(buf).then(() => {
        this.#queued -= n
        if (this.#needsDrain && this.#queued <= MAX_BUFFERED_WRITE_BYTES) {
          this.#needsDrain = false
          this.#onDrain()
        }
      }, (err: Error) => { this.#onError(err) })
    }
    const canSendMore = this.#queued <= MAX_BUFFERED_WRITE_BYTES
    if (!canSendMore) this.#needsDrain = true
    return { sentBytes: data.byteLength, canSendMore }
  }

  /** Closes the send stream (FIN) once the queued bytes are written. */
  async close (): Promise<void> { await this.#writer.close() }
  /** Resets the send stream. */
  abort (err: Error): void { void this.#writer.abort(err).catch(() => {}) }
}

/** Reads a session stream into a message stream, pausing when it is paused. */
export function pump (s: SessionStream, target: { onData: (d: Uint8Array) => void, onEnd: () => void, onError: (err: Error) => void, paused: () => boolean, resumed: () => Promise<void> }): void {
  void (async () => {
    try {
      if (s.leftover.byteLength > 0) target.onData(s.leftover)
      for (;;) {
        if (target.paused()) await target.resumed()
        const { done, value } = await s.reader.read()
        if (value !== undefined && value.byteLength > 0) target.onData(value)
        if (done) { target.onEnd(); return }
      }
    } catch (err) {
      target.onError(err as Error)
    }
  })()
}
