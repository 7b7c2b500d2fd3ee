/**
 * The RPC and control-message protocols of the served subnets
 * (`/subwire/sn/<netuid>/rpc/1.0.0`, `/subwire/sn/<netuid>/msg/1.0.0`): the registered
 * handlers, the server on each inbound stream, and one long-lived client stream per
 * connection and protocol for what we send.
 *
 * @packageDocumentation
 */
import { checkMessageId } from './messages.ts'
import { MAX_TYPE_LENGTH, msgProtocol, rpcProtocol } from '../constants.ts'
import { utf8Length } from '../wire/fields.ts'
import { ConnectionLostError, InvalidConfigError, NotAuthenticatedError, SubnetFirewallError, SubnetNotServedError, toError, isConnectionLost } from '../errors/index.ts'
import { E2ePurpose } from '../encryption/envelope.ts'
import { BudgetScopes } from '../wire/budget.ts'
import type { ByteBudget } from '../wire/budget.ts'
import { FramedStream } from '../wire/framed-stream.ts'
import { RpcClient } from './client.ts'
import { refuseChannel } from './frames.ts'
import { RpcServer } from './server.ts'
import { FairScheduler } from './scheduler.ts'
import type { Authenticator } from '../auth/authenticator.ts'
import type { Session } from '../auth/session.ts'
import type { AbortOptions } from '../abort.ts'
import type { E2eSealing } from '../encryption/sealing.ts'
import type { HandleOptions, MessageOptions, SubwireRequestOptions, RequestServed, SendOptions } from '../types.ts'
import type { MessageInbox } from './messages.ts'
import type { Caller, RequestLimiter, RpcHandler } from './types.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/** What the {@link RpcService} is given. */
export interface RpcServiceComponents {
  /** The sessions. */
  auth: Authenticator
  /** End-to-end encryption for a verified remote. */
  sealing: E2eSealing
  /** Delivers control messages to the application. */
  messages: MessageInbox
  /** The `subwire:rpc` logger. */
  log: Logger
  /** Hears of each request served or sent on a connection (the connection table's idle ranking). */
  onActivity?: ((connectionId: string) => void) | undefined
  /** Hears of every request and message served here (the engine's `request:served` event). */
  onServed?: ((served: RequestServed) => void) | undefined
  /** A session better suited to a large transfer to the same remote (see `Connector.bulkSession`); none: the session reached. */
  bulkSession?: ((session: Session, options: AbortOptions) => Promise<Session>) | undefined
}

/** Configuration of the {@link RpcService}. */
export interface RpcServiceInit {
  /** Subnets this peer serves. */
  netuids: number[]
  /** Requests one connection may have in flight here. */
  maxConcurrent: number
  /** Handlers running at once, every caller together; beyond, callers take turns. */
  maxHandlers: number
  /** Default reply deadline of outgoing requests. */
  requestTimeoutMs: number
  /** Deadline of a handshake (and of opening a stream). */
  handshakeTimeoutMs: number
  /** Largest frame. */
  maxFrameBytes: number
  /** Encrypt requests and messages by default. */
  encryptRequests: boolean
  /** Encrypt control messages by default. */
  encryptMessages: boolean
  /** Refuse plaintext requests and messages. */
  requireEncryption: boolean
  /** Bytes of queued replies and unfinished frames one connection may make us hold before its streams pause reading. */
  connectionBudgetBytes: number
  /** The same, for all connections of one PeerId together. */
  peerBudgetBytes: number
  /** Requests whose body is this large or larger go over {@link RpcServiceComponents.bulkSession}. */
  bulkMinRequestBytes: number
}

/**
 * Whether a request body encodes to at least `min` bytes, judged cheaply from below: byte
 * arrays and strings by their length, numbers as one byte each, two levels of arrays and
 * objects deep; the walk stops once `min` is reached.
 */
