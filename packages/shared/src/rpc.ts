/**
 * Request/response multiplexed by id over one {@link FramedStream}.
 *
 * Frames are MessagePack maps with a kind `k`:
 *
 * | k | direction | fields | meaning |
 * |---|---|---|---|
 * | 0 | client → server | `id`, `t` type, `b` body, `to` timeout ms, `s` 1 = streamed reply, `m` message id | request |
 * | 1 | client → server | `id` | cancel |
 * | 2 | server → client | `id`, `b` | reply |
 * | 3 | server → client | `id`, `e` `{name, message}` | error reply |
 * | 4 | server → client | `id`, `b` | streamed reply chunk |
 * | 5 | server → client | `id` | end of a streamed reply |
 * | 6 | client → server | `id`, `n` | credit: the client read `n` more chunks |
 * | 7 | server → client | `e` | the whole channel is refused (e.g. not authenticated) |
 *
 * The control-message protocol uses the same channel: a message is a request whose
 * type is the action and whose reply (empty) is the ack.
 *
 * End-to-end encryption: an encrypted request carries `x` (an envelope) instead of `b`;
 * its replies, chunks and end carry `x` (ciphertext of chunk 0, 1, … sealed under the
 * reply key, the last one flagged) instead of `b`. Error replies stay plaintext.
 *
 * @packageDocumentation
 */
import { asRecord, stringField, uintField } from './wire/fields.ts'
import { MAX_TYPE_LENGTH, STREAM_REPLY_WINDOW } from './constants.ts'
import {
  AbortError,
  ConnectionClosedError,
  DecryptionFailedError,
  EncryptionRequiredError,
  EncryptionUnavailableError,
  errorFromWire,
  errorToWire,
  InvalidFrameError,
  ReplyKindError,
  RequestTimeoutError,
  errorClasses,
  TooManyRequestsError,
  UnknownRpcTypeError
} from './errors/index.ts'
import type { WireError } from './errors/index.ts'
import type { FramedStream } from './wire/framed-stream.ts'
import type { Logger } from '@libp2p/interface'

/** Frame kinds of the RPC channel. */
export const FrameKind = {
  Request: 0,
  Cancel: 1,
  Reply: 2,
  Error: 3,
  Chunk: 4,
  End: 5,
  Credit: 6,
  Refused: 7
} as const

/** Largest request id; ids wrap well before losing integer precision. */
const MAX_REQUEST_ID = 2 ** 32 - 1

/** The verified identity of whoever sent a request or message. */
export interface Caller {
  /** The caller's hotkey, verified by the handshake. */
  ss58: string
  /** The caller's libp2p PeerId (transport-authenticated). */
  peerId: string
  /** The subnet the request arrived on. */
  netuid: number
}

/** What a handler receives besides the body. */
export interface HandlerContext {
  /** The verified caller. */
  caller: Caller
  /** The request type (or message action). */
  type: string
  /** Aborted when the caller cancels, the request times out or the connection closes. */
  signal: AbortSignal
  /** The sender-chosen message id (control messages only). */
  messageId?: string | undefined
}

/**
 * An RPC handler. Return a value (the reply body) or an async iterable (a streamed
 * reply, one chunk per item). Thrown errors reach the caller as `{name, message}`.
 */
export type RpcHandler = (body: unknown, context: HandlerContext) => unknown | Promise<unknown> | AsyncIterable<unknown>

/** Options of a single request. */
export interface RequestOptions {
  /** Cancels the request; the cancel reaches the handler. */
  signal?: AbortSignal | undefined
  /** Reply deadline in ms; the handler's signal aborts at the same deadline. */
  timeout?: number | undefined
  /** Message id carried to the handler (control messages). */
  messageId?: string | undefined
  /** Encrypts this request end to end (and expects an encrypted reply). */
  e2e?: RequestSealer | undefined
}

/** Seals one request body; what it returns opens the reply chunks. */
export type RequestSealer = (body: unknown) => Promise<{
  /** The envelope sent as the request's `x`. */
  x: unknown
  /** Opens reply chunk `index` (`last` on the single reply or the end). */
  openReply: (ciphertext: Uint8Array, index: number, last: boolean) => Promise<unknown>
}>

/** Opens an encrypted request on the server; what it returns seals the replies. */
export type RequestOpener = (x: unknown, type: string, messageId: string | undefined) => Promise<{
  /** The decrypted body. */
  body: unknown
  /** Seals reply chunk `index`. */
  sealReply: (body: unknown, index: number, last: boolean) => Promise<Uint8Array>
}>

