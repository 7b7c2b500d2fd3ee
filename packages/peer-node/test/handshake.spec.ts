import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import {
  AUTH_PROTOCOL, createAttestation, HandshakeFailedError, NotAuthenticatedError, rpcProtocol, uriSigner,
  verifyAttestation, PeerIdMismatchError, AttestationExpiredError
} from '@subwire/shared'
import { FramedStream, initiateHandshake, RpcClient } from '@subwire/shared/protocol'
import { addrOf, startPeer, tempDir, waitFor, loopback } from './helpers.ts'
import type { NodePeer, NodeTransport } from '../src/index.ts'
import type { TestPeerInit } from './helpers.ts'
import type { Connection, Libp2p } from '@libp2p/interface'

async function rawNode (transport: NodeTransport): Promise<Libp2p> {
  return await createLibp2p({
    transports: transport === 'quic' ? [quic()] : [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/**
 * Runs `fn` with a started Bob and a raw libp2p node (no subwire) connected to him; stops both
 * after. `dialledAt` is `Date.now()` right before the dial (Bob's handshake deadline starts after it).
 */
async function withRawClient (transport: NodeTransport, fn: (ctx: { bob: NodePeer, raw: Libp2p, conn: Connection, dialledAt: number }) => Promise<void>, bobInit: Partial<TestPeerInit> = {}): Promise<void> {
  const bob = await startPeer({ uri: '//Bob', transports: [transport], ...bobInit })
  const raw = await rawNode(transport)
  try {
    const dialledAt = Date.now()
    const conn = await raw.dial(multiaddr(addrOf(bob, transport)))
    await fn({ bob, raw, conn, dialledAt })
  } finally {
    await raw.stop()
    await bob.stop()
  }
}

for (const transport of ['quic', 'tcp'] as NodeTransport[]) {
  describe(`handshake over ${transport.toUpperCase()}`, () => {
    it('refuses a raw libp2p client that skips the handshake, then disconnects it at the deadline', async () => {
      await withRawClient(transport, async ({ bob, raw, conn, dialledAt }) => {
        const stream = await conn.newStream(rpcProtocol(42))
        const client = new RpcClient(new FramedStream(stream, { maxFrameBytes: 1 << 20, log: raw.logger.forComponent('raw') }), { maxInFlight: 1, log: raw.logger.forComponent('raw') })
        await assert.rejects(client.request('echo', 'let me in'), (e: Error) => e.name === NotAuthenticatedError.name)
        await waitFor(() => conn.status !== 'open', 8000, 'the unauthenticated connection to close (at 3 s; without the deadline it stays open)')
        // from the dial, not from starting the peers: the close comes at the 1 s handshake deadline
        // plus the authenticator's 2 s grace for the refusal to be read (a raw client never reads it)
        const elapsed = Date.now() - dialledAt
        assert.ok(elapsed >= 2900, `closed after ${elapsed} ms, not before the deadline and its grace`)
        assert.equal(bob.peers().length, 0)
        // the peer keeps serving good peers
        const alice = await startPeer({ uri: '//Alice', transports: [transport], listen: [] })
        assert.equal(await alice.request(addrOf(bob, transport), 'echo', 'ok'), 'ok')
        await alice.stop()
      }, { protocol: { handshakeTimeoutMs: 1000 } })
    })

    it('refuses a hello whose attestation names another PeerId (a stolen attestation)', async () => {
      await withRawClient(transport, async ({ bob, raw, conn }) => {
        const framed = new FramedStream(await conn.newStream(AUTH_PROTOCOL), { maxFrameBytes: 8192, log: raw.logger.forComponent('raw') })
        // Alice's real attestation, but for Bob's PeerId instead of ours
        const stolen = await createAttestation(uriSigner('//Alice'), { peerId: bob.peerId, netuids: [42] })
        const verify = (b: Uint8Array, s: Uint8Array): ReturnType<typeof verifyAttestation> => verifyAttestation(b, s, { expectedPeerId: bob.peerId })
        await assert.rejects(initiateHandshake(framed, { attestation: stolen, addrs: [], maxConcurrent: 10 }, verify), (e: Error) => {
          assert.equal(e.name, HandshakeFailedError.name)
          assert.match(e.message, new RegExp(PeerIdMismatchError.name))
          return true
        })
        await waitFor(() => conn.status !== 'open', 5000, 'the connection to close')
      })
    })

    it('refuses an expired attestation from a dialler', async () => {
      await withRawClient(transport, async ({ bob, raw, conn }) => {
        const framed = new FramedStream(await conn.newStream(AUTH_PROTOCOL), { maxFrameBytes: 8192, log: raw.logger.forComponent('raw') })
        const old = await createAttestation(uriSigner('//Alice'), { peerId: raw.peerId.toString(), netuids: [42], now: Date.now() - 3_600_000, lifetimeMs: 60_000 })
        await assert.rejects(initiateHandshake(framed, { attestation: old, addrs: [], maxConcurrent: 1 }, (b, s) => verifyAttestation(b, s, { expectedPeerId: bob.peerId })),
          (e: Error) => e.name === HandshakeFailedError.name && e.message.includes(AttestationExpiredError.name))
      })
    })

    it('sends garbage on the auth stream: the connection is closed, the peer keeps serving', async () => {
      await withRawClient(transport, async ({ bob, conn }) => {
        const stream = await conn.newStream(AUTH_PROTOCOL)
        stream.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]))
        await waitFor(() => conn.status !== 'open', 5000, 'the connection to close')
        const alice = await startPeer({ uri: '//Alice', transports: [transport], listen: [] })
        assert.equal(await alice.request(addrOf(bob, transport), 'echo', 'still here'), 'still here')
        await alice.stop()
      })
    })

    it('keeps its PeerId across a restart, and the other side re-dials by itself', async () => {
      const { dir, cleanup } = await tempDir()
      let bob = await startPeer({ uri: '//Bob', transports: [transport], home: dir })
      const port = Number(/\/(?:udp|tcp)\/(\d+)/.exec(addrOf(bob, transport))?.[1])
      const firstPeerId = bob.peerId
      await bob.stop()
      bob = await startPeer({ uri: '//Bob', transports: [transport], home: dir, listen: loopback([transport], port) })
      const alice = await startPeer({ uri: '//Alice', transports: [transport], listen: [] })
      try {
        assert.equal(bob.peerId, firstPeerId)
        assert.equal(await alice.request(addrOf(bob, transport), 'echo', 1), 1)
        const firstConnection = alice.peers()[0]?.connectionId
        let reauthenticated = 0
        alice.on('peer:authenticated', (p) => { if (p.peerId === firstPeerId) reauthenticated++ })
        await bob.stop()
        await waitFor(() => alice.peers().length === 0, 5000, 'alice to see the disconnect')
        bob = await startPeer({ uri: '//Bob', transports: [transport], home: dir, listen: loopback([transport], port) })
        assert.equal(bob.peerId, firstPeerId)
        // nobody asks Alice to send anything: libp2p's reconnect queue re-dials and subwire re-authenticates
        await waitFor(() => reauthenticated > 0, 20_000, 'alice to re-dial bob')
        assert.notEqual(alice.peers()[0]?.connectionId, firstConnection)
        assert.equal(await alice.request('5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty', 'echo', 2), 2)
      } finally {
        await alice.stop()
        await bob.stop()
        await cleanup()
      }
    })
  })
}
