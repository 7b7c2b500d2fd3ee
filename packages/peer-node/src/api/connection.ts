/**
 * One client connection to the local API: the frames in and out, `hello` (and the token
 * on TCP), the operations in flight with their cancellation, and what the client serves.
 * Many operations run at once on one connection; each ends with exactly one `result` or
 * `error` frame carrying its `id`. A frame that cannot be used is answered at once with a
 * typed error and the connection goes on; only an oversized header (the stream is out of
 * step) or a failed `hello` ends it.
 *
 * @packageDocumentation
 */
import { AbortError, errorToWire, TooManyRequestsError } from '@subwire/shared'
import { API_HELLO_TIMEOUT_MS, API_MAX_IN_FLIGHT, API_MAX_UNREAD_BYTES, API_VERSION } from './constants.ts'
import { ApiProtocolError, ApiUnauthorizedError, ApiVersionError, UnknownOperationError } from './errors.ts'
import { ApiFrameDecoder, encodeApiFrame } from './framing.ts'
import { tokenMatches } from './tokens.ts'
import { Args } from './args.ts'
import type { ApiFrame } from './framing.ts'
import type { Logger } from '@libp2p/interface'
import type { Socket } from 'node:net'

/** What an operation gets besides its arguments. */
export interface OpContext {
  /** The connection it came on (none on the HTTP surface, which serves only {@link UNARY} operations). */
  conn: ApiConnection | undefined
  /** The operation's id. */
  id: number
  /** Aborted by `cancel` from the client or when the connection closes. */
  signal: AbortSignal
  /** Sends a frame belonging to this operation (`chunk`, `progress`, `event`) before its result. */
  emit: (frame: ApiFrame) => void
}

/** An operation: resolves with its result, or throws a typed error. */
export type Operation = (args: Args, ctx: OpContext) => Promise<unknown>

/** Frames from the client that answer the peer (a handler's reply), with no result of their own. */
export type NoticeHandler = (conn: ApiConnection, frame: ApiFrame) => void

/** What a connection is given. */
export interface ApiConnectionInit {
  /** The operations by name. */
  operations: ReadonlyMap<string, Operation>
  /** `reply`, `chunk`, `end` (a client handler answering) by name. */
  notices: ReadonlyMap<string, NoticeHandler>
  /** The token a TCP client must show in `hello`; undefined on the owner-only socket. */
  token?: string | undefined
  /** What `hello` answers besides the version. */
  hello: () => Record<string, unknown>
  /** The `subwire:api` logger. */
  log: Logger
}

/** A wire error with the `code` subwire errors carry. */
export function wireError (err: unknown): Record<string, unknown> {
  const e = err instanceof Error ? err : new Error(String(err))
  const code = (e as { code?: unknown }).code
  return { ...errorToWire(e), ...(typeof code === 'string' ? { code } : {}), ...((e as { remote?: unknown }).remote === true ? { remote: true } : {}), ...(e.name === 'RemoteHandlerError' ? { remoteName: (e as { remoteName?: string }).remoteName } : {}) }
}

let nextConnectionId = 1

/** One API client connection. */
export class ApiConnection {
  /** A number for logs. */
  readonly id = nextConnectionId++
  readonly #socket: Socket
  readonly #init: ApiConnectionInit
  readonly #decoder = new ApiFrameDecoder()
  readonly #inflight = new Map<number, AbortController>()
  readonly #closeListeners: Array<() => void> = []
  #authorised = false
  #closed = false
  #corked = false
  readonly #helloTimer: ReturnType<typeof setTimeout>