function atLeast (body: unknown, min: number): boolean {
  let n = 0
  const walk = (v: unknown, depth: number): boolean => {
    if (ArrayBuffer.isView(v)) n += v.byteLength
    else if (v instanceof ArrayBuffer) n += v.byteLength
    else if (typeof v === 'string') n += v.length
    else if (typeof v === 'number') n += 1
    else if (depth < 2 && v !== null && typeof v === 'object') {
      for (const x of Array.isArray(v) ? v : v instanceof Map ? v.values() : Object.values(v)) {
        if (walk(x, depth + 1)) return true
      }
    }
    return n >= min
  }
  return walk(body, 0)
}

/** Dead connections (still marked open) skipped for one request before it fails. */
const MAX_STALE_SESSIONS = 4

/** Handlers, servers and clients of the RPC and message protocols. */
export class RpcService {
  readonly #c: RpcServiceComponents
  readonly #init: RpcServiceInit
  readonly #handlers = new Map<number | '*', Map<string, RpcHandler>>()
  /** Client streams per connection id and protocol. */
  readonly #clients = new Map<string, Map<string, Promise<RpcClient>>>()
  /** Requests in flight here per connection id, across its channels. */
  readonly #limiters = new Map<string, RequestLimiter>()
  /** Byte budgets per connection, each inside its PeerId's. */
  readonly #budgets: BudgetScopes
  /** Handler turns, fair between callers (hotkeys). */
  readonly #turns: FairScheduler

  constructor (components: RpcServiceComponents, init: RpcServiceInit) {
    this.#c = components
    this.#init = init
    this.#budgets = new BudgetScopes(init.connectionBudgetBytes, init.peerBudgetBytes)
    this.#turns = new FairScheduler({ maxRunning: init.maxHandlers })
  }

