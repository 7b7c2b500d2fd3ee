/**
 * A WebTransport session kept on raw QUIC streams, and the libp2p stream, muxer and
 * connection built on it.
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
import { AbstractMessageStream, AbstractMultiaddrConnection, AbstractStream, AbstractStreamMuxer } from '@libp2p/utils'
import { WebTransportProtocolError } from '@subwire/shared'
import type { AbortOptions, CreateStreamOptions, Logger, MessageStreamDirection, MultiaddrConnection, StreamMuxer, StreamMuxerFactory, StreamOptions } from '@libp2p/interface'
import type { AbstractMultiaddrConnectionInit, SendResult } from '@libp2p/utils'
import type { DenoQuicBidiStream, DenoQuicConn } from './deno.ts'

/** The byte list libp2p hands to `sendData` (the type of the @libp2p/utils in use). */
type Uint8ArrayList = Parameters<AbstractMessageStream['sendData']>[0]

/** HTTP/3 signal value that opens a WebTransport bidirectional stream. */
export const WT_BIDI_STREAM = 0x41n

/** Longest stream header: two 8-byte varints. */
const MAX_HEADER_BYTES = 16

/** Streams opened by the browser before anything above took them (the Noise stream, early libp2p streams). */
const MAX_EARLY_STREAMS = 64

/** Longest a remote FIN is held back waiting for the protocol handler to read (see WebTransportStream). */
const MAX_FIN_HOLD_MS = 5_000

/** Bytes a stream may have in Deno's writer before libp2p is told to wait for `drain`. */
const MAX_BUFFERED_WRITE_BYTES = 4 * 1024 * 1024

/** Encodes a QUIC variable-length integer (RFC 9000 §16). */
export function encodeVarint (value: bigint): Uint8Array {
  if (value < 0n || value >= 1n << 62n) throw new RangeError(`varint out of range: ${value}`)
  if (value < 64n) return Uint8Array.of(Number(value))
  if (value < 16384n) return Uint8Array.of(0x40 | Number(value >> 8n), Number(value & 0xffn))
  const out = new Uint8Array(value < 1n << 30n ? 4 : 8)
  const view = new DataView(out.buffer)
  if (out.byteLength === 4) view.setUint32(0, Number(value) | 0x8000_0000)
  else view.setBigUint64(0, value | (3n << 62n))
  return out
}

/** Decodes a QUIC varint at `offset`; `undefined` when the bytes end first. */
export function decodeVarint (bytes: Uint8Array, offset = 0): { value: bigint, length: number } | undefined {
  const first = bytes[offset]
  if (first === undefined) return undefined
  const length = 1 << (first >> 6)
  if (bytes.byteLength - offset < length) return undefined
  let value = BigInt(first & 0x3f)
  for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(bytes[offset + i] as number)
  return { value, length }
}

/** Parses a stream header: `{ sessionId, length }`, `undefined` if more bytes are needed. Throws on a header that is not a WebTransport bidirectional stream. */
export function parseStreamHeader (bytes: Uint8Array): { sessionId: bigint, length: number } | undefined {
  const signal = decodeVarint(bytes, 0)
  if (signal === undefined) return undefined
  if (signal.value !== WT_BIDI_STREAM) throw new WebTransportProtocolError(`stream type 0x${signal.value.toString(16)} is not a WebTransport bidirectional stream`)
  const session = decodeVarint(bytes, signal.length)
  if (session === undefined) return undefined
  return { sessionId: session.value, length: signal.length + session.length }
}

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

/**
 * Writes to a QUIC send stream with byte-counted backpressure: `canSendMore` is false
 * while more than {@link MAX_BUFFERED_WRITE_BYTES} are queued, and `onDrain` runs once
 * they are written.
 */
class StreamWriter {
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

  async close (): Promise<void> { await this.#writer.close() }
  abort (err: Error): void { void this.#writer.abort(err).catch(() => {}) }
}

/** Reads a session stream into a message stream, pausing when it is paused. */
function pump (s: SessionStream, target: { onData: (d: Uint8Array) => void, onEnd: () => void, onError: (err: Error) => void, paused: () => boolean, resumed: () => Promise<void> }): void {
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
