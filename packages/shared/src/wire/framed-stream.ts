/**
 * A libp2p stream carrying length-prefixed MessagePack frames.
 *
 * Reading starts in the constructor (a listener attached at once, so a remote that
 * already sent and closed is never missed). Writes made in the same tick are coalesced
 * into one `stream.send`, and the write queue is ours: when the transport asks for a
 * drain we hold frames until its `drain` event, and producers can wait for the queue to
 * fall below a high-water mark ({@link FramedStream.waitWritable}).
 *
 * @packageDocumentation
 */
import { encodeFrame, FrameDecoder } from './codec.ts'
import { WRITE_HIGH_WATER_MARK } from '../constants.ts'
import { OperationAbortedError, ConnectionLostError, toError } from '../errors/index.ts'
import type { Logger, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { ByteBudget } from './budget.ts'

/** Options of a {@link FramedStream}. */
export interface FramedStreamInit {
  /** Largest frame accepted or sent. */
  maxFrameBytes: number
  /** Logger of the owning component. */
  log: Logger
  /** Queue size above which {@link FramedStream.waitWritable} waits; default 1 MiB. */
  highWaterMark?: number
  /**
   * Charged with our queued writes and the bytes of unfinished frames we hold; while it is
   * spent, reading pauses (the remote's flow-control window closes) until it is released.
   */
  budget?: ByteBudget | undefined
}

type FrameListener = (frame: unknown) => void
type EndListener = (err?: Error) => void

/** Frames over a libp2p stream, with coalesced writes and real backpressure. */
export class FramedStream {
  /** The underlying libp2p stream. */
  readonly stream: Stream
  readonly #decoder: FrameDecoder
  readonly #maxFrameBytes: number
  readonly #highWaterMark: number
  readonly #log: Logger
  #queue: Uint8Array[] = []
  #queuedBytes = 0
  #flushScheduled = false
  #needsDrain = false
  #ended = false
  #endError: Error | undefined
  #onFrame: FrameListener | undefined
  #onEnd: EndListener | undefined
  #pendingFrames: unknown[] = []
  #capacityWaiters: Array<() => void> = []
  #frameWaiter: { resolve: (f: unknown) => void, reject: (e: Error) => void } | undefined
  readonly #budget: ByteBudget | undefined
  #pendingLimit: { max: number, error: () => Error } | undefined
  /** Why {@link FramedStream.limitPending} reset the stream: what every later read and send throws. */
  #overflow: Error | undefined
  #charged = 0
  #paused = false

  constructor (stream: Stream, init: FramedStreamInit) {
    this.stream = stream
    this.#maxFrameBytes = init.maxFrameBytes
    this.#highWaterMark = init.highWaterMark ?? WRITE_HIGH_WATER_MARK
    this.#decoder = new FrameDecoder(init.maxFrameBytes)
    this.#log = init.log
    this.#budget = init.budget
    stream.addEventListener('message', (evt) => { this.#onData(evt.data) })
    stream.addEventListener('remoteCloseWrite', () => { this.#finishRead() })
    stream.addEventListener('close', (evt) => {
      this.#finishRead(evt.error === undefined ? undefined : toError(evt.error))
      this.#releaseWaiters()
      this.#release()
    })
    // On 'drain' the stream itself resends its own buffer in a microtask; flush after it so
    // the capacity check sees the emptied buffer (checking synchronously once deadlocked a
    // one-way bulk stream: waiters stayed parked and no further 'drain' came).
    stream.addEventListener('drain', () => {
      this.#needsDrain = false
      queueMicrotask(() => { this.#flush() })
    })
    stream.addEventListener('idle', () => { this.#notifyCapacity() })
  }

  /** True once the readable side has ended (remote closed, reset or error). */
  get ended (): boolean {
    return this.#ended
  }

  /** Frames received and not yet read by {@link FramedStream.readFrame}. */
  get pendingFrames (): number {
    return this.#pendingFrames.length
  }

  /** Bytes queued by us and not yet handed to the transport. */
  get queuedBytes (): number {
    return this.#queuedBytes
  }

  /** True while the budget this stream is charged to is spent (reading is paused meanwhile). */
  get overBudget (): boolean {
    return this.#budget?.over === true
  }

  /** Calls `fn` once the budget is no longer spent (at once if it is not). */
  whenUnderBudget (fn: () => void): void {
    const budget = this.#budget
    if (budget === undefined || !budget.over) { fn(); return }
    budget.onRelease(() => { this.whenUnderBudget(fn) })
  }

  /**
   * Sets the frame listener. Frames that arrived before a listener was set are
   * delivered to it first, in order.
   */
  onFrame (listener: FrameListener): void {
    this.#onFrame = listener
    const pending = this.#pendingFrames
    this.#pendingFrames = []
    for (const f of pending) listener(f)
  }

  /** Sets the end listener: called once when reading ends, with the error if it ended badly. */
  onEnd (listener: EndListener): void {
    this.#onEnd = listener
    if (this.#ended && this.#pendingFrames.length === 0) listener(this.#endError)
  }

  /**
   * Bounds the frames received and not yet read: one more than `max` (a remote ignoring
   * its flow-control credit) ends reading with `error()`, drops what was buffered and
   * resets the stream; the next {@link FramedStream.readFrame} rejects with that error.
   */
  limitPending (max: number, error: () => Error): void {
    this.#pendingLimit = { max, error }
  }

  /** Reads one frame (for request/response exchanges such as the handshake). */
  async readFrame (options: { signal?: AbortSignal | undefined } = {}): Promise<unknown> {
    if (this.#pendingFrames.length > 0) return this.#pendingFrames.shift()
    if (this.#ended) throw this.#endError ?? new ConnectionLostError('Stream ended before a frame arrived')
    const { promise, resolve, reject } = Promise.withResolvers<unknown>()
    this.#frameWaiter = { resolve, reject }
    const onAbort = (): void => { reject(new OperationAbortedError()) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      return await promise
    } finally {
      this.#frameWaiter = undefined
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Queues a frame for sending. Throws `FrameTooLargeError` if it exceeds the maximum. */
  send (frame: unknown): void {
    if (this.stream.writeStatus !== 'writable') throw this.#overflow ?? new ConnectionLostError(`Stream is ${this.stream.writeStatus}`)
    const bytes = encodeFrame(frame, this.#maxFrameBytes)
    this.#queue.push(bytes)
    this.#queuedBytes += bytes.byteLength
    this.#account()
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      queueMicrotask(() => {
        this.#flushScheduled = false
        this.#flush()
      })
    }
  }

  /** Resolves when the write queue is below the high-water mark; rejects if the stream closes or the signal aborts. */
  async waitWritable (options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    while (this.#queuedBytes + this.stream.writeBufferLength >= this.#highWaterMark) {
      if (this.stream.writeStatus !== 'writable') throw new ConnectionLostError()
      if (options.signal?.aborted === true) throw new OperationAbortedError()
      const { promise, resolve } = Promise.withResolvers<void>()
      this.#capacityWaiters.push(resolve)
      const onAbort = (): void => { resolve() }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await promise
      } finally {
        options.signal?.removeEventListener('abort', onAbort)
      }
    }
  }

  /** Sends every queued frame (waiting for the transport to drain), then closes our writable side. */
  async close (options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    this.#flush()
    while (this.#queue.length > 0 && this.stream.writeStatus === 'writable') {
      if (options.signal?.aborted === true) break
      const { promise, resolve } = Promise.withResolvers<void>()
      const onEvent = (): void => { resolve() }
      this.stream.addEventListener('drain', onEvent, { once: true })
      this.stream.addEventListener('close', onEvent, { once: true })
      options.signal?.addEventListener('abort', onEvent, { once: true })
      try {
        await promise
      } finally {
        this.stream.removeEventListener('drain', onEvent)
        this.stream.removeEventListener('close', onEvent)
        options.signal?.removeEventListener('abort', onEvent)
      }
      this.#flush()
    }
    try {
      await this.stream.close(options.signal === undefined ? {} : { signal: options.signal })
    } catch (err) {
      this.stream.abort(toError(err))
    }
  }

  /** Resets the stream with an error. */
  abort (err: Error): void {
    this.stream.abort(err)
    this.#finishRead(err)
    this.#releaseWaiters()
  }

  #onData (data: Uint8Array | Uint8ArrayList): void {
    if (this.#ended) return
    try {
      this.#decoder.push(data)
      let next = this.#decoder.next()
      while (next !== undefined) {
        this.#deliver(next.value)
        if (this.#ended) return
        next = this.#decoder.next()
      }
    } catch (err) {
      this.#log('closing stream %s after bad input: %s', this.stream.id, (err as Error).message)
      this.abort(err as Error)
    }
    this.#account()
  }

  #deliver (frame: unknown): void {
    if (this.#frameWaiter !== undefined) {
      const w = this.#frameWaiter
      this.#frameWaiter = undefined
      w.resolve(frame)
    } else if (this.#onFrame !== undefined) {
      this.#onFrame(frame)
    } else {
      this.#pendingFrames.push(frame)
      const limit = this.#pendingLimit
      if (limit !== undefined && this.#pendingFrames.length > limit.max) {
        const err = this.#overflow = limit.error()
        this.#log('resetting stream %s: %s', this.stream.id, err.message)
        this.#pendingFrames = []
        this.abort(err)
      }
    }
  }

  #finishRead (err?: Error): void {
    if (this.#ended) return
    if (err === undefined) {
      try {
        this.#decoder.end()
      } catch (e) {
        err = e as Error
      }
    }
    this.#ended = true
    this.#endError = err
    this.#frameWaiter?.reject(err ?? new ConnectionLostError('Stream ended before a frame arrived'))
    this.#frameWaiter = undefined
    if (this.#onEnd !== undefined && this.#pendingFrames.length === 0) this.#onEnd(err)
  }

  #flush (): void {
    if (this.#needsDrain || this.#queue.length === 0) {
      this.#notifyCapacity()
      return
    }
    if (this.stream.writeStatus !== 'writable') {
      this.#queue = []
      this.#queuedBytes = 0
      this.#releaseWaiters()
      return
    }
    let chunk: Uint8Array
    if (this.#queue.length === 1) {
      chunk = this.#queue[0] as Uint8Array
    } else {
      chunk = new Uint8Array(this.#queuedBytes)
      let o = 0
      for (const b of this.#queue) { chunk.set(b, o); o += b.byteLength }
    }
    this.#queue = []
    this.#queuedBytes = 0
    try {
      if (!this.stream.send(chunk)) this.#needsDrain = true
    } catch (err) {
      this.abort(toError(err))
      return
    }
    this.#notifyCapacity()
  }

  /** Charges the budget with what we hold now, pausing reading while it is spent. */
  #account (): void {
    const budget = this.#budget
    if (budget === undefined) return
    const held = this.stream.status === 'closed' || this.stream.status === 'aborted' || this.stream.status === 'reset'
      ? 0
      : this.#queuedBytes + this.stream.writeBufferLength + this.#decoder.bufferedBytes
    budget.charge(held - this.#charged)
    this.#charged = held
    if (!budget.over || this.#paused || this.#ended) return
    this.#paused = true
    this.stream.pause()
    this.whenUnderBudget(() => {
      this.#paused = false
      // the release may come from another stream's close while the connection goes down:
      // resuming then sends a window update on a closed connection, which throws
      if (this.stream.readStatus === 'paused') {
        try { this.stream.resume() } catch (err) { this.#log('resume after the budget was released failed: %s', toError(err).message) }
      }
    })
  }

  /** Gives back everything charged (the stream closed). */
  #release (): void {
    this.#budget?.charge(-this.#charged)
    this.#charged = 0
  }

  #notifyCapacity (): void {
    this.#account()
    if (this.#capacityWaiters.length === 0) return
    if (this.#queuedBytes + this.stream.writeBufferLength < this.#highWaterMark || this.stream.writeStatus !== 'writable') {
      this.#releaseWaiters()
    }
  }

  #releaseWaiters (): void {
    const waiters = this.#capacityWaiters
    this.#capacityWaiters = []
    for (const w of waiters) w()
  }
}
