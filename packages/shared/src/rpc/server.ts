/**
 * The server side of an RPC channel.
 *
 * @packageDocumentation
 */
import { asRecord, present, stringField, uintField } from '../wire/fields.ts'
import { MAX_MESSAGE_ID_BYTES, MAX_TIMER_MS, MAX_TYPE_LENGTH, STREAM_REPLY_WINDOW } from '../constants.ts'
import { OperationAbortedError, ConnectionLostError, EncryptionRequiredError, EncryptionUnavailableError, errorToWire, InvalidFrameError, RemoteHandlerError, ReplyKindError, RequestTimeoutError, TooManyRequestsError, UnknownRpcTypeError } from '../errors/index.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import type { Logger } from '@libp2p/interface'
import { FrameKind, MAX_REQUEST_ID } from './frames.ts'
import type { Caller, HandlerContext, RequestLimiter, RequestOpener, RpcHandler } from './types.ts'
import type { FairScheduler } from './scheduler.ts'


function isAsyncIterable (value: unknown): value is AsyncIterable<unknown> {
  return value != null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
}


/** Options of an {@link RpcServer}. */
export interface RpcServerInit {
  /** The verified caller on this channel. */
  caller: Caller
  /** Finds the handler for a type, or undefined. */
  resolve: (type: string) => RpcHandler | undefined
  /** Per-connection concurrency limit. */
  limiter: RequestLimiter
  /** Handler turns shared with every other caller's channels; none: every handler starts at once. */
  scheduler?: FairScheduler | undefined
  /** Logger. */
  log: Logger
  /** Opens encrypted requests; without it an encrypted request gets `EncryptionUnavailableError`. */
  e2e?: RequestOpener | undefined
  /** Refuse plaintext requests with `EncryptionRequiredError`. */
  requireEncryption?: boolean | undefined
  /** Hears of each request once it is answered or refused (for metrics). */
  onServed?: ((served: ServedRequest) => void) | undefined
}

/** A request this server answered or refused: its type, how it ended and how long it took. */
export interface ServedRequest {
  /** The request type (or message action) as the caller sent it. */
  type: string
  /** `'ok'`, or the name of the error the caller got. */
  outcome: string
  /** Milliseconds from the request frame to the reply. */
  ms: number
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
  /** Requests that arrived while the byte budget was spent: started once it is released. */
  #backlog: Array<Record<string, unknown>> = []

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
      r.controller.abort(new ConnectionLostError())
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
      this.#backlog = this.#backlog.filter((b) => b.id !== id)
      const r = this.#running.get(id)
      r?.controller.abort(new OperationAbortedError('Cancelled by the caller'))
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
    // a client that does not read its replies: hold what it sent (reading is paused) until they drain
    if (this.#backlog.length > 0 || this.#framed.overBudget) {
      this.#backlog.push(rec)
      if (this.#backlog.length === 1) this.#framed.whenUnderBudget(() => { this.#startBacklog() })
      return
    }
    this.#request(id, rec)
  }

  #startBacklog (): void {
    while (this.#backlog.length > 0 && !this.#framed.ended) {
      if (this.#framed.overBudget) {
        this.#framed.whenUnderBudget(() => { this.#startBacklog() })
        return
      }
      const rec = this.#backlog.shift() as Record<string, unknown>
      this.#request(rec.id as number, rec)
    }
    if (this.#framed.ended) this.#backlog = []
  }

