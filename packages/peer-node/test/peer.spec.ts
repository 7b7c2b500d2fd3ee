import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  isAbortError, RemoteHandlerError, RequestTimeoutError, rpcProtocol, SubnetNotServedError, TooManyRequestsError,
  UnknownRpcTypeError, UnexpectedHotkeyError, InvalidDestinationError, UnknownDestinationError, PeerUnreachableError,
  ReplyKindError, FrameTooLargeError, InvalidConfigError, InvalidFrameError, msgProtocol
} from '@subwire/shared'
import { FramedStream, RpcClient } from '@subwire/shared/protocol'
import { addrOf, startPeer, waitFor } from './helpers.ts'
import type { NodePeer, NodeTransport } from '../src/index.ts'
import type { Caller } from '@subwire/shared'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const silentLogger = undefined
/** Bob's requests in flight per connection. */
const MAX_CONCURRENT = 64

for (const transport of ['quic', 'tcp'] as NodeTransport[]) {
  describe(`two peers over ${transport.toUpperCase()}`, () => {
    let alice: NodePeer
    let bob: NodePeer
    let bobAddr: string
    const seenCallers: Caller[] = []

    before(async () => {
      bob = await startPeer({ uri: '//Bob', netuids: [42, 7], transports: [transport], protocol: { maxConcurrentRequests: MAX_CONCURRENT } })
      alice = await startPeer({ uri: '//Alice', netuids: [42], transports: [transport], listen: [] })
      bobAddr = addrOf(bob, transport)
      bob.handle('whoami', (_body, { caller }) => { seenCallers.push(caller); return caller })
      bob.handle('count', async function * (body) {
        for (let i = 0; i < (body as number); i++) yield i
      })
      bob.handle('slow', async (_body, { signal }) => await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 60_000, 'late')
        signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason as Error) })
      }))
      bob.handle('boom', () => { throw new TypeError('kaput') })
      bob.handle('unencodable', () => { const loop: Record<string, unknown> = {}; loop.self = loop; return loop })
      bob.handle('only7', () => 'seven', { netuid: 7 })
      void silentLogger
    })

    after(async () => {
      await alice.stop()
      await bob.stop()
    })

    it('answers the built-in echo with the same body', async () => {
      const body = { x: 1, s: 'hé', bytes: new Uint8Array([1, 2, 3]), list: [1, null, true] }
      const reply = await alice.request(bobAddr, 'echo', body) as typeof body
      assert.deepEqual({ ...reply, bytes: new Uint8Array(reply.bytes) }, body)
    })

    it('authenticates both sides once per connection, with the verified hotkeys', async () => {
      const remote = await alice.connect(bobAddr)
      assert.equal(remote.ss58, BOB)
      assert.equal(remote.peerId, bob.peerId)
      assert.deepEqual(remote.netuids, [7, 42])
      assert.equal(alice.peers().length, 1)
      assert.equal(bob.peers().filter((p) => p.ss58 === ALICE).length, 1)
      assert.equal(bob.peers()[0]?.peerId, alice.peerId)
    })

    it('gives the handler the verified caller identity', async () => {
      const caller = await alice.request(bobAddr, 'whoami', null) as Caller
      assert.deepEqual(caller, { ss58: ALICE, peerId: alice.peerId, netuid: 42 })
      const on7 = await alice.request(bobAddr, 'whoami', null, { netuid: 7 }) as Caller
      assert.equal(on7.netuid, 7)
    })

    it('delivers a control message with an ack and the verified sender', async () => {
      const got: Array<{ from: string, action: string, payload: unknown, id: string | undefined }> = []
      const off = bob.on('message', (m) => { got.push({ from: m.from, action: m.action, payload: m.payload, id: m.id }) })
      try {
        const id = await alice.message(bobAddr, 'weights:ready', { epoch: 7 })
        // the ack means the listener already ran
        assert.deepEqual(got, [{ from: ALICE, action: 'weights:ready', payload: { epoch: 7 }, id }])
      } finally { off() }
    })

    it('refuses a message id over 128 bytes: on the wire at the receiver, and in the library before sending', async () => {
      const conn = alice.libp2p.getConnections(bob.libp2p.peerId)[0]
      assert.ok(conn)
      const raw = new RpcClient(new FramedStream(await conn.newStream(msgProtocol(42)), { maxFrameBytes: 1 << 20, log: alice.libp2p.logger.forComponent('test') }), { maxInFlight: 10, log: alice.libp2p.logger.forComponent('test') })
      try {
        await assert.rejects(raw.request('step', {}, { messageId: 'x'.repeat(4096) }), (e: Error) => e.name === InvalidFrameError.name && /128 bytes/.test(e.message))
      } finally { await raw.close() }
      await assert.rejects(alice.message(bobAddr, 'step', {}, { id: 'y'.repeat(129) }), (e: Error) => e.name === InvalidConfigError.name)
      assert.equal(typeof await alice.message(bobAddr, 'step', {}, { id: 'z'.repeat(128) }), 'string')
    })

    it('returns a message listener\'s failure to the sender instead of an ack', async () => {
      const off = bob.on('message', () => { throw new Error('not now') })
      try {
        await assert.rejects(alice.message(bobAddr, 'x', null), (e: Error) => e.name === RemoteHandlerError.name && e.message === 'not now')
      } finally { off() }
    })

    it('streams a reply chunk by chunk, past the credit window', async () => {
      const chunks: unknown[] = []
      for await (const c of alice.requestStream(bobAddr, 'count', 200)) chunks.push(c)
      assert.deepEqual(chunks, Array.from({ length: 200 }, (_, i) => i))
    })

    it('refuses a streamed handler to a plain request with ReplyKindError', async () => {
      await assert.rejects(alice.request(bobAddr, 'count', 3), (e: Error) => e.name === ReplyKindError.name)
    })

    it('refuses a subnet the remote does not serve, naming it', async () => {
      await assert.rejects(alice.request(bobAddr, 'echo', 1, { netuid: 99 }), (e: Error) => {
        assert.equal(e.name, SubnetNotServedError.name)
        assert.equal((e as SubnetNotServedError).netuid, 99)
        assert.match(e.message, /subnet 99/)
        return true
      })
    })

    it('keeps handlers to their subnet', async () => {
      assert.equal(await alice.request(bobAddr, 'only7', null, { netuid: 7 }), 'seven')
      await assert.rejects(alice.request(bobAddr, 'only7', null, { netuid: 42 }), (e: Error) => e.name === UnknownRpcTypeError.name)
    })

    it('reports an unknown type and a remote handler error by name', async () => {
      await assert.rejects(alice.request(bobAddr, 'nope', null), (e: Error) => e.name === UnknownRpcTypeError.name && /nope/.test(e.message))
      await assert.rejects(alice.request(bobAddr, 'boom', null), (e: Error) => e.name === RemoteHandlerError.name && (e as RemoteHandlerError).remoteName === 'TypeError' && e.message === 'kaput')
    })

    it('answers at once, with a typed error, when the handler\'s reply cannot be encoded', async () => {
      const t0 = Date.now()
      await assert.rejects(alice.request(bobAddr, 'unencodable', null, { timeout: 20_000 }), (e: Error) => e.name === RemoteHandlerError.name && /could not be encoded/.test(e.message))
      assert.ok(Date.now() - t0 < 5_000, 'not left waiting for the deadline')
      assert.equal(await alice.request(bobAddr, 'echo', 'after'), 'after')
    })

    it('times out a request and aborts the handler at the same deadline', async () => {
      const t0 = Date.now()
      await assert.rejects(alice.request(bobAddr, 'slow', null, { timeout: 300 }), (e: Error) => e.name === RequestTimeoutError.name)
      assert.ok(Date.now() - t0 < 5_000)
      assert.equal(await alice.request(bobAddr, 'echo', 'still fine'), 'still fine')
    })

    it('cancels through an AbortSignal, and the cancel reaches the handler', async () => {
      let handlerAborted = false
      bob.handle('wait', async (_b, { signal }) => await new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => { handlerAborted = true; reject(new Error('aborted')) })
      }))
      const controller = new AbortController()
      const pending = alice.request(bobAddr, 'wait', null, { signal: controller.signal })
      setTimeout(() => { controller.abort() }, 100)
      await assert.rejects(pending, (e: Error) => isAbortError(e))
      const deadline = Date.now() + 5000
      while (!handlerAborted && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.equal(handlerAborted, true)
    })

    it('answers 10,000 concurrent queries over one connection', async () => {
      const n = 10_000
      const replies = await Promise.all(Array.from({ length: n }, async (_, i) => await alice.request(BOB, 'echo', i)))
      assert.equal(replies.length, n)
      for (let i = 0; i < n; i++) assert.equal(replies[i], i)
      assert.equal(alice.libp2p.getConnections(bob.libp2p.peerId).length, 1)
    })

    it('limits concurrent requests per connection: the client queues, a greedy client gets TooManyRequests', async () => {
      // Bob allows 64 in flight; 200 slow-ish calls from the normal client all succeed
      bob.handle('nap', async () => { await new Promise((resolve) => setTimeout(resolve, 20)); return 'ok' })
      const ok = await Promise.all(Array.from({ length: 200 }, async () => await alice.request(bobAddr, 'nap', null)))
      assert.equal(ok.filter((r) => r === 'ok').length, 200)
      // a client ignoring the announced limit is refused beyond it. Its calls are held in the
      // handler until the refusals are in (a 20 ms nap let early calls end and free their slots
      // on a loaded machine): exactly the limit's worth run, the rest are refused
      const limit = MAX_CONCURRENT
      const calls = 100
      const gate = Promise.withResolvers<void>()
      let entered = 0
      bob.handle('held', async () => { entered++; await gate.promise; return 'ok' })
      const conn = alice.libp2p.getConnections(bob.libp2p.peerId)[0]
      assert.ok(conn)
      const stream = await conn.newStream(rpcProtocol(42))
      const greedy = new RpcClient(new FramedStream(stream, { maxFrameBytes: 1 << 20, log: alice.libp2p.logger.forComponent('test') }), { maxInFlight: 1000, log: alice.libp2p.logger.forComponent('test') })
      let refusedSoFar = 0
      const settled = Promise.allSettled(Array.from({ length: calls }, async () => {
        try {
          return await greedy.request('held', null)
        } catch (err) {
          if ((err as Error).name === TooManyRequestsError.name) refusedSoFar++
          throw err
        }
      }))
      try {
        await waitFor(() => refusedSoFar >= calls - limit && entered >= limit, 10_000, () => `${calls - limit} refusals and ${limit} running calls (${refusedSoFar} refused, ${entered} running)`)
      } finally { gate.resolve() }
      const results = await settled
      assert.equal(entered, limit, 'the limit\'s worth ran')
      assert.equal(results.filter((r) => r.status === 'fulfilled' && r.value === 'ok').length, limit)
      assert.equal(results.filter((r) => r.status === 'rejected' && (r.reason as Error).name === TooManyRequestsError.name).length, calls - limit)
      await greedy.close()
    })

    it('survives a malformed frame and an oversized frame header on an authenticated stream', async () => {
      const conn = alice.libp2p.getConnections(bob.libp2p.peerId)[0]
      assert.ok(conn)
      for (const garbage of [new Uint8Array([0, 0, 0, 2, 0xc1, 0xc1]), new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3])]) {
        const stream = await conn.newStream(rpcProtocol(42))
        const ended = new Promise<string>((resolve) => {
          stream.addEventListener('close', () => { resolve('close') })
          stream.addEventListener('remoteCloseWrite', () => { resolve('remoteCloseWrite') })
          setTimeout(resolve, 5000, 'still open')
        })
        stream.send(garbage)
        assert.notEqual(await ended, 'still open', 'the peer ends a stream that sent bad input')
      }
      assert.equal(await alice.request(bobAddr, 'echo', 'alive'), 'alive')
      assert.equal(conn.status, 'open')
    })

    it('refuses to send a body above the frame limit with a typed error', async () => {
      await assert.rejects(alice.request(bobAddr, 'echo', new Uint8Array(17 * 1024 * 1024)), (e: Error) => e.name === FrameTooLargeError.name)
      assert.equal(await alice.request(bobAddr, 'echo', 'ok'), 'ok')
    })

    it('reaches a known hotkey by SS58 and checks that the address really is that hotkey', async () => {
      assert.equal(await alice.request(BOB, 'echo', 'by-ss58'), 'by-ss58')
      const entry = await alice.addressBook.get(BOB)
      assert.equal(entry?.peerId, bob.peerId)
      assert.ok(entry?.addrs.some((a) => bobAddr.startsWith(a)))
      // Bob can reach Alice back over the same connection by her SS58
      assert.deepEqual(await bob.request(ALICE, 'whoami', null).catch((e: Error) => e.name), UnknownRpcTypeError.name)
    })

    it('gives clear errors for bad and unknown destinations', async () => {
      await assert.rejects(alice.request('not-a-destination', 'echo', 1), (e: Error) => e.name === InvalidDestinationError.name)
      await assert.rejects(alice.request('/ip4/127.0.0.1/udp/1/quic-v1', 'echo', 1), (e: Error) => e.name === InvalidDestinationError.name)
      await assert.rejects(alice.request('5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy', 'echo', 1), (e: Error) => e.name === UnknownDestinationError.name)
      const dead = transport === 'quic' ? `/ip4/127.0.0.1/udp/9/quic-v1/p2p/${bob.peerId}` : `/ip4/127.0.0.1/tcp/9/p2p/${bob.peerId}`
      const charlie = await startPeer({ uri: '//Charlie', transports: [transport], listen: [] })
      try {
        await assert.rejects(charlie.request(dead, 'echo', 1, { signal: AbortSignal.timeout(4000) }), (e: Error) => e.name === PeerUnreachableError.name || isAbortError(e))
      } finally { await charlie.stop() }
    })

    it('refuses an address whose peer is another hotkey than the one asked for', async () => {
      await alice.addressBook.put({ ss58: '5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy', peerId: bob.peerId, addrs: [bobAddr.split('/p2p/')[0] as string], updatedAt: Date.now() })
      await assert.rejects(alice.request('5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy', 'echo', 1), (e: Error) => e.name === UnexpectedHotkeyError.name)
      await alice.addressBook.delete('5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy')
    })

    it('knows the sender on the remote side too: Bob queries Alice over her inbound connection', async () => {
      alice.handle('whoami', (_b, { caller }) => caller.ss58)
      // alice serves 42 only and has no listener; Bob reuses the open connection
      assert.equal(await bob.request(ALICE, 'whoami', null), BOB)
    })
  })
}