interface PendingCall {
  resolve: (body: unknown) => void
  reject: (err: Error) => void
  onChunk?: (body: unknown) => void
  onEnd?: () => void
  /** Set on encrypted calls: opens reply chunks in order. */
  openReply?: (ciphertext: Uint8Array, index: number, last: boolean) => Promise<unknown>
  nextIndex: number
  chain: Promise<void>
}

function isAsyncIterable (value: unknown): value is AsyncIterable<unknown> {
  return value != null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
}

function wireErrorOf (rec: Record<string, unknown>): WireError {
  const e = asRecord(rec.e, 'error frame')
  const wire: WireError = {
    name: stringField(e, 'name', 'error frame', MAX_TYPE_LENGTH),
    message: stringField(e, 'message', 'error frame', 64 * 1024)
  }
  if (typeof e.netuid === 'number') wire.netuid = e.netuid
  return wire
}

/** A simple async queue used for streamed replies. */
class ChunkQueue {
  items: unknown[] = []
  done = false
  error: Error | undefined
  waiter: (() => void) | undefined
  wake (): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }
}

/**
 * The client side of an RPC channel: sends requests, matches replies by id, keeps at
 * most `maxInFlight` requests outstanding (the server's announced limit) and queues
 * the rest locally, so callers never see the server's `TooManyRequests` in normal use.
 */
export class RpcClient {
  readonly #framed: FramedStream
  readonly #pending = new Map<number, PendingCall>()
  readonly #maxInFlight: number
  readonly #log: Logger
  #nextId = 1
  #inFlight = 0
  #waiting: Array<() => void> = []
  #closedError: Error | undefined

