// Large files to a peer reached over QUIC go over a TCP connection to it (SubwireInit.bulk):
// real peers on 127.0.0.1, real files; which connection carried the file stream is read from
// the sender's connections, whose newStream is watched.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { addrOf, randomFile, sha256File, startPeer, tempDir, waitFor } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'
import type { ReceivedFile } from '@subwire/shared'
import type { Connection } from '@libp2p/interface'

/** Records, per connection of `peer` (now and later), the protocols of the streams it opened. */
function watchStreams (peer: NodePeer): Map<Connection, string[]> {
  const opened = new Map<Connection, string[]>()
  const watch = (c: Connection): void => {
    if (opened.has(c)) return
    opened.set(c, [])
    const newStream = c.newStream.bind(c)
    c.newStream = (async (protocols: string | string[], options?: unknown) => {
      opened.get(c)?.push(...(Array.isArray(protocols) ? protocols : [protocols]))
      return await newStream(protocols, options as never)
    }) as Connection['newStream']
  }
  for (const c of peer.libp2p.getConnections()) watch(c)
  peer.libp2p.addEventListener('connection:open', (e) => { watch(e.detail) })
  return opened
}

/** The transports over which `opened` shows a stream whose protocol contains `kind`. */
function streamsBy (opened: Map<Connection, string[]>, kind: string): string[] {
  return [...opened].filter(([, ps]) => ps.some((p) => p.includes(kind))).map(([c]) => c.remoteAddr.toString().includes('/quic') ? 'quic' : 'tcp')
}

/** The transports over which `opened` shows a file stream. */
function fileStreamsBy (opened: Map<Connection, string[]>): string[] {
  return [...opened].filter(([, ps]) => ps.some((p) => p.includes('/file/'))).map(([c]) => c.remoteAddr.toString().includes('/quic') ? 'quic' : 'tcp')
}

async function setup (bobTransports: Array<'quic' | 'tcp'>): Promise<{ alice: NodePeer, bob: NodePeer, received: ReceivedFile[], dir: string, cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir()
  const bob = await startPeer({ uri: '//Bob', transports: bobTransports, filesDir: join(dir, 'bob') })
  const alice = await startPeer({ uri: '//Alice', listen: [], protocol: { bulk: { transport: 'tcp', minBytes: 2 << 20 } } })
  const received: ReceivedFile[] = []
  bob.on('file:received', (f) => { received.push(f) })
  return { alice, bob, received, dir, cleanup: async () => { await alice.stop(); await bob.stop(); await cleanup() } }
}

