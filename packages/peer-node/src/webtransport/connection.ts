/**
 * The libp2p `MultiaddrConnection` over a WebTransport session (`session-to-conn.ts` in
 * `@libp2p/webtransport`).
 *
 * @packageDocumentation
 */
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import type { AbortOptions } from '@libp2p/interface'
import type { AbstractMultiaddrConnectionInit, SendResult } from '@libp2p/utils'
import type { Uint8ArrayList } from './stream-writer.ts'
import type { WebTransportSession } from './session.ts'

/** The libp2p connection's view of the session: closing it closes the QUIC connection. */
export class SessionMultiaddrConnection extends AbstractMultiaddrConnection {
  readonly #session: WebTransportSession

  constructor (session: WebTransportSession, init: Omit<AbstractMultiaddrConnectionInit, 'name' | 'stream'>) {
    super(init)
    this.#session = session
    void session.closed.then(() => { this.onTransportClosed() })
  }

  sendData (data: Uint8ArrayList): SendResult { return { sentBytes: data.byteLength, canSendMore: true } }
  sendReset (): void { this.#session.close('reset') }
  async sendClose (options?: AbortOptions): Promise<void> {
    this.#session.close()
    options?.signal?.throwIfAborted()
  }

  sendPause (): void {}
  sendResume (): void {}
}
