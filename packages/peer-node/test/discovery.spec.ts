import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DHT_PROTOCOL, FanOutTimeoutError, UnknownDestinationError } from '@subwire/shared'
import { addrOf, loopback, startPeer, waitFor } from './helpers.ts'
import type { FanOutResult, FanOutSummary } from '@subwire/shared'
import type { NodePeer } from '../src/index.ts'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'

async function collect (it: AsyncIterable<FanOutResult> & { summary: Promise<FanOutSummary> }): Promise<{ results: FanOutResult[], summary: FanOutSummary }> {
  const results: FanOutResult[] = []
  for await (const r of it) results.push(r)
  return { results, summary: await it.summary }
}

/** Waits until `peer` resolves `ss58` through the DHT (records propagate in the background). */
async function resolvable (peer: NodePeer, ss58: string, port?: string): Promise<void> {
  await waitFor(async () => {
    try {
      const r = await peer.resolve(ss58, { signal: AbortSignal.timeout(3000) })
      return port === undefined || r.multiaddrs.some((a) => a.includes(`/${port}/`))
    } catch { return false }
  }, 30_000, `${ss58} to be resolvable${port === undefined ? '' : ` at port ${port}`}`)
}

describe('discovery over QUIC: three peers and a bootstrap', () => {
  let b: NodePeer
  let a: NodePeer
  let c: NodePeer
  let d: NodePeer
  const peers: NodePeer[] = []

  before(async () => {
    b = await startPeer({ uri: '//Bob', transports: ['quic'] })
    const bootstrap = [addrOf(b, 'quic')]
    a = await startPeer({ uri: '//Alice', transports: ['quic'], bootstrap })
    c = await startPeer({ uri: '//Charlie', transports: ['quic'], bootstrap })
    d = await startPeer({ uri: '//Dave', transports: ['quic'], bootstrap })
    peers.push(a, b, c, d)
    c.handle('slow', async () => await new Promise((resolve) => setTimeout(resolve, 10_000, 'late')))
    d.handle('slow', () => 'quick')
  })

  after(async () => {
    for (const p of peers) await p.stop()
  })

  it('speaks its own DHT protocol, never the IPFS one', () => {
    const protocols = b.libp2p.getProtocols()
    assert.ok(protocols.includes(DHT_PROTOCOL), protocols.join(', '))
    assert.ok(!protocols.includes('/ipfs/kad/1.0.0'))
  })

  it('resolves a hotkey through the DHT with no address exchanged, and the handshake proves it', async () => {
    await resolvable(a, c.ss58)
    // a DHT query may have connected the two already, and handshakes teach the address book: forget it
    await a.addressBook.delete(c.ss58)
    const found = await a.resolve(c.ss58)
    assert.ok(found.source === 'dht' || found.source === 'cache', found.source)
    assert.equal(found.peerId, c.peerId)
    assert.deepEqual(found.record?.netuids, [42])
    const reply = await a.request(c.ss58, 'echo', { x: 1 })
    assert.deepEqual(reply, { x: 1 })
    assert.equal(a.peers().find((p) => p.peerId === c.peerId)?.ss58, c.ss58)
  })

  it('says where each answer came from: the address book first', async () => {
    await a.addressBook.put({ ss58: d.ss58, peerId: d.peerId, addrs: [addrOf(d, 'quic').split('/p2p/')[0] as string], updatedAt: Date.now() })
    assert.equal((await a.resolve(d.ss58)).source, 'address-book')
    await a.addressBook.delete(d.ss58)
  })

  it('refuses an unknown hotkey with UnknownDestinationError naming what it asked', async () => {
    const lonely = await startPeer({ uri: '//Eve', transports: ['quic'], netuids: [42] })
    peers.push(lonely)
    await assert.rejects(lonely.resolve(ALICE, { signal: AbortSignal.timeout(3000) }), (err: Error) => err.name === UnknownDestinationError.name && err.message.includes('the DHT'))
  })

  it('lists a subnet and fans a query out: a slow member is reported as a timeout within the deadline', async () => {
    for (const p of [b, c, d]) await resolvable(a, p.ss58)
    await waitFor(async () => (await a.members(42)).length >= 3, 30_000, 'three members of subnet 42')
    const members = (await a.members(42)).map((m) => m.ss58).sort()
    assert.deepEqual(members, [b.ss58, c.ss58, d.ss58].sort())
    b.handle('slow', () => 'quick')
    const started = Date.now()
    const { results, summary } = await collect(a.querySubnet(42, 'slow', null, { timeout: 1500 }))
    const elapsed = Date.now() - started
    assert.ok(elapsed < 2500, `fan-out took ${elapsed} ms`)
    const byHotkey = new Map(results.map((r) => [r.ss58, r]))
    assert.equal(byHotkey.size, 3)
    assert.deepEqual(byHotkey.get(d.ss58), { ...byHotkey.get(d.ss58), ok: true, body: 'quick' })
    const slow = byHotkey.get(c.ss58)
    assert.ok(slow !== undefined && !slow.ok && slow.reason === 'timeout' && slow.error.name === FanOutTimeoutError.name, JSON.stringify(slow))
    assert.equal(summary.answered, 2)
    assert.equal(summary.failed.timeout, 1)
    assert.ok(summary.p50Ms > 0 && summary.p99Ms >= summary.p50Ms)
  })

  it('fans a message out to a subnet', async () => {
    const got: string[] = []
    const off = d.on('message', (m) => { got.push(m.from) })
    const { summary } = await collect(a.messageSubnet(42, 'hello', { n: 1 }, { timeout: 3000, members: [d.ss58] }))
    off()
    assert.equal(summary.answered, 1)
    assert.deepEqual(got, [a.ss58])
  })

  it('finds a peer again after it restarts on another port, and reports a dead member as unreachable', async () => {
    const oldPort = addrOf(c, 'quic').split('/')[4] as string
    await c.stop()
    peers.splice(peers.indexOf(c), 1)
    const dead = await collect(a.querySubnet(42, 'echo', 'x', { timeout: 3000, members: [c.ss58, d.ss58] }))
    const cr = dead.results.find((r) => r.ss58 === c.ss58)
    assert.ok(cr !== undefined && !cr.ok && (cr.reason === 'unreachable' || cr.reason === 'timeout'), JSON.stringify(cr))
    assert.equal(dead.results.find((r) => r.ss58 === d.ss58)?.ok, true)
    c = await startPeer({ uri: '//Charlie', transports: ['quic'], bootstrap: [addrOf(b, 'quic')], listen: loopback(['quic']) })
    peers.push(c)
    const newPort = addrOf(c, 'quic').split('/')[4] as string
    assert.notEqual(newPort, oldPort)
    await waitFor(async () => {
      try {
        return await a.request(c.ss58, 'echo', 'again', { timeout: 3000, signal: AbortSignal.timeout(4000) }) === 'again'
      } catch { return false }
    }, 30_000, 'the restarted peer to answer by hotkey')
    assert.equal(a.peers().find((p) => p.ss58 === c.ss58)?.peerId, c.peerId)
  })
})
