// Which connection encryption peers negotiate: TLS 1.3 between Node peers on TCP and
// WebSockets, Noise with a dialer that only speaks Noise (a browser, or a peer under Deno).
// Real peers on 127.0.0.1.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createLibp2p } from 'libp2p'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { addrOf, startPeer, waitFor } from './helpers.ts'
import { generateCertificate } from '../src/webtransport/index.ts'
import type { NodeTransport } from '../src/index.ts'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'

describe('connection encryption', () => {
  for (const transport of ['tcp', 'ws'] as NodeTransport[]) {
    it(`two Node peers speak TLS 1.3 over ${transport}, and authenticate and answer RPC over it`, async () => {
      const bob = await startPeer({ uri: '//Bob', transports: [transport] })
      const alice = await startPeer({ uri: '//Alice', transports: [transport], listen: [] })
      try {
        const addr = addrOf(bob, transport)
        const remote = await alice.connect(addr)
        assert.equal(remote.ss58, BOB)
        assert.deepEqual(await alice.request(addr, 'echo', { over: transport }), { over: transport })
        const conns = alice.libp2p.getConnections()
        assert.equal(conns.length, 1)
        assert.equal(conns[0]?.encryption, '/tls/1.0.0', 'the dialer negotiated TLS')
        assert.deepEqual(bob.libp2p.getConnections().map((c) => c.encryption), ['/tls/1.0.0'], 'so did the listener')
      } finally {
        await alice.stop()
        await bob.stop()
      }
    })
  }

  it('still speaks TLS after WebTransport certificates were made in the same process (they share the X.509 library)', async () => {
    await generateCertificate(Date.now(), 24 * 3600_000)
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'] })
    const alice = await startPeer({ uri: '//Alice', transports: ['tcp'], listen: [] })
    try {
      const addr = addrOf(bob, 'tcp')
      assert.deepEqual(await alice.request(addr, 'echo', { after: 'certificates' }), { after: 'certificates' })
      assert.deepEqual(alice.libp2p.getConnections().map((c) => c.encryption), ['/tls/1.0.0'])
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  for (const transport of ['tcp', 'ws'] as NodeTransport[]) {
    it(`accepts a dialer that proposes Noise only over ${transport}, as a browser does`, async () => {
      const bob = await startPeer({ uri: '//Bob', transports: [transport] })
      const dialer = await createLibp2p({ transports: [transport === 'ws' ? webSockets() : tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
      try {
        const conn = await dialer.dial(multiaddr(addrOf(bob, transport)), { signal: AbortSignal.timeout(5000) })
        assert.equal(conn.encryption, '/noise')
        assert.equal(conn.remotePeer.toString(), bob.libp2p.peerId.toString(), 'Noise proved the listener\'s PeerId')
        await waitFor(() => bob.libp2p.getConnections().some((c) => c.encryption === '/noise'), 5000, 'the listener to see the Noise connection')
      } finally {
        await dialer.stop()
        await bob.stop()
      }
    })
  }

  it('dials a listener that offers Noise only (a peer under Deno) over Noise', async () => {
    const listener = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
    const alice = await startPeer({ uri: '//Alice', transports: ['tcp'], listen: [] })
    try {
      const addr = listener.getMultiaddrs()[0]
      assert.ok(addr !== undefined)
      const conn = await alice.libp2p.dial(addr, { signal: AbortSignal.timeout(5000) })
      assert.equal(conn.encryption, '/noise', 'TLS was refused in negotiation and Noise chosen')
      assert.equal(conn.remotePeer.toString(), listener.peerId.toString())
    } finally {
      await alice.stop()
      await listener.stop()
    }
  })
})
