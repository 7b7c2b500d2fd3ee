/**
 * Handlers served by API clients. A client registers RPC types (and message actions); the
 * peer registers a forwarding handler for each, and every verified inbound request goes to
 * that client as a `call` frame with the verified caller (SS58, PeerId, netuid). The
 * client's `reply` (a value or a typed error), or its `chunk`s and `end` for a streamed
 * reply, go back to the caller. The caller's cancel or timeout reaches the client as
 * `cancel`. When the client goes away its types are unregistered at once: calls in flight
 * fail with `UnknownRpcTypeError` naming the reason, later ones are refused the same way
 * by the engine, never left to hang.
 *
 * @packageDocumentation
 */
import { OperationAbortedError, UnknownRpcTypeError } from '@subwire/shared'
import { API_STREAM_WINDOW } from './constants.ts'
import { ApiProtocolError, HandlerTakenError } from './errors.ts'
import type { ApiConnection, NoticeHandler } from './connection.ts'
import type { ApiFrame } from './framing.ts'
import type { NodePeer } from '../node-peer.ts'
import type { Caller, HandlerContext, SubwireMessage } from '@subwire/shared'
import type { Logger } from '@libp2p/interface'

/** A call forwarded to a client, waiting for its answer. */
interface PendingCall {
  conn: ApiConnection
  type: string
  /** A plain reply, or the end of a stream (undefined). */
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  /** Streamed replies only. */
  chunk?: (value: unknown) => void
}

/** Where a served type or action lives. */
interface Served { conn: ApiConnection, netuid: number | undefined, stream: boolean }

/** Rebuilds the error a client handler raised: its name and message travel on as they are. */
function clientError (raw: unknown): Error {
  const w = (raw ?? {}) as { name?: unknown, message?: unknown, netuid?: unknown }
  const err = new Error(typeof w.message === 'string' ? w.message : 'handler failed')
  err.name = typeof w.name === 'string' && w.name.length > 0 ? w.name : 'Error'
  if (typeof w.netuid === 'number') Object.assign(err, { netuid: w.netuid })
  return err
}

/** A small queue of streamed chunks between the client and the engine's reply loop. */
class ChunkQueue {
  readonly #items: Array<{ value: unknown } | { done: true } | { error: Error }> = []
  #wake: (() => void) | undefined

  push (item: { value: unknown } | { done: true } | { error: Error }): void {
    this.#items.push(item)
    this.#wake?.()
  }

  async next (): Promise<{ value: unknown } | { done: true }> {
    while (this.#items.length === 0) await new Promise<void>((resolve) => { this.#wake = resolve })
    this.#wake = undefined
    const item = this.#items.shift() as { value: unknown } | { done: true } | { error: Error }
    if ('error' in item) throw item.error
    return item
  }
}

/** The types and actions API clients serve, and the calls in flight to them. */
export class HandlerRegistry {
  readonly #peer: NodePeer
  readonly #log: Logger
  readonly #types = new Map<string, Served>()
  readonly #actions = new Map<string, ApiConnection>()
  readonly #calls = new Map<number, PendingCall>()
  #nextCall = 1
  #offMessage: (() => void) | undefined

  constructor (components: { peer: NodePeer, log: Logger }) {
    this.#peer = components.peer
    this.#log = components.log
  }

  /** Starts forwarding messages whose action a client serves (the sender's ack waits for the client). */
  start (): void {
    this.#offMessage ??= this.#peer.on('message', async (m) => { await this.#forwardMessage(m) })
  }