  /** Registers an RPC handler for `type` on one subnet or on every configured one. */
  handle (type: string, handler: RpcHandler, options: HandleOptions = {}): void {
    if (type.length === 0 || utf8Length(type) > MAX_TYPE_LENGTH) throw new InvalidConfigError(`RPC type must be 1 to ${MAX_TYPE_LENGTH} UTF-8 bytes`)
    const key = options.netuid ?? '*'
    const netuids = this.#init.netuids
    if (key !== '*' && !netuids.includes(key)) throw new SubnetNotServedError(`Cannot handle "${type}" on subnet ${key}: this peer serves ${netuids.join(', ') || 'no subnet'}`, { netuid: key })
    let map = this.#handlers.get(key)
    if (map === undefined) { map = new Map(); this.#handlers.set(key, map) }
    map.set(type, handler)
  }

  /** Removes a handler. */
  unhandle (type: string, options: HandleOptions = {}): void {
    this.#handlers.get(options.netuid ?? '*')?.delete(type)
  }

  /** Serves an inbound RPC or message stream. */
  async serve (stream: Stream, connection: Connection, netuid: number, kind: 'rpc' | 'msg'): Promise<void> {
    const framed = new FramedStream(stream, { maxFrameBytes: this.#init.maxFrameBytes, log: this.#c.log, budget: this.#budget(connection) })
    const session = await this.#c.auth.sessionOf(connection)
    if (session === undefined) {
      await refuseChannel(framed, new NotAuthenticatedError(`${stream.protocol} refused: the connection has not completed the subwire handshake`))
      return
    }
    if (!session.admitted.has(netuid)) {
      await refuseChannel(framed, new SubnetFirewallError(`${session.remote.ss58} is not admitted to subnet ${netuid} on this peer`))
      return
    }
    const blocked = this.#c.auth.blocked(session)
    if (blocked !== undefined) {
      await refuseChannel(framed, blocked)
      return
    }
    const caller: Caller = { ss58: session.remote.ss58, peerId: session.remote.peerId, netuid }
    new RpcServer(framed, { // eslint-disable-line no-new
      caller,
      limiter: this.#limiter(connection.id),
      // control messages are delivered outside the turns: a handler waiting for a message from its caller must not hold up that message
      scheduler: kind === 'rpc' ? this.#turns : undefined,
      log: this.#c.log,
      e2e: this.#c.sealing.requestOpener(caller, kind),
      requireEncryption: this.#init.requireEncryption,
      onServed: (s) => {
        this.#c.onActivity?.(connection.id)
        this.#c.onServed?.({ ...s, kind, from: caller.ss58, netuid })
      },
      resolve: (type) => {
        // checked per request too: a block added while this channel is open refuses what comes next
        const refused = this.#c.auth.blocked(session)
        if (refused !== undefined) return () => { throw refused }
        return kind === 'rpc' ? this.#handlers.get(netuid)?.get(type) ?? this.#handlers.get('*')?.get(type) : this.#c.messages.handler
      }
    })
  }

  /** Sends a request to the session `reach` resolves, and resolves with the reply body. */
  async request (reach: () => Promise<Session>, type: string, body: unknown, options: SubwireRequestOptions = {}): Promise<unknown> {
    const { client, session } = await this.#client(this.#bulk(reach, body, options), 'rpc', options)
    const e2e = (options.encrypt ?? this.#init.encryptRequests) ? this.#c.sealing.requestSealer(session, E2ePurpose.Request, type) : undefined
    return await client.request(type, body, { signal: options.signal, timeout: options.timeout ?? this.#init.requestTimeoutMs, e2e })
  }

  /** Sends a request whose handler streams its reply; yields each chunk. */
  async * requestStream (reach: () => Promise<Session>, type: string, body: unknown, options: SubwireRequestOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const { client, session } = await this.#client(this.#bulk(reach, body, options), 'rpc', options)
    const e2e = (options.encrypt ?? this.#init.encryptRequests) ? this.#c.sealing.requestSealer(session, E2ePurpose.Request, type) : undefined
    yield * client.requestStream(type, body, { signal: options.signal, timeout: options.timeout ?? this.#init.requestTimeoutMs, e2e })
  }

  /** Sends a control message; resolves with its id once the receiver acked it. */
  async message (reach: () => Promise<Session>, action: string, payload: unknown, options: MessageOptions = {}): Promise<string> {
    checkMessageId(options.id)
    const id = options.id ?? crypto.randomUUID()
    const { client, session } = await this.#client(reach, 'msg', options)
    const e2e = (options.encrypt ?? this.#init.encryptMessages) ? this.#c.sealing.requestSealer(session, E2ePurpose.Message, id) : undefined
    await client.request(action, payload, { signal: options.signal, timeout: options.timeout ?? this.#init.requestTimeoutMs, messageId: id, e2e })
    return id
  }

  /** Forgets the streams, the request count and the byte budget of a closed connection. */
  forget (connectionId: string): void {
    this.#clients.delete(connectionId)
    this.#limiters.delete(connectionId)
    this.#budgets.forget(connectionId)
  }

  /** Bytes held for remotes right now (queued replies, unfinished frames), all connections together. */
  get bufferedBytes (): number {
    return this.#budgets.used
  }

  #budget (connection: Connection): ByteBudget {
    return this.#budgets.of(connection.id, connection.remotePeer.toString())
  }

  /** Closes every client stream. */
  async close (): Promise<void> {
    const closing: Array<Promise<void>> = []
    for (const clients of this.#clients.values()) {
      for (const c of clients.values()) closing.push(c.then(async (client) => { await client.close() }, () => {}))
    }
    this.#clients.clear()
    this.#limiters.clear()
    this.#budgets.clear()
    await Promise.allSettled(closing)
  }

  #limiter (connectionId: string): RequestLimiter {
    let limiter = this.#limiters.get(connectionId)
    if (limiter !== undefined) return limiter
    const max = this.#init.maxConcurrent
    let inFlight = 0
    limiter = {
      tryAcquire: () => {
        if (inFlight >= max) return false
        inFlight++
        return true
      },
      release: () => { inFlight-- }
    }
    this.#limiters.set(connectionId, limiter)
    return limiter
  }

  /** `reach`, or the bulk session to the same remote for a large request (see {@link SubwireRequestOptions.bulk}). */
  #bulk (reach: () => Promise<Session>, body: unknown, options: SubwireRequestOptions): () => Promise<Session> {
    const bulk = this.#c.bulkSession
    if (bulk === undefined || options.bulk === false || (options.bulk !== true && !atLeast(body, this.#init.bulkMinRequestBytes))) return reach
    return async () => await bulk(await reach(), options)
  }

  async #client (reach: () => Promise<Session>, kind: 'rpc' | 'msg', options: SendOptions, stale = 0): Promise<{ client: RpcClient, session: Session }> {
    const netuid = options.netuid ?? this.#init.netuids[0]
    if (netuid === undefined) throw new InvalidConfigError('No netuid given and this peer serves no subnet')
    const session = await reach()
    this.#c.onActivity?.(session.connection.id)
    if (!session.attestation.netuids.includes(netuid)) {
      throw new SubnetNotServedError(`${session.remote.ss58} does not serve subnet ${netuid} (it serves ${session.attestation.netuids.join(', ') || 'none'})`, { netuid })
    }
    const protocol = kind === 'rpc' ? rpcProtocol(netuid) : msgProtocol(netuid)
    let clients = this.#clients.get(session.connection.id)
    if (clients === undefined) { clients = new Map(); this.#clients.set(session.connection.id, clients) }
    const existing = clients.get(protocol)
    if (existing !== undefined) {
      const client = await existing
      if (!client.closed) return { client, session }
      if (clients.get(protocol) === existing) clients.delete(protocol)
      return await this.#client(reach, kind, options, stale)
    }
    const opening = this.#open(session, protocol, netuid)
    clients.set(protocol, opening)
    const own = clients
    opening.catch(() => { if (own.get(protocol) === opening) own.delete(protocol) })
    try {
      return { client: await opening, session }
    } catch (err) {
      // a connection still marked open whose muxer has closed under it (seen on a listener
      // after the remote refused the handshake it had answered), or one the remote closed
      // while we opened the stream (it blocked us, say): close it, reach the peer again, and
      // the new handshake says why
      const e = toError(err)
      if (stale >= MAX_STALE_SESSIONS || !isConnectionLost(e)) throw e
      this.#c.log('connection %s to %s cannot open streams (%s): closing it, reaching the peer again', session.connection.id, session.remote.ss58, e.message)
      if (session.connection.status === 'open') session.connection.abort(e)
      return await this.#client(reach, kind, options, stale + 1)
    }
  }

  async #open (session: Session, protocol: string, netuid: number): Promise<RpcClient> {
    let stream: Stream
    try {
      // optimistic protocol selection (the id goes out with the first request, saving a round
      // trip): the remote's attestation already said it serves this subnet
      stream = await session.connection.newStream(protocol, {
        signal: AbortSignal.timeout(this.#init.handshakeTimeoutMs * 2),
        negotiateFully: false,
        runOnLimitedConnection: false
      })
    } catch (err) {
      const e = toError(err)
      if (e.name === 'UnsupportedProtocolError') {
        throw new SubnetNotServedError(`${session.remote.ss58} does not serve subnet ${netuid}`, { netuid })
      }
      throw new ConnectionLostError(`Could not open ${protocol} to ${session.remote.ss58}: ${e.message}`, { cause: e })
    }
    const framed = new FramedStream(stream, { maxFrameBytes: this.#init.maxFrameBytes, log: this.#c.log, budget: this.#budget(session.connection) })
    return new RpcClient(framed, { maxInFlight: session.maxConcurrent, log: this.#c.log })
  }
}