  #request (id: number, rec: Record<string, unknown>): void {
    if (this.#running.has(id)) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(new InvalidFrameError(`request id ${id} is already in use`)) })
      return
    }
    let type: string
    try {
      type = stringField(rec, 't', 'request', MAX_TYPE_LENGTH)
      if (present(rec, 'to')) uintField(rec, 'to', 'request')
    } catch (err) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(err) })
      return
    }
    const handler = this.#init.resolve(type)
    if (handler === undefined) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(new UnknownRpcTypeError(`No handler for "${type}" on subnet ${this.#init.caller.netuid}`)) })
      this.#init.onServed?.({ type, outcome: UnknownRpcTypeError.name, ms: 0 })
      return
    }
    if (!this.#init.limiter.tryAcquire()) {
      this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(new TooManyRequestsError()) })
      this.#init.onServed?.({ type, outcome: TooManyRequestsError.name, ms: 0 })
      return
    }
    const running: Running = { controller: new AbortController(), credit: STREAM_REPLY_WINDOW, creditWaiter: undefined, timer: undefined }
    if (typeof rec.to === 'number') {
      running.timer = setTimeout(() => { running.controller.abort(new RequestTimeoutError()) }, Math.min(rec.to, MAX_TIMER_MS))
    }
    this.#running.set(id, running)
    void this.#run(id, type, rec, handler, running)
  }

  async #run (id: number, type: string, rec: Record<string, unknown>, handler: RpcHandler, running: Running): Promise<void> {
    const signal = running.controller.signal
    const streamed = rec.s === 1
    const startedAt = Date.now()
    let outcome = 'ok'
    try {
      const context: HandlerContext = { caller: this.#init.caller, type, signal }
      if (typeof rec.m === 'string') {
        if (new TextEncoder().encode(rec.m).byteLength > MAX_MESSAGE_ID_BYTES) throw new InvalidFrameError(`A message id may be at most ${MAX_MESSAGE_ID_BYTES} bytes`)
        context.messageId = rec.m
      }
      let body = rec.b
      let sealReply: ((body: unknown, index: number, last: boolean) => Promise<Uint8Array>) | undefined
      if (present(rec, 'x')) {
        if (this.#init.e2e === undefined) throw new EncryptionUnavailableError('This peer has end-to-end encryption turned off')
        const opened = await this.#init.e2e(rec.x, type, context.messageId)
        body = opened.body
        sealReply = opened.sealReply
      } else if (this.#init.requireEncryption === true) {
        throw new EncryptionRequiredError(`"${type}" arrived in plaintext; this peer accepts only end-to-end encrypted requests and messages`)
      }
      // a turn among every caller's requests for the handler's work: the call, and for a
      // streamed reply each step of its iterator (not the waits for the caller's credit)
      const result = await this.#turn(signal, async () => await handler(body, context))
      let index = 0
      if (isAsyncIterable(result)) {
        if (!streamed) throw new ReplyKindError()
        const iterator = result[Symbol.asyncIterator]()
        let finished = false
        try {
          while (true) {
            const step = await this.#turn(signal, async () => await iterator.next())
            if (step.done === true) { finished = true; break }
            const chunk = step.value
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
        } finally {
          // as `for await` does: a stream left early (an abort, a failed send) lets the handler clean up
          if (!finished) await iterator.return?.().catch(() => {})
        }
        this.#reply(id, sealReply === undefined ? { k: FrameKind.End, id } : { k: FrameKind.End, id, x: await sealReply(null, index, true) })
      } else {
        this.#reply(id, sealReply === undefined ? { k: FrameKind.Reply, id, b: result } : { k: FrameKind.Reply, id, x: await sealReply(result, 0, true) })
      }
    } catch (err) {
      outcome = ((signal.aborted ? signal.reason : err) as Error | undefined)?.name ?? 'Error'
      if (!signal.aborted || (signal.reason as Error | undefined)?.name === RequestTimeoutError.name) {
        this.#reply(id, { k: FrameKind.Error, id, e: errorToWire(signal.aborted ? signal.reason : err) })
      }
    } finally {
      if (running.timer !== undefined) clearTimeout(running.timer)
      this.#running.delete(id)
      this.#init.limiter.release()
      this.#init.onServed?.({ type, outcome, ms: Date.now() - startedAt })
    }
  }

  /** Runs `work` on a turn from the scheduler (at once without one); the turn is given back however it ends. */
  async #turn<T> (signal: AbortSignal, work: () => Promise<T>): Promise<T> {
    const turn = this.#init.scheduler?.acquire(this.#init.caller.ss58, { signal })
    const release = turn instanceof Promise ? await turn : turn
    try {
      return await work()
    } finally {
      release?.()
    }
  }

  #reply (id: number, frame: Record<string, unknown>): void {
    if (this.#framed.ended && this.#framed.stream.writeStatus !== 'writable') return
    try {
      this.#framed.send(frame)
    } catch (err) {
      this.#init.log('could not reply to request %d: %s', id, (err as Error).message)
      if (frame.k === FrameKind.Error) return
      // the caller is told at once rather than left waiting for its deadline
      const reason = (err as Error).name === 'FrameTooLargeError'
        ? err
        : new RemoteHandlerError(`The handler's reply could not be encoded: ${(err as Error).message}`)
      try { this.#framed.send({ k: FrameKind.Error, id, e: errorToWire(reason) }) } catch {}
    }
  }
}