  constructor (framed: FramedStream, init: { maxInFlight: number, log: Logger }) {
    this.#framed = framed
    this.#maxInFlight = Math.max(1, init.maxInFlight)
    this.#log = init.log
    framed.onFrame((f) => { this.#onFrame(f) })
    framed.onEnd((err) => {
      // the transport's own errors (e.g. QUIC's plain `Error('connection closed')`) become typed
      this.#fail(err === undefined
        ? new ConnectionClosedError('RPC stream closed')
        : Object.hasOwn(errorClasses, err.name) ? err : new ConnectionClosedError(`RPC stream closed: ${err.message}`, { cause: err }))
    })
  }

  /** True once the channel can no longer be used. */
  get closed (): boolean {
    return this.#closedError !== undefined
  }

  /** Requests currently outstanding at the server. */
  get inFlight (): number {
    return this.#inFlight
  }

  /** Sends a request and resolves with the reply body. */
  async request (type: string, body: unknown, options: RequestOptions = {}): Promise<unknown> {
    return await this.#call(type, body, options, undefined)
  }

  /** Sends a request whose reply is streamed; yields each chunk's body. */
  async * requestStream (type: string, body: unknown, options: RequestOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const q = new ChunkQueue()
    let consumed = 0
    let id = -1
    const done = this.#call(type, body, options, {
      onChunk: (b) => { q.items.push(b); q.wake() },
      onEnd: () => { q.done = true; q.wake() },
      onId: (i) => { id = i }
    }).catch((err: Error) => { q.error = err; q.done = true; q.wake() })
    try {
      while (true) {
        if (q.items.length > 0) {
          yield q.items.shift()
          consumed++
          if (consumed >= STREAM_REPLY_WINDOW / 2 && id >= 0 && !this.closed) {
            this.#framed.send({ k: FrameKind.Credit, id, n: consumed })
            consumed = 0
          }
          continue
        }
        if (q.error !== undefined) throw q.error
        if (q.done) return
        await new Promise<void>((resolve) => { q.waiter = resolve })
      }
    } finally {
      if (!q.done && id >= 0 && this.#pending.has(id)) {
        // the consumer stopped early: cancel at the server
        this.#pending.get(id)?.reject(new AbortError('Stream consumer stopped'))
      }
      await done
    }
  }

  /** Rejects every outstanding request and closes the stream. */
  async close (): Promise<void> {
    this.#fail(new ConnectionClosedError('RPC channel closed'))
    await this.#framed.close()
  }

  async #acquire (signal?: AbortSignal): Promise<void> {
    while (this.#inFlight >= this.#maxInFlight) {
      if (this.#closedError !== undefined) throw this.#closedError
      if (signal?.aborted === true) throw new AbortError()
      const { promise, resolve } = Promise.withResolvers<void>()
      this.#waiting.push(resolve)
      const onAbort = (): void => { resolve() }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await promise
      } finally {
        signal?.removeEventListener('abort', onAbort)
      }
    }
    this.#inFlight++
  }

  #release (): void {
    this.#inFlight--
    this.#waiting.shift()?.()
  }

  async #call (type: string, body: unknown, options: RequestOptions, streaming: { onChunk: (b: unknown) => void, onEnd: () => void, onId: (id: number) => void } | undefined): Promise<unknown> {
    if (this.#closedError !== undefined) throw this.#closedError
    if (options.signal?.aborted === true) throw new AbortError()
    await this.#acquire(options.signal)
    if (this.#closedError !== undefined) {
      this.#release()
      throw this.#closedError
    }
    const id = this.#nextId
    this.#nextId = this.#nextId >= MAX_REQUEST_ID ? 1 : this.#nextId + 1
    streaming?.onId(id)
    const { promise, resolve, reject } = Promise.withResolvers<unknown>()
    let timer: ReturnType<typeof setTimeout> | undefined
    const cleanup = (): void => {
      if (!this.#pending.delete(id)) return
      if (timer !== undefined) clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      this.#release()
    }
    const cancel = (err: Error): void => {
      if (!this.#pending.has(id)) return
      cleanup()
      if (this.#closedError === undefined) {
        try { this.#framed.send({ k: FrameKind.Cancel, id }) } catch {}
      }
      reject(err)
    }
    const onAbort = (): void => { cancel(new AbortError()) }
    const call: PendingCall = {
      nextIndex: 0,
      chain: Promise.resolve(),
      resolve: (b) => { cleanup(); resolve(b) },
      reject: (err) => {
        if (err.name === AbortError.name || err.name === RequestTimeoutError.name) {
          cancel(err)
        } else {
          cleanup()
          reject(err)
        }
      }
    }
    if (streaming !== undefined) {
      call.onChunk = streaming.onChunk
      call.onEnd = () => { cleanup(); streaming.onEnd(); resolve(undefined) }
    }
    const frame: Record<string, unknown> = { k: FrameKind.Request, id, t: type }
    if (options.e2e !== undefined) {
      try {
        const sealed = await options.e2e(body)
        frame.x = sealed.x
        call.openReply = sealed.openReply
      } catch (err) {
        this.#release()
        throw err
      }
    } else {
      frame.b = body
    }
    this.#pending.set(id, call)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.timeout !== undefined) {
      frame.to = Math.max(1, Math.ceil(options.timeout))
      timer = setTimeout(() => { cancel(new RequestTimeoutError(`No reply to "${type}" within ${options.timeout} ms`)) }, options.timeout)
    }
    if (streaming !== undefined) frame.s = 1
    if (options.messageId !== undefined) frame.m = options.messageId
    try {
      this.#framed.send(frame)
    } catch (err) {
      cleanup()
      // a refusal that closed the stream explains the failure better than "stream is closed"
      throw this.#closedError ?? err
    }
    return await promise
  }

  #onFrame (frame: unknown): void {
    try {
      const rec = asRecord(frame, 'rpc frame')
      const k = uintField(rec, 'k', 'rpc frame', 7)
      if (k === FrameKind.Refused) {
        const err = errorFromWire(wireErrorOf(rec))
        this.#fail(err)
        this.#framed.abort(err)
        return
      }
      const id = uintField(rec, 'id', 'rpc frame', MAX_REQUEST_ID)
      const call = this.#pending.get(id)
      if (call === undefined) return // cancelled or timed out: a late reply is dropped
      if (call.openReply !== undefined) {
        this.#onSealedFrame(call, k, rec)
        return
      }
      switch (k) {
        case FrameKind.Reply:
          if (call.onEnd !== undefined) {
            call.onChunk?.(rec.b)
            call.onEnd()
          } else {
            call.resolve(rec.b)
          }
          break
        case FrameKind.Error:
          call.reject(errorFromWire(wireErrorOf(rec)))
          break
        case FrameKind.Chunk:
          if (call.onChunk === undefined) throw new InvalidFrameError('chunk for a plain request')
          call.onChunk(rec.b)
          break
        case FrameKind.End:
          if (call.onEnd === undefined) throw new InvalidFrameError('end for a plain request')
          call.onEnd()
          break
        default:
          throw new InvalidFrameError(`unexpected frame kind ${k} from the server`)
      }
    } catch (err) {
      this.#log('closing RPC channel after bad frame from server: %s', (err as Error).message)
      this.#fail(err as Error)
      this.#framed.abort(err as Error)
    }
  }

  /** Replies to an encrypted request: opened strictly in order, each chunk with its index. */
  #onSealedFrame (call: PendingCall, k: number, rec: Record<string, unknown>): void {
    const open = call.openReply as NonNullable<PendingCall['openReply']>
    if (k === FrameKind.Error) {
      const err = errorFromWire(wireErrorOf(rec))
      call.chain = call.chain.then(() => { call.reject(err) })
      return
    }
    if (k !== FrameKind.Reply && k !== FrameKind.Chunk && k !== FrameKind.End) throw new InvalidFrameError(`unexpected frame kind ${k} from the server`)
    if (k !== FrameKind.Reply && call.onChunk === undefined) throw new InvalidFrameError('chunk or end for a plain request')
    const index = call.nextIndex++
    const last = k !== FrameKind.Chunk
    const c = rec.x
    call.chain = call.chain.then(async () => {
      if (!(c instanceof Uint8Array)) throw new DecryptionFailedError('the reply to an encrypted request was not encrypted')
      const body = await open(c, index, last)
      if (k === FrameKind.Chunk) call.onChunk?.(body)
      else if (k === FrameKind.End) call.onEnd?.()
      else if (call.onEnd !== undefined) { call.onChunk?.(body); call.onEnd() } else call.resolve(body)
    }).catch((err: unknown) => {
      call.chain = new Promise(() => {}) // nothing after a failed chunk is delivered
      call.reject(err instanceof Error ? err : new DecryptionFailedError())
    })
  }

  #fail (err: Error): void {
    if (this.#closedError !== undefined) return
    this.#closedError = err
    for (const call of [...this.#pending.values()]) {
      call.reject(err)
    }
    this.#pending.clear()
    const waiting = this.#waiting
    this.#waiting = []
    for (const w of waiting) w()
  }
}