describe('large files over TCP to a peer reached over QUIC', () => {
  it('sends a file of the bulk size over a TCP connection it dials, and a small one over the QUIC session', async () => {
    const { alice, bob, received, dir, cleanup } = await setup(['quic', 'tcp'])
    try {
      const big = join(dir, 'big.bin')
      const small = join(dir, 'small.bin')
      await randomFile(big, 5 << 20)
      await randomFile(small, 1 << 20)
      const quic = addrOf(bob, 'quic')
      await alice.connect(quic)
      const opened = watchStreams(alice)
      assert.deepEqual([...opened.keys()].map((c) => c.remoteAddr.toString().includes('/quic')), [true], 'one QUIC connection before the sends')
      const r1 = await alice.sendFile(quic, small)
      assert.deepEqual(fileStreamsBy(opened), ['quic'], 'below the bulk size: the session\'s QUIC connection')
      const r2 = await alice.sendFile(quic, big)
      await waitFor(() => received.length === 2, 10_000, 'both files received')
      assert.deepEqual(fileStreamsBy(opened).sort(), ['quic', 'tcp'], 'the large file went over TCP')
      const tcp = alice.libp2p.getConnections().filter((c) => !c.remoteAddr.toString().includes('/quic'))
      assert.equal(tcp.length, 1)
      assert.equal(tcp[0]?.remotePeer.toString(), bob.peerId)
      for (const [r, path] of [[r1, small], [r2, big]] as const) {
        const got = received.find((f) => f.id === r.id)
        assert.ok(got)
        assert.equal(await sha256File(got.path), await sha256File(path))
      }
      // a second large file reuses the TCP session instead of dialling again
      const again = join(dir, 'again.bin')
      await randomFile(again, 3 << 20)
      await alice.sendFile(quic, again)
      assert.equal(alice.libp2p.getConnections().filter((c) => !c.remoteAddr.toString().includes('/quic')).length, 1)
    } finally { await cleanup() }
  })

  it('sends a large request over the TCP connection, a small one over QUIC, and either way when told', async () => {
    const { dir, cleanup } = await tempDir()
    const bob = await startPeer({ uri: '//Bob', transports: ['quic', 'tcp'], filesDir: join(dir, 'bob') })
    const alice = await startPeer({ uri: '//Alice', listen: [], protocol: { bulk: { transport: 'tcp', minRequestBytes: 256 << 10 } } })
    try {
      bob.handle('size', (body) => body instanceof Uint8Array ? body.byteLength : (body as { blob: Uint8Array }).blob.byteLength)
      const quic = addrOf(bob, 'quic')
      await alice.connect(quic)
      const opened = watchStreams(alice)
      assert.equal(await alice.request(quic, 'size', new Uint8Array(1024)), 1024)
      assert.deepEqual(streamsBy(opened, '/rpc/'), ['quic'], 'a small request: the session\'s QUIC connection')
      const large = new Uint8Array(1 << 20).fill(7)
      assert.equal(await alice.request(quic, 'size', large), 1 << 20)
      assert.deepEqual(streamsBy(opened, '/rpc/').sort(), ['quic', 'tcp'], 'a 1 MiB request: a TCP connection')
      const tcp = (): Connection[] => alice.libp2p.getConnections().filter((c) => !c.remoteAddr.toString().includes('/quic'))
      assert.equal(tcp().length, 1)
      // the TCP connection and its RPC stream are kept for the next large request
      assert.equal(await alice.request(quic, 'size', { blob: large }), 1 << 20)
      assert.equal(tcp().length, 1)
      assert.equal(opened.get(tcp()[0] as Connection)?.filter((p) => p.includes('/rpc/')).length, 1, 'one RPC stream on the TCP connection, reused')
      // told: with the TCP connection closed, a large request kept on QUIC dials none, a small one sent over TCP dials one
      await (tcp()[0] as Connection).close()
      await waitFor(() => tcp().length === 0, 5000, 'the TCP connection closed')
      assert.equal(await alice.request(quic, 'size', large, { bulk: false }), 1 << 20)
      assert.equal(tcp().length, 0, 'bulk: false kept the large request on QUIC')
      assert.equal(await alice.request(quic, 'size', new Uint8Array(10), { bulk: true }), 10)
      assert.equal(tcp().length, 1, 'bulk: true sent the small request over a new TCP connection')
      // concurrent large requests share one dial
      await (tcp()[0] as Connection).close()
      await waitFor(() => tcp().length === 0, 5000, 'the TCP connection closed')
      const replies = await Promise.all(Array.from({ length: 6 }, async () => await alice.request(quic, 'size', large)))
      assert.deepEqual(replies, Array(6).fill(1 << 20))
      assert.equal(tcp().length, 1, 'six concurrent large requests: one TCP connection')
    } finally {
      await alice.stop()
      await bob.stop()
      await cleanup()
    }
  })

  it('keeps large requests on QUIC when the TCP dial fails, and does not dial again at once', async () => {
    // bob lets one new TCP connection in a second from an IP: a first one, closed, takes it,
    // so the TCP dial for the large request right after is reset by bob's socket guard
    const bob = await startPeer({ uri: '//Bob', transports: ['quic', 'tcp'], inboundConnectionsPerSecond: 1, inboundConnectionsBurst: 1 })
    const alice = await startPeer({ uri: '//Alice', listen: [], protocol: { bulk: { transport: 'tcp', minRequestBytes: 256 << 10 } } })
    try {
      bob.handle('size', (body) => (body as Uint8Array).byteLength)
      await alice.connect(addrOf(bob, 'tcp'))
      for (const c of alice.libp2p.getConnections()) await c.close()
      const quic = addrOf(bob, 'quic')
      await alice.connect(quic)
      const large = new Uint8Array(1 << 20)
      assert.equal(await alice.request(quic, 'size', large), 1 << 20, 'answered over QUIC')
      const refused = bob.socketsRefused
      assert.ok(refused >= 1, `bob reset the TCP dial (${refused})`)
      assert.equal(alice.libp2p.getConnections().filter((c) => !c.remoteAddr.toString().includes('/quic')).length, 0)
      await new Promise((resolve) => setTimeout(resolve, 1200)) // bob would let a dial in again now
      assert.equal(await alice.request(quic, 'size', large), 1 << 20)
      assert.equal(bob.socketsRefused, refused, 'the failed dial was remembered: none was tried')
      assert.equal(alice.libp2p.getConnections().filter((c) => !c.remoteAddr.toString().includes('/quic')).length, 0)
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  it('keeps a large file on QUIC when the receiver announced no TCP address', async () => {
    const { alice, bob, received, dir, cleanup } = await setup(['quic'])
    try {
      const big = join(dir, 'big.bin')
      await randomFile(big, 5 << 20)
      const quic = addrOf(bob, 'quic')
      await alice.connect(quic)
      const opened = watchStreams(alice)
      const r = await alice.sendFile(quic, big)
      assert.deepEqual(fileStreamsBy(opened), ['quic'])
      await waitFor(() => received.length === 1, 10_000, 'the file received')
      const got = received.find((f) => f.id === r.id)
      assert.ok(got)
      assert.equal(await sha256File(got.path), await sha256File(big))
    } finally { await cleanup() }
  })
})
