import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isRemoteError, NotAuthenticatedError } from '../src/errors/index.ts'
import { RpcClient } from '../src/rpc/client.ts'
import { refuseChannel } from '../src/rpc/frames.ts'
import { RpcServer } from '../src/rpc/server.ts'
import { framedPair, silentLog } from './fixtures/stub-duplex.ts'
import type { Caller, HandlerContext, RequestLimiter, RpcHandler } from '../src/rpc/types.ts'

const caller: Caller = { ss58: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY', peerId: '12D3KooWstub', netuid: 7 }

function limiter (max = 1024): RequestLimiter & { inFlight: number } {
  const l = {
    inFlight: 0,
    tryAcquire: () => { if (l.inFlight >= max) return false; l.inFlight++; return true },
    release: () => { l.inFlight-- }
  }
  return l
}

function channel (handlers: Record<string, RpcHandler>, options: { max?: number, maxInFlight?: number } = {}): { client: RpcClient, server: RpcServer, limits: ReturnType<typeof limiter> } {
  const { a, b } = framedPair()
  const limits = limiter(options.max)
  const server = new RpcServer(b, { caller, limiter: limits, log: silentLog, resolve: (type) => handlers[type] })
  const client = new RpcClient(a, { maxInFlight: options.maxInFlight ?? 64, log: silentLog })
  return { client, server, limits }
}

describe('RPC client and server over a stub duplex pair', () => {
  it('answers a request with the handler\'s reply, and tells the handler who called', async () => {
    let seen: HandlerContext | undefined
    const { client, server } = channel({ echo: (body, context) => { seen = context; return { back: body } } })
    assert.deepEqual(await client.request('echo', { x: 1 }), { back: { x: 1 } })
    assert.deepEqual(seen?.caller, caller)
    assert.equal(seen?.type, 'echo')
    await client.close()
    await server.close()
  })

  it('multiplexes concurrent requests by id and matches each reply to its request', async () => {
    const { client } = channel({ slow: async (n) => { await new Promise((resolve) => setTimeout(resolve, 10 - (n as number))); return (n as number) * 2 } })
    const replies = await Promise.all([1, 2, 3, 4, 5].map(async (n) => await client.request('slow', n)))
    assert.deepEqual(replies, [2, 4, 6, 8, 10])
    await client.close()
  })

  it('streams a reply longer than the credit window, in order', async () => {
    const { client } = channel({
      count: async function * (n) { for (let i = 0; i < (n as number); i++) yield i }
    })
    const got: unknown[] = []
    for await (const chunk of client.requestStream('count', 50)) got.push(chunk)
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i))
    await client.close()
  })

  it('rebuilds a remote subwire error as its own class, marked remote', async () => {
    const { client } = channel({})
    await assert.rejects(client.request('missing', null), (e: Error) => e.name === 'UnknownRpcTypeError' && isRemoteError(e))
    await client.close()
  })

  it('reports a handler\'s plain error as RemoteHandlerError with the remote name', async () => {
    const { client } = channel({ boom: () => { throw new TypeError('x is not a function') } })
    await assert.rejects(client.request('boom', null), (e: Error & { remoteName?: string }) => e.name === 'RemoteHandlerError' && e.remoteName === 'TypeError' && e.message === 'x is not a function')
    await client.close()
  })

  it('times a request out and aborts the handler at the same deadline', async () => {
    let aborted: unknown
    const { client } = channel({
      hang: async (_body, { signal }) => await new Promise((resolve) => { signal.addEventListener('abort', () => { aborted = signal.reason; resolve(null) }) })
    })
    await assert.rejects(client.request('hang', null, { timeout: 30 }), (e: Error) => e.name === 'RequestTimeoutError' && !isRemoteError(e))
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.ok(aborted instanceof Error, 'the handler saw its signal abort')
    await client.close()
  })

  it('cancels at the server when the caller aborts', async () => {
    let reason: unknown
    const { client, limits } = channel({
      hang: async (_body, { signal }) => await new Promise((resolve) => { signal.addEventListener('abort', () => { reason = signal.reason; resolve(null) }) })
    })
    const controller = new AbortController()
    const pending = client.request('hang', null, { signal: controller.signal })
    await new Promise((resolve) => setTimeout(resolve, 5))
    controller.abort()
    await assert.rejects(pending, (e: Error) => e.name === 'OperationAbortedError')
    await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal((reason as Error | undefined)?.name, 'OperationAbortedError')
    assert.equal(limits.inFlight, 0, 'the server released the request slot')
    await client.close()
  })

  it('refuses a request over the connection\'s limit with TooManyRequestsError', async () => {
    const { promise: gate, resolve: open } = Promise.withResolvers<void>()
    const { client } = channel({ wait: async () => { await gate; return 1 } }, { max: 1 })
    const first = client.request('wait', null)
    await new Promise((resolve) => setTimeout(resolve, 5))
    await assert.rejects(client.request('wait', null), (e: Error) => e.name === 'TooManyRequestsError')
    open()
    assert.equal(await first, 1)
    await client.close()
  })

  it('keeps at most maxInFlight requests outstanding and queues the rest locally', async () => {
    let running = 0
    let most = 0
    const { client } = channel({
      work: async () => { running++; most = Math.max(most, running); await new Promise((resolve) => setTimeout(resolve, 5)); running--; return null }
    }, { maxInFlight: 2 })
    await Promise.all(Array.from({ length: 6 }, async () => await client.request('work', null)))
    assert.equal(most, 2)
    await client.close()
  })

  it('fails every request on a channel the server refuses, with the refusal', async () => {
    const { a, b } = framedPair()
    const client = new RpcClient(a, { maxInFlight: 8, log: silentLog })
    const pending = client.request('echo', 1)
    await refuseChannel(b, new NotAuthenticatedError('no handshake'))
    await assert.rejects(pending, (e: Error) => e.name === 'NotAuthenticatedError' && e.message === 'no handshake')
    assert.equal(client.closed, true)
  })

  it('fails outstanding requests with ConnectionLostError when the stream closes', async () => {
    const { client, server } = channel({ hang: async () => await new Promise(() => {}) })
    const pending = client.request('hang', null)
    await new Promise((resolve) => setTimeout(resolve, 5))
    await server.close()
    await assert.rejects(pending, (e: Error) => e.name === 'ConnectionLostError')
  })
})