  /** Stops forwarding; every call in flight fails. */
  stop (): void {
    this.#offMessage?.()
    this.#offMessage = undefined
    for (const conn of new Set([...this.#types.values()].map((s) => s.conn))) this.release(conn)
  }

  /** The frames a client answers calls with: `reply`, `chunk`, `end`. */
  notices (): Map<string, NoticeHandler> {
    return new Map<string, NoticeHandler>([
      ['reply', (conn, f) => { this.#onReply(conn, f) }],
      ['chunk', (conn, f) => { this.#pending(conn, f, 'chunk').chunk?.(f.value ?? null) }],
      ['end', (conn, f) => { this.#settle(conn, f, (c) => { c.resolve(undefined) }) }]
    ])
  }

  /** Serves `type` (on one subnet or all) from `conn`; `stream`: its replies are streamed. */
  handle (conn: ApiConnection, type: string, options: { netuid?: number | undefined, stream?: boolean }): void {
    if (type === 'echo') throw new HandlerTakenError('"echo" is built into the peer')
    const key = `${type}\0${options.netuid ?? '*'}`
    const held = this.#types.get(key)
    if (held !== undefined && held.conn !== conn) throw new HandlerTakenError(`"${type}" is already served by another API client`)
    const stream = options.stream === true
    this.#peer.handle(type, stream ? this.#streamHandler(conn, type) : this.#plainHandler(conn, type), { netuid: options.netuid })
    this.#types.set(key, { conn, netuid: options.netuid, stream })
  }

  /** Stops serving `type` (if `conn` serves it). */
  unhandle (conn: ApiConnection, type: string, netuid: number | undefined): boolean {
    const key = `${type}\0${netuid ?? '*'}`
    if (this.#types.get(key)?.conn !== conn) return false
    this.#types.delete(key)
    this.#peer.unhandle(type, { netuid })
    return true
  }

  /** Sends messages with these actions (`*`: every action no other client serves) to `conn`. */
  handleMessages (conn: ApiConnection, actions: string[]): void {
    for (const a of actions) {
      const held = this.#actions.get(a)
      if (held !== undefined && held !== conn) throw new HandlerTakenError(`Message action "${a}" is already served by another API client`)
    }
    for (const a of actions) this.#actions.set(a, conn)
  }

  /** Stops sending these actions to `conn`. */
  unhandleMessages (conn: ApiConnection, actions: string[]): void {
    for (const a of actions) if (this.#actions.get(a) === conn) this.#actions.delete(a)
  }

  /** What `conn` serves. */
  served (conn: ApiConnection): { types: string[], actions: string[] } {
    return {
      types: [...this.#types.entries()].filter(([, s]) => s.conn === conn).map(([k]) => k.split('\0')[0] as string),
      actions: [...this.#actions.entries()].filter(([, c]) => c === conn).map(([a]) => a)
    }
  }

  /** The client went away: unregister everything it served and fail its calls in flight. */
  release (conn: ApiConnection): void {
    for (const [key, s] of [...this.#types.entries()]) {
      if (s.conn !== conn) continue
      this.#types.delete(key)
      this.#peer.unhandle(key.split('\0')[0] as string, { netuid: s.netuid })
    }
    for (const [a, c] of [...this.#actions.entries()]) if (c === conn) this.#actions.delete(a)
    for (const [n, call] of [...this.#calls.entries()]) {
      if (call.conn !== conn) continue
      this.#calls.delete(n)
      call.reject(new UnknownRpcTypeError(`The handler of "${call.type}" went away (its API client disconnected)`))
    }
  }

  #callFrame (n: number, kind: 'rpc' | 'message', type: string, body: unknown, caller: Caller, extra: ApiFrame = {}): ApiFrame {
    return { t: 'call', call: n, kind, type, body: body ?? null, caller: { ss58: caller.ss58, peerId: caller.peerId, netuid: caller.netuid }, ...extra }
  }

  /** Sends a call to `conn` and registers how its answer settles; the caller's signal cancels it. */
  #open (conn: ApiConnection, frame: (n: number) => ApiFrame, call: Omit<PendingCall, 'conn'>, signal?: AbortSignal): number {
    const n = this.#nextCall++
    if (conn.closed) throw new UnknownRpcTypeError(`The handler of "${call.type}" went away (its API client disconnected)`)
    const onAbort = (): void => {
      if (!this.#calls.delete(n)) return
      conn.send({ t: 'cancel', call: n, reason: signal?.reason instanceof Error ? signal.reason.message : 'cancelled' })
      call.reject(signal?.reason instanceof Error ? signal.reason : new OperationAbortedError())
    }
    const done = (): void => { signal?.removeEventListener('abort', onAbort) }
    this.#calls.set(n, {
      conn,
      type: call.type,
      resolve: (v) => { done(); call.resolve(v) },
      reject: (e) => { done(); call.reject(e) },
      ...(call.chunk === undefined ? {} : { chunk: call.chunk })
    })
    signal?.addEventListener('abort', onAbort, { once: true })
    conn.send(frame(n))
    return n
  }

  #plainHandler (conn: ApiConnection, type: string) {
    return async (body: unknown, ctx: HandlerContext): Promise<unknown> => {
      return await new Promise((resolve, reject) => {
        this.#open(conn, (n) => this.#callFrame(n, 'rpc', type, body, ctx.caller, { stream: false }), { type, resolve, reject }, ctx.signal)
      })
    }
  }

  #streamHandler (conn: ApiConnection, type: string) {
    const registry = this
    return async function * (body: unknown, ctx: HandlerContext): AsyncGenerator<unknown, void, undefined> {
      const queue = new ChunkQueue()
      const n = registry.#open(conn, (k) => registry.#callFrame(k, 'rpc', type, body, ctx.caller, { stream: true, window: API_STREAM_WINDOW }), {
        type,
        resolve: () => { queue.push({ done: true }) },
        reject: (error) => { queue.push({ error }) },
        chunk: (value) => { queue.push({ value }) }
      }, ctx.signal)
      let taken = 0
      let finished = false
      try {
        for (;;) {
          const item = await queue.next()
          if ('done' in item) { finished = true; return }
          yield item.value
          // credit back half a window at a time: the client sends at most a window ahead
          if (++taken % (API_STREAM_WINDOW / 2) === 0) conn.send({ t: 'credit', call: n, n: API_STREAM_WINDOW / 2 })
        }
      } catch (err) {
        finished = true
        throw err
      } finally {
        if (!finished && registry.#calls.delete(n)) conn.send({ t: 'cancel', call: n, reason: 'the caller stopped reading' })
      }
    }
  }

  async #forwardMessage (m: SubwireMessage): Promise<void> {
    const conn = this.#actions.get(m.action) ?? this.#actions.get('*')
    if (conn === undefined) return
    await new Promise((resolve, reject) => {
      this.#open(conn, (n) => this.#callFrame(n, 'message', m.action, m.payload, m.caller, { messageId: m.id ?? null }), { type: m.action, resolve, reject })
    })
  }

  #pending (conn: ApiConnection, f: ApiFrame, what: string): PendingCall {
    const call = typeof f.call === 'number' ? this.#calls.get(f.call) : undefined
    // a late answer to a call that was cancelled or timed out is not an error: dropped
    if (call === undefined) return { conn, type: '', resolve: () => {}, reject: () => {}, chunk: () => {} }
    if (call.conn !== conn) throw new ApiProtocolError(`${what}: call ${String(f.call)} is not this connection's`)
    return call
  }

  #settle (conn: ApiConnection, f: ApiFrame, fn: (c: PendingCall) => void): void {
    const call = this.#pending(conn, f, 'reply')
    if (typeof f.call === 'number') this.#calls.delete(f.call)
    fn(call)
  }

  #onReply (conn: ApiConnection, f: ApiFrame): void {
    this.#settle(conn, f, (c) => {
      if (f.error !== undefined && f.error !== null) c.reject(clientError(f.error))
      else c.resolve(f.value ?? null)
    })
  }
}
