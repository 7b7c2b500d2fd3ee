/**
 * The client side of an RPC channel.
 *
 * @packageDocumentation
 */
import { asRecord, uintField } from '../wire/fields.ts'
import { MAX_TIMER_MS, STREAM_REPLY_WINDOW } from '../constants.ts'
import { OperationAbortedError, ConnectionLostError, DecryptionFailedError, errorFromWire, InvalidFrameError, RequestTimeoutError, errorClasses, isAbortError } from '../errors/index.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import type { Logger } from '@libp2p/interface'
import { FrameKind, MAX_REQUEST_ID, wireErrorOf } from './frames.ts'
import type { RequestOptions } from './types.ts'


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
      // the transport's own errors (e.g. QUIC's plain `Error('connection closed')`, libp2p's
      // `ConnectionClosedError`) become typed; an abort stays an abort
      this.#fail(err === undefined
        ? new ConnectionLostError('RPC stream closed')
        : Object.hasOwn(errorClasses, err.name) || isAbortError(err) ? err : new ConnectionLostError(`RPC stream closed: ${err.message}`, { cause: err }))
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
        this.#pending.get(id)?.reject(new OperationAbortedError('Stream consumer stopped'))
      }
      await done
    }
  }

  /** Rejects every outstanding request and closes the stream. */
  async close (): Promise<void> {
    this.#fail(new ConnectionLostError('RPC channel closed'))
    await this.#framed.close()
  }

  async #acquire (signal?: AbortSignal): Promise<void> {
    while (this.#inFlight >= this.#maxInFlight) {
      if (this.#closedError !== undefined) throw this.#closedError
      if (signal?.aborted === true) throw new OperationAbortedError()
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
    if (options.signal?.aborted === true) throw new OperationAbortedError()
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
    const onAbort = (): void => { cancel(new OperationAbortedError()) }
    const call: PendingCall = {
      nextIndex: 0,
      chain: Promise.resolve(),
      resolve: (b) => { cleanup(); resolve(b) },
      reject: (err) => {
        if (isAbortError(err) || err.name === RequestTimeoutError.name) {
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
      timer = setTimeout(() => { cancel(new RequestTimeoutError(`No reply to "${type}" within ${options.timeout} ms`)) }, Math.min(options.timeout, MAX_TIMER_MS))
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
