/**
 * Flood defence, functionally: a bounded swarm of garbage connections and handshakes on
 * loopback while an authenticated client keeps querying. The latency comparison lives in
 * the benchmark (`npm run bench:flood`); here: nothing the good client asks fails, the
 * garbage is refused with typed errors, and the peer keeps serving newcomers afterwards.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { addrOf, startPeer } from './helpers.ts'
import { flood, measure } from './fixtures/flood.ts'

describe('flood defence', () => {
  it('keeps serving an authenticated client through a flood of garbage connections and handshakes', async () => {
    const bob = await startPeer({ uri: '//Bob' })
    const alice = await startPeer({ uri: '//Alice', listen: [] })
    const refusals = new Map<string, number>()
    bob.on('handshake:failed', (e) => { refusals.set(e.error.name, (refusals.get(e.error.name) ?? 0) + 1) })
    try {
      const dest = addrOf(bob, 'quic')
      const idle = await measure(alice, dest, { count: 200 })
      assert.equal(idle.failures, 0)
      const controller = new AbortController()
      const during = measure(alice, dest, { signal: controller.signal })
      const counts = await flood(bob, { durationMs: 4000, workers: 3 })
      controller.abort()
      const busy = await during
      assert.equal(busy.failures, 0, 'no request of the authenticated client failed during the flood')
      assert.ok(busy.n > 50, `the client kept being served (${busy.n} replies)`)
      assert.ok(counts.tcpGarbage > 20 && counts.udpGarbage > 100, `the flood ran: ${JSON.stringify(counts)}`)
      assert.ok(counts.garbageHandshakes > 0, `garbage handshakes reached the peer: ${JSON.stringify(counts)}`)
      assert.ok(counts.tlsHangups > 0, `connections agreed TLS and hung up: ${JSON.stringify(counts)}`)
      const typed = (refusals.get('InvalidFrameError') ?? 0) + (refusals.get('FrameTooLargeError') ?? 0)
      assert.ok(typed > 0, `garbage handshakes were refused with typed errors: ${JSON.stringify([...refusals])}`)
      // a newcomer after the flood (past the per-IP window) still gets in, and the old client too
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const charlie = await startPeer({ uri: '//Charlie', listen: [] })
      try {
        assert.equal(await charlie.request(addrOf(bob, 'tcp'), 'echo', 'hi'), 'hi')
      } finally {
        await charlie.stop()
      }
      assert.equal(await alice.request(dest, 'echo', 7), 7)
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })
})
