/**
 * The operations of the local API on the peer itself: identity, peers and the address
 * book, requests (plain and streamed), messages, the subnet fan-out's place, handlers
 * served by the client, and the event subscription. Files and the outbox are in
 * `transfers.ts`, the ACL in `acl.ts`.
 *
 * @packageDocumentation
 */
import { errorToWire, isSs58 } from '@subwire/shared'
import { API_VERSION } from './constants.ts'
import { ApiProtocolError } from './errors.ts'
import { API_EVENT_TYPES } from './events.ts'
import type { ApiConnection, OpContext, Operation } from './connection.ts'
import type { EventHub } from './events.ts'
import type { HandlerRegistry } from './handlers.ts'
import type { NodePeer } from '../node-peer.ts'
import type { FanOutOptions, RemotePeer, SubnetFanOut } from '@subwire/shared'

/** What the operations work on. */
export interface OperationComponents {
  peer: NodePeer
  home: string
  handlers: HandlerRegistry
  events: EventHub
}

const remoteJson = (peer: NodePeer, r: RemotePeer): Record<string, unknown> => {
  const rtt = peer.rtt(r.peerId)
  return { ss58: r.ss58, peerId: r.peerId, netuids: r.netuids, direction: r.direction, remoteAddr: r.remoteAddr, authenticatedAt: r.authenticatedAt, ...(rtt === undefined ? {} : { rttMs: rtt }) }
}

/** `id`, `peers`, `book.*`, `connect`. */
export function identityOperations ({ peer }: OperationComponents): Array<[string, Operation]> {
  return [
    ['id', async () => ({ ss58: peer.ss58, peerId: peer.peerId, netuids: peer.subwire.netuids, multiaddrs: peer.multiaddrs, apiVersion: API_VERSION })],
    ['peers', async () => peer.peers().map((r) => remoteJson(peer, r))],
    ['connect', async (a, ctx) => remoteJson(peer, await peer.connect(a.str('dest'), { signal: ctx.signal }))],
    ['book.list', async (_a, ctx) => await peer.addressBook.list({ signal: ctx.signal })],
    ['book.add', async (a, ctx) => {
      const ss58 = a.str('ss58')
      if (!isSs58(ss58)) throw new ApiProtocolError(`book.add: "${ss58}" is not an SS58 address`)
      const match = /^(\/.+)\/p2p\/([^/]+)$/.exec(a.str('multiaddr'))
      if (match === null) throw new ApiProtocolError('book.add: the multiaddr must end in /p2p/<PeerId>')
      const old = await peer.addressBook.get(ss58, { signal: ctx.signal })
      const addrs = [match[1] as string, ...(old !== undefined && old.peerId === match[2] ? old.addrs : [])]
      const entry = { ss58, peerId: match[2] as string, addrs: [...new Set(addrs)], updatedAt: Date.now() }
      await peer.addressBook.put(entry, { signal: ctx.signal })
      return entry
    }],
    ['book.remove', async (a, ctx) => ({ removed: await peer.addressBook.delete(a.str('ss58'), { signal: ctx.signal }) })]
  ]
}

/** `request`, `request_stream`, `message`, `query_subnet`, `message_subnet`. */
export function rpcOperations ({ peer }: OperationComponents): Array<[string, Operation]> {
  return [
    ['request', async (a, ctx) => await peer.request(a.str('dest'), a.str('type'), a.value('body'), {
      netuid: a.optInt('netuid'), timeout: a.optNum('timeout'), encrypt: a.optBool('encrypt'), bulk: a.optBool('bulk'), signal: ctx.signal
    })],
    ['request_stream', async (a, ctx) => {
      let n = 0
      for await (const chunk of peer.requestStream(a.str('dest'), a.str('type'), a.value('body'), {
        netuid: a.optInt('netuid'), timeout: a.optNum('timeout'), encrypt: a.optBool('encrypt'), bulk: a.optBool('bulk'), signal: ctx.signal
      })) {
        ctx.emit({ t: 'chunk', value: chunk ?? null })
        n++
      }
      return { chunks: n }
    }],
    ['message', async (a, ctx) => {
      const options = { netuid: a.optInt('netuid'), timeout: a.optNum('timeout'), encrypt: a.optBool('encrypt'), signal: ctx.signal, ...(a.optStr('messageId') === undefined ? {} : { id: a.optStr('messageId') }) }
      const queue = a.optBool('queue') === true
      const id = await peer.message(a.str('dest'), a.str('action'), a.value('payload'), { ...options, queue })
      return { id, queued: queue }
    }],
    // a result per member as it arrives, then the summary as the operation's result
    ['query_subnet', async (a, ctx) => await fanOut(peer.querySubnet(a.int('netuid'), a.str('type'), a.value('body'), fanOutOptions(a, ctx)), ctx)],
    ['message_subnet', async (a, ctx) => await fanOut(peer.messageSubnet(a.int('netuid'), a.str('action'), a.value('payload'), fanOutOptions(a, ctx)), ctx)]
  ]
}

