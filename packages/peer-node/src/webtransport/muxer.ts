/**
 * The stream muxer of a WebTransport connection: WebTransport multiplexes natively, so
 * every session stream is one libp2p stream, with no muxer framing.
 *
 * @packageDocumentation
 */
import { AbstractStreamMuxer } from '@libp2p/utils'
import { WebTransportStream } from './stream.ts'
import type { CreateStreamOptions, MultiaddrConnection, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import type { WebTransportSession } from './session.ts'

/** The muxer: every session stream is one libp2p stream. */
class WebTransportMuxer extends AbstractStreamMuxer<WebTransportStream> {
  readonly #session: WebTransportSession
  #next = 0

  constructor (session: WebTransportSession, maConn: MultiaddrConnection) {
    super(maConn, { protocol: '/webtransport', name: 'muxer' })
    this.#session = session
    session.onStream((s) => {
      if (this.status !== 'open') {
        void s.reader.cancel().catch(() => {})
        return
      }
      const stream = new WebTransportStream(s, 'inbound', String(this.#next++), this.log, this.streamOptions)
      this.onRemoteStream(stream)
      stream.start()
    })
  }

  async onCreateStream (options: CreateStreamOptions): Promise<WebTransportStream> {
    const s = await this.#session.openStream()
    options.signal?.throwIfAborted()
    const stream = new WebTransportStream(s, 'outbound', String(this.#next++), this.log, options)
    // the caller attaches its listeners once this resolves; until then replies are buffered
    queueMicrotask(() => { stream.start() })
    return stream
  }

  onData (): void {}
  sendReset (): void { this.#session.close('reset') }
}

/** The muxer factory for a session, as `upgradeInbound` takes it. */
export function webTransportMuxer (session: WebTransportSession): StreamMuxerFactory {
  return {
    protocol: '/webtransport',
    createStreamMuxer: (maConn: MultiaddrConnection): StreamMuxer => new WebTransportMuxer(session, maConn)
  }
}
