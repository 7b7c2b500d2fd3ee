/**
 * The message stream the Noise handshake runs on, before the connection is upgraded.
 *
 * @packageDocumentation
 */
import { AbstractMessageStream } from '@libp2p/utils'
import { pump, StreamWriter } from './stream-writer.ts'
import type { Uint8ArrayList } from './stream-writer.ts'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { SessionStream } from './session.ts'

/** The stream the Noise handshake runs on: a plain message stream over the first session stream. */
export class HandshakeMessageStream extends AbstractMessageStream {
  readonly #s: SessionStream
  readonly #writer: StreamWriter

  constructor (s: SessionStream, log: Logger) {
    super({ log, direction: 'inbound' })
    this.#s = s
    this.#writer = new StreamWriter(s.writable, (err) => { this.abort(err) }, () => { this.safeDispatchEvent('drain') })
    pump(s, {
      onData: (d) => { this.onData(d) },
      onEnd: () => { this.onRemoteCloseWrite() },
      onError: (err) => { this.abort(err) },
      paused: () => false,
      resumed: async () => {}
    })
  }

  /** Ends our side of the handshake stream (FIN), as the dialer does with its side. */
  async close (options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    await this.#writer.close().catch(() => {})
  }

  sendData (data: Uint8ArrayList): SendResult { return this.#writer.write(data) }
  sendReset (err: Error): void {
    this.#writer.abort(err)
    void this.#s.reader.cancel().catch(() => {})
  }

  sendPause (): void {}
  sendResume (): void {}
}