/** Counts requests in flight per connection, across its channels. */
export interface RequestLimiter {
  /** Takes a slot; false when the limit is reached. */
  tryAcquire(): boolean
  /** Gives a slot back. */
  release(): void
}

/** Options of an {@link RpcServer}. */
export interface RpcServerInit {
  /** The verified caller on this channel. */
  caller: Caller
  /** Finds the handler for a type, or undefined. */
  resolve: (type: string) => RpcHandler | undefined
  /** Per-connection concurrency limit. */
  limiter: RequestLimiter
  /** Logger. */
  log: Logger
  /** Opens encrypted requests; without it an encrypted request gets `EncryptionUnavailableError`. */
  e2e?: RequestOpener | undefined
  /** Refuse plaintext requests with `EncryptionRequiredError`. */
  requireEncryption?: boolean | undefined
}

interface Running {
  controller: AbortController
  credit: number
  creditWaiter: (() => void) | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

/** The server side of an RPC channel: runs handlers and sends their replies. */
export class RpcServer {
  readonly #framed: FramedStream
  readonly #init: RpcServerInit
  readonly #running = new Map<number, Running>()

  constructor (framed: FramedStream, init: RpcServerInit) {
    this.#framed = framed
    this.#init = init
    framed.onFrame((f) => { this.#onFrame(f) })
    framed.onEnd(() => { this.#abortAll() })
  }

  /** Requests being handled right now. */
  get running (): number {
    return this.#running.size
  }

  /** Aborts every running handler and closes the stream. */
  async close (): Promise<void> {
    this.#abortAll()
    await this.#framed.close()
  }

  #abortAll (): void {
    for (const r of this.#running.values()) {
      r.controller.abort(new ConnectionClosedError())
      r.creditWaiter?.()
    }
  }

  #onFrame (frame: unknown): void {
    let rec: Record<string, unknown>
    let k: number
    let id: number
    try {
      rec = asRecord(frame, 'rpc frame')
      k = uintField(rec, 'k', 'rpc frame', 7)
      id = uintField(rec, 'id', 'rpc frame', MAX_REQUEST_ID)
    } catch (err) {
      this.#init.log('closing RPC channel from %s after bad frame: %s', this.#init.caller.ss58, (err as Error).message)
      this.#framed.abort(err as Error)
      return
    }
    if (k === FrameKind.Cancel) {
      const r = this.#running.get(id)
      r?.controller.abort(new AbortError('Cancelled by the caller'))
      r?.creditWaiter?.()
      return
    }
    if (k === FrameKind.Credit) {
      const r = this.#running.get(id)
      if (r !== undefined && typeof rec.n === 'number' && rec.n > 0) {
        r.credit += Math.min(rec.n, STREAM_REPLY_WINDOW)
        r.creditWaiter?.()
      }
      return
    }
    if (k !== FrameKind.Request) {
      const err = new InvalidFrameError(`unexpected frame kind ${k} from the client`)
      this.#framed.abort(err)
      return
    }
    if (this.#running.has(id)) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(new InvalidFrameError(`request id ${id} is already in use`)) })
      return
    }
    let type: string
    try {
      type = stringField(rec, 't', 'request', MAX_TYPE_LENGTH)
      if (rec.to !== undefined) uintField(rec, 'to', 'request')
    } catch (err) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(err) })
      return
    }
    const handler = this.#init.resolve(type)
    if (handler === undefined) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(new UnknownRpcTypeError(`No handler for "${type}" on subnet ${this.#init.caller.netuid}`)) })
      return
    }
    if (!this.#init.limiter.tryAcquire()) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(new TooManyRequestsError()) })
      return
    }
    const running: Running = { controller: new AbortController(), credit: STREAM_REPLY_WINDOW, creditWaiter: undefined, timer: undefined }
    if (typeof rec.to === 'number') {
      running.timer = setTimeout(() => { running.controller.abort(new RequestTimeoutError()) }, rec.to)
    }
    this.#running.set(id, running)
    void this.#run(id, type, rec, handler, running)
  }

  async #run (id: number, type: string, rec: Record<string, unknown>, handler: RpcHandler, running: Running): Promise<void> {
    const signal = running.controller.signal
    const streamed = rec.s === 1
    try {
      const context: HandlerContext = { caller: this.#init.caller, type, signal }
      if (typeof rec.m === 'string') context.messageId = rec.m
      let body = rec.b
      let sealReply: ((body: unknown, index: number, last: boolean) => Promise<Uint8Array>) | undefined
      if (rec.x !== undefined) {
        if (this.#init.e2e === undefined) throw new EncryptionUnavailableError('This peer has end-to-end encryption turned off')
        const opened = await this.#init.e2e(rec.x, type, context.messageId)
        body = opened.body
        sealReply = opened.sealReply
      } else if (this.#init.requireEncryption === true) {
        throw new EncryptionRequiredError(`"${type}" arrived in plaintext; this peer accepts only end-to-end encrypted requests and messages`)
      }
      const result = await handler(body, context)
      let index = 0
      if (isAsyncIterable(result)) {
        if (!streamed) throw new ReplyKindError()
        for await (const chunk of result) {
          while (running.credit <= 0 && !signal.aborted) {
            await new Promise<void>((resolve) => { running.creditWaiter = resolve })
            running.creditWaiter = undefined
          }
          if (signal.aborted) throw signal.reason
          await this.#framed.waitWritable({ signal })
          if (signal.aborted) throw signal.reason
          running.credit--
          this.#framed.send(sealReply === undefined ? { k: FrameKind.Chunk, id, b: chunk } : { k: FrameKind.Chunk, id, x: await sealReply(chunk, index++, false) })
        }
        this.#reply(id, sealReply === undefined ? { k: FrameKind.End, id } : { k: FrameKind.End, id, x: await sealReply(null, index, true) })
      } else {
        this.#reply(id, sealReply === undefined ? { k: FrameKind.Reply, id, b: result } : { k: FrameKind.Reply, id, x: await sealReply(result, 0, true) })
      }
    } catch (err) {
      if (!signal.aborted || (signal.reason as Error | undefined)?.name === RequestTimeoutError.name) {
        this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(signal.aborted ? signal.reason : err) })
      }
    } finally {
      if (running.timer !== undefined) clearTimeout(running.timer)
      this.#running.delete(id)
      this.#init.limiter.release()
    }
  }

  #reply (id: number, frame: Record<string, unknown>): void {
    if (this.#framed.ended && this.#framed.stream.writeStatus !== 'writable') return
    try {
      this.#framed.send(frame)
    } catch (err) {
      if ((err as Error).name === 'FrameTooLargeError') {
        this.#framed.send({ k: FrameKind.Error, id, e: errorToWire(err) })
        return
      }
      this.#init.log('could not reply to request %d: %s', id, (err as Error).message)
    }
  }
}

/** Sends a channel-level refusal (kind 7) and closes the stream. */
export async function refuseChannel (framed: FramedStream, err: Error): Promise<void> {
  try {
    framed.send({ k: FrameKind.Refused, e: errorToWire(err) })
    await framed.close()
  } catch {
    framed.abort(err)
  }
}