  constructor (socket: Socket, init: ApiConnectionInit) {
    this.#socket = socket
    this.#init = init
    this.#helloTimer = setTimeout(() => { this.close(new ApiUnauthorizedError('No hello within 5 s')) }, API_HELLO_TIMEOUT_MS)
    this.#helloTimer.unref()
    socket.setNoDelay?.(true)
    socket.on('data', (chunk: Buffer) => { this.#onData(chunk) })
    socket.on('error', (err) => { this.#init.log('api connection %d: %s', this.id, err.message) })
    socket.on('close', () => { this.#teardown() })
  }

  /** True once the connection closed. */
  get closed (): boolean { return this.#closed }

  /** Calls `fn` once when the connection closes. */
  onClose (fn: () => void): void {
    if (this.#closed) fn()
    else this.#closeListeners.push(fn)
  }

  /**
   * Sends a frame. Frames of one event-loop turn leave in one write. A client that lets
   * more than {@link API_MAX_UNREAD_BYTES} pile up is disconnected.
   */
  send (frame: ApiFrame): void {
    if (this.#closed) return
    let bytes: Uint8Array
    try {
      bytes = encodeApiFrame(frame)
    } catch (err) {
      if (typeof frame.id === 'number' && frame.t !== 'error') this.send({ t: 'error', id: frame.id, error: wireError(err) })
      return
    }
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      process.nextTick(() => { this.#corked = false; this.#socket.uncork() })
    }
    this.#socket.write(bytes)
    if (this.#socket.writableLength > API_MAX_UNREAD_BYTES) {
      this.#init.log('api connection %d: the client reads too slowly (%d bytes unread): closed', this.id, this.#socket.writableLength)
      this.#socket.destroy()
    }
  }

  /** Ends the connection, telling the client why (an error frame with id 0). */
  close (reason?: Error, id = 0): void {
    if (this.#closed) return
    if (reason !== undefined) this.send({ t: 'error', id, error: wireError(reason) })
    this.#socket.end()
    setTimeout(() => { this.#socket.destroy() }, 1000).unref()
    this.#teardown()
  }

  #teardown (): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#helloTimer)
    for (const c of this.#inflight.values()) c.abort(new AbortError('The API client disconnected'))
    this.#inflight.clear()
    for (const fn of this.#closeListeners.splice(0)) {
      try { fn() } catch (err) { this.#init.log.error('api connection %d: close listener failed: %s', this.id, (err as Error).message) }
    }
  }

  #onData (chunk: Buffer): void {
    this.#decoder.push(chunk)
    for (;;) {
      if (this.#closed) return
      const got = this.#decoder.next()
      if (got === undefined) return
      if ('error' in got) {
        if (got.fatal) { this.close(got.error); return }
        this.send({ t: 'error', id: 0, error: wireError(got.error) })
        continue
      }
      this.#onFrame(got.frame)
    }
  }

  #onFrame (frame: ApiFrame): void {
    const op = frame.op
    const id = frame.id
    if (typeof op !== 'string') {
      this.send({ t: 'error', id: typeof id === 'number' ? id : 0, error: wireError(new ApiProtocolError('A frame needs a string "op"')) })
      return
    }
    if (!this.#authorised) { this.#hello(op, frame); return }
    const notice = this.#init.notices.get(op)
    if (notice !== undefined) {
      try { notice(this, frame) } catch (err) { this.send({ t: 'error', id: 0, error: wireError(err) }) }
      return
    }
    if (op === 'cancel') {
      if (typeof frame.target === 'number') this.#inflight.get(frame.target)?.abort(new AbortError('Cancelled by the API client'))
      return
    }
    if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0) {
      this.send({ t: 'error', id: 0, error: wireError(new ApiProtocolError(`${op}: "id" must be a positive integer`)) })
      return
    }
    const operation = this.#init.operations.get(op)
    if (operation === undefined) {
      this.send({ t: 'error', id, error: wireError(new UnknownOperationError(`Unknown API operation "${op}" (API version ${API_VERSION})`)) })
      return
    }
    if (this.#inflight.has(id)) {
      this.send({ t: 'error', id, error: wireError(new ApiProtocolError(`${op}: id ${id} is already in flight`)) })
      return
    }
    if (this.#inflight.size >= API_MAX_IN_FLIGHT) {
      this.send({ t: 'error', id, error: wireError(new TooManyRequestsError(`At most ${API_MAX_IN_FLIGHT} operations in flight per API connection`)) })
      return
    }
    void this.#run(id, op, operation, frame)
  }

  async #run (id: number, op: string, operation: Operation, frame: ApiFrame): Promise<void> {
    const controller = new AbortController()
    this.#inflight.set(id, controller)
    try {
      const value = await operation(new Args(op, frame), { conn: this, id, signal: controller.signal, emit: (f) => { this.send({ ...f, id }) } })
      this.send({ t: 'result', id, value: value ?? null })
    } catch (err) {
      this.send({ t: 'error', id, error: wireError(err) })
    } finally {
      this.#inflight.delete(id)
    }
  }

  #hello (op: string, frame: ApiFrame): void {
    const id = typeof frame.id === 'number' ? frame.id : 0
    if (op !== 'hello') { this.close(new ApiUnauthorizedError(`"${op}" before hello`), id); return }
    if (frame.version !== API_VERSION) { this.close(new ApiVersionError(`This peer speaks API version ${API_VERSION}, the client asked for ${String(frame.version)}`), id); return }
    if (this.#init.token !== undefined && !tokenMatches(frame.token, this.#init.token)) {
      this.#init.log('api connection %d: refused, %s', this.id, frame.token === undefined ? 'no token' : 'wrong token')
      this.close(new ApiUnauthorizedError(frame.token === undefined ? 'The TCP API needs the token from <home>/api.token in hello' : 'Wrong API token'), id)
      return
    }
    clearTimeout(this.#helloTimer)
    this.#authorised = true
    this.send({ t: 'result', id, value: { version: API_VERSION, ...this.#init.hello() } })
  }
}
