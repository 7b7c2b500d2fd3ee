/**
 * The libp2p stream on one WebTransport bidirectional stream, as the muxer hands it out.
 *
 * @packageDocumentation
 */
import { AbstractStream } from '@libp2p/utils'
import { pump, StreamWriter } from './stream-writer.ts'
import type { Uint8ArrayList } from './stream-writer.ts'
import type { AbortOptions, Logger, MessageStreamDirection, StreamOptions } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { SessionStream } from './session.ts'

/** Longest a remote FIN is held back waiting for the protocol handler to read (see WebTransportStream). */
const MAX_FIN_HOLD_MS = 5_000

/** A libp2p stream on one WebTransport bidirectional stream (no muxer framing). */
export class WebTransportStream extends AbstractStream {
  readonly #s: SessionStream
  readonly #writer: StreamWriter
  #resume: (() => void) | undefined
  #started = false

  #finPending = false

  constructor (s: SessionStream, direction: MessageStreamDirection, id: string, log: Logger, options: StreamOptions = {}) {
    super({ ...options, id, direction, log: log.newScope(`${direction}:${id}`), protocol: '' })
    this.#s = s
    this.#writer = new StreamWriter(s.writable, (err) => { this.abort(err) }, () => { this.safeDispatchEvent('drain') })
  }

  /**
   * The remote sent FIN. libp2p 3 loses a FIN that arrives before the protocol handler
   * reads: multistream-select's unread bytes are refused once the readable end closed,
   * and a stream's async iterator waits for a `remoteCloseWrite` event that was already
   * dispatched (seen here as pings that time out when a browser sends and closes at
   * once). So it is held until the protocol is negotiated, a reader is listening and
   * every buffered byte went to it; or until the stream is no longer open.
   */
  #remoteEnded (): void {
    this.#finPending = true
    this.#finSince = Date.now()
    this.#deliverFin()
  }

  #finSince = 0

  #deliverFin (): void {
    if (!this.#finPending) return
    const reading = this.protocol !== '' && this.readBuffer.byteLength === 0 && this.listenerCount('message') > 0
    // a handler that neither reads nor closes gets the FIN anyway after a while
    if (reading || this.status !== 'open' || this.writeStatus === 'closed' || Date.now() - this.#finSince > MAX_FIN_HOLD_MS) {
      this.#finPending = false
      this.onRemoteCloseWrite()
      return
    }
    setTimeout(() => { this.#deliverFin() }, 1)
  }

  /**
   * Starts reading. The muxer calls it once the stream has been handed out, so that data
   * (and a FIN) that came with the stream header reach the protocol handler's listener,
   * as with yamux; read earlier, they would be buffered, the readable end closed, and
   * multistream-select's unread bytes refused.
   */
  start (): void {
    if (this.#started) return
    this.#started = true
    const s = this.#s
    pump(s, {
      onData: (d) => { this.onData(d) },
      onEnd: () => { this.#remoteEnded() },
      onError: () => { this.onRemoteReset() },
      paused: () => this.readStatus === 'paused',
      resumed: async () => { await new Promise<void>((resolve) => { this.#resume = resolve }) }
    })
  }

  sendData (data: Uint8ArrayList): SendResult { return this.#writer.write(data) }
  sendReset (err: Error): void {
    this.#writer.abort(err)
    void this.#s.reader.cancel().catch(() => {})
  }

  async sendCloseWrite (options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await this.#writer.close().catch(() => {})
    // a handler that closes without reading still sees the stream end
    queueMicrotask(() => { this.#deliverFin() })
  }

  async sendCloseRead (options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await this.#s.reader.cancel().catch(() => {})
  }

  sendPause (): void {}
  sendResume (): void {
    const resume = this.#resume
    this.#resume = undefined
    resume?.()
  }
}