/** The fan-out options of `query_subnet` / `message_subnet`. */
function fanOutOptions (a: Parameters<Operation>[0], ctx: OpContext): FanOutOptions {
  const members = a.optStrList('members')
  return {
    signal: ctx.signal,
    ...(a.optNum('timeout') === undefined ? {} : { timeout: a.optNum('timeout') }),
    ...(a.optInt('concurrency') === undefined ? {} : { concurrency: a.optInt('concurrency') }),
    ...(members === undefined ? {} : { members }),
    ...(a.optBool('stream') === undefined ? {} : { stream: a.optBool('stream') }),
    ...(a.optBool('encrypt') === undefined ? {} : { encrypt: a.optBool('encrypt') })
  }
}

/** Streams a fan-out's results (`{ t: 'member', value }`, errors typed by name) and returns its summary. */
async function fanOut (run: SubnetFanOut, ctx: OpContext): Promise<unknown> {
  for await (const r of run) {
    ctx.emit({ t: 'member', value: r.ok ? { ss58: r.ss58, ok: true, body: r.body ?? null, ms: r.ms } : { ss58: r.ss58, ok: false, reason: r.reason, error: errorToWire(r.error), ms: r.ms } })
  }
  const s = await run.summary
  return { ...s, p50Ms: Number.isFinite(s.p50Ms) ? s.p50Ms : null, p99Ms: Number.isFinite(s.p99Ms) ? s.p99Ms : null }
}

/** The connection a client operation needs (the HTTP surface has none: it serves no handlers or subscriptions). */
function connOf (ctx: OpContext): ApiConnection {
  if (ctx.conn === undefined) throw new ApiProtocolError('This operation needs a persistent API connection, not HTTP')
  return ctx.conn
}

/** `handle`, `unhandle`, `handle_messages`, `unhandle_messages`, `subscribe`. */
export function clientOperations ({ handlers, events }: OperationComponents): Array<[string, Operation]> {
  return [
    ['handle', async (a, ctx) => {
      const type = a.str('type')
      handlers.handle(connOf(ctx), type, { netuid: a.optInt('netuid'), stream: a.optBool('stream') === true })
      return { type }
    }],
    ['unhandle', async (a, ctx) => ({ removed: handlers.unhandle(connOf(ctx), a.str('type'), a.optInt('netuid')) })],
    ['handle_messages', async (a, ctx) => {
      const actions = a.strList('actions')
      handlers.handleMessages(connOf(ctx), actions)
      return { actions }
    }],
    ['unhandle_messages', async (a, ctx) => {
      handlers.unhandleMessages(connOf(ctx), a.strList('actions'))
      return null
    }],
    ['served', async (_a, ctx) => handlers.served(connOf(ctx))],
    // no result until the client cancels it (or disconnects): events arrive on its id
    ['subscribe', async (a, ctx) => {
      const types = a.optStrList('types')
      const unknown = types?.filter((t) => !(API_EVENT_TYPES as readonly string[]).includes(t)) ?? []
      if (unknown.length > 0) throw new ApiProtocolError(`subscribe: unknown event type(s) ${unknown.join(', ')}; known: ${API_EVENT_TYPES.join(', ')}`)
      const off = events.subscribe((event) => { ctx.emit({ t: 'event', event }) }, types)
      ctx.emit({ t: 'subscribed', types: types ?? [...API_EVENT_TYPES] })
      try {
        await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
      } finally {
        off()
      }
      return { ended: true }
    }]
  ]
}
