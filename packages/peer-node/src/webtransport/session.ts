/**
 * A WebTransport session kept on raw QUIC streams. The libp2p stream, muxer and
 * connection built on it are in `stream.ts`, `muxer.ts` and `connection.ts`, the stream
 * header's codec in `stream-header.ts`.
 *
 * Deno 2.9.6 accepts the HTTP/3 CONNECT (`Deno.upgradeWebTransport`), but the streams its
 * WebTransport object hands out never send FIN when closed (its writers do not close the
 * underlying QUIC stream), so after ~100 streams a session is stuck at the stream limit.
 * This module therefore reads the connection's bidirectional streams itself, checks and
 * strips the WebTransport stream header (`0x41`, then the session id, both QUIC
 * variable-length integers, draft-ietf-webtrans-http3 §4.2), and writes that header on
 * the streams it opens. Closing such a stream sends FIN. Session close codes are not
 * delivered by Deno 2.9.6 either way; the libp2p layer above does not use them.
 * Browsers' unidirectional streams are not used by libp2p and are not read.
 *
 * @packageDocumentation
 */
import { WebTransportProtocolError } from './errors.ts'
import { encodeVarint, MAX_HEADER_BYTES, parseStreamHeader, WT_BIDI_STREAM } from './stream-header.ts'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { DenoQuicBidiStream, DenoQuicConn } from './deno.ts'

/** Streams opened by the browser before anything above took them (the Noise stream, early libp2p streams). */
const MAX_EARLY_STREAMS = 64

/** A session stream whose header was read: its reader, and the data that came with the header. */
export interface SessionStream {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>
  readonly writable: WritableStream<Uint8Array>
  readonly leftover: Uint8Array
  readonly id: bigint
}

/**
 * The streams of one WebTransport session on a QUIC connection. Incoming streams are
 * handed to {@link WebTransportSession.onStream}'s handler (kept until one is set).
 */
export class WebTransportSession {
  readonly conn: DenoQuicConn
  /**
   * Deno's WebTransport object for this connection. Unused, but it holds the CONNECT
   * stream and the HTTP/3 control streams: once garbage-collected, Deno stops reading the
   * browser's control stream (STOP_SENDING) and Chromium drops the connection (seen after
   * ~570 streams). It lives as long as the session.
   */
  readonly #wt: object
  readonly #log: Logger
  #sessionId: bigint | undefined
  #handler: ((s: SessionStream) => void) | undefined
  readonly #early: SessionStream[] = []
  #closed = false
  /** The authenticated remote PeerId, once known. */
  remotePeer: string | undefined
  /** Resolves when the QUIC connection is closed (either side). */
  readonly closed: Promise<void>

  constructor (conn: DenoQuicConn, wt: object, log: Logger) {
    this.conn = conn
    this.#wt = wt
    this.#log = log
    this.closed = conn.closed.then((info) => { log('QUIC connection closed: %o', info) }, (err: unknown) => { log('QUIC connection closed: %e', err) }).finally(() => { this.#closed = true })
    void this.#accept()
  }

  /** Deno's WebTransport object (kept alive with the session). */
  get webTransport (): object { return this.#wt }

  /** The session id (the CONNECT stream's id), known from the first stream. */
  get sessionId (): bigint | undefined { return this.#sessionId }

  /** Sets where incoming streams go; streams that came earlier are delivered at once. */
  onStream (handler: (s: SessionStream) => void): void {
    this.#handler = handler
    for (const s of this.#early.splice(0)) handler(s)
  }

  /** The next incoming stream (for the Noise handshake, before a handler is set). */
  async nextStream (options: AbortOptions = {}): Promise<SessionStream> {
    const early = this.#early.shift()
    if (early !== undefined) return early
    return await new Promise<SessionStream>((resolve, reject) => {
      const onAbort = (): void => { this.#handler = undefined; reject(options.signal?.reason ?? new WebTransportProtocolError('aborted')) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      void this.closed.then(() => { onAbort() })
      this.#handler = (s) => {
        options.signal?.removeEventListener('abort', onAbort)
        this.#handler = undefined
        resolve(s)
      }
    })
  }

  /** Opens a bidirectional stream of this session (writes its header). */
  async openStream (): Promise<SessionStream> {
    if (this.#sessionId === undefined) throw new WebTransportProtocolError('no session stream seen yet')
    const raw = await this.conn.createBidirectionalStream({ waitUntilAvailable: true })
    const writer = raw.writable.getWriter()
    try {
      await writer.write(Uint8Array.from([...encodeVarint(WT_BIDI_STREAM), ...encodeVarint(this.#sessionId)]))
    } finally {
      writer.releaseLock()
    }
    return { reader: raw.readable.getReader(), writable: raw.writable, leftover: new Uint8Array(0), id: raw.writable.id }
  }

  /** Closes the QUIC connection (and with it every stream). */
  close (reason = ''): void {
    if (this.#closed) return
    this.#closed = true
    try { this.conn.close({ closeCode: 0, reason }) } catch {}
  }

  async #accept (): Promise<void> {
    const reader = this.conn.incomingBidirectionalStreams.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        void this.#readHeader(value)
      }
    } catch (err) {
      this.#log('incoming streams ended: %e', err)
    } finally {
      reader.releaseLock()
    }
  }

  async #readHeader (raw: DenoQuicBidiStream): Promise<void> {
    const reader = raw.readable.getReader()
    let buf: Uint8Array = new Uint8Array(0)
    try {
      for (;;) {
        const header = parseStreamHeader(buf)
        if (header !== undefined) {
          if (this.#sessionId === undefined) this.#sessionId = header.sessionId
          else if (header.sessionId !== this.#sessionId) throw new WebTransportProtocolError(`stream for session ${header.sessionId}, this session is ${this.#sessionId}`)
          this.#deliver({ reader, writable: raw.writable, leftover: buf.subarray(header.length), id: raw.readable.id })
          return
        }
        if (buf.byteLength >= MAX_HEADER_BYTES) throw new WebTransportProtocolError('stream header too long')
        const { done, value } = await reader.read()
        if (done) return // a stream that ended before its header: nothing to deliver
        buf = buf.byteLength === 0 ? value : Uint8Array.from([...buf, ...value]) as Uint8Array
      }
    } catch (err) {
      this.#log('dropping stream %s: %e', raw.readable.id, err)
      void reader.cancel().catch(() => {})
      void raw.writable.abort(err).catch(() => {})
    }
  }

  #deliver (s: SessionStream): void {
    if (this.#handler !== undefined) {
      this.#handler(s)
      return
    }
    if (this.#early.length >= MAX_EARLY_STREAMS) {
      this.#log('too many streams before the session was set up, resetting %s', s.id)
      void s.reader.cancel().catch(() => {})
      void s.writable.abort().catch(() => {})
      return
    }
    this.#early.push(s)
  }
}
