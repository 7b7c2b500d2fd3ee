/**
 * The TCP listener's per-source connection rate, applied to raw sockets before libp2p
 * wraps them (issue 20, the flood): a burst from one IP beyond its bucket is reset at
 * once, with no libp2p connection made for it, while another IP is untouched, and the
 * bucket refills at the steady rate. Real sockets and real peers on 127.0.0.1; the
 * attacker dials from 127.0.0.2, which Linux routes to the same host.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, it } from 'node:test'
import { addrOf, startPeer, waitFor } from './helpers.ts'
import type { Socket } from 'node:net'

interface Opened { socket: Socket, reset: boolean, closed: boolean }

/** Opens `n` TCP sockets from `from` at once; each records whether it was reset. */
async function open (port: number, from: string, n: number): Promise<Opened[]> {
  return await Promise.all(Array.from({ length: n }, async () => await new Promise<Opened>((resolve) => {
    const o: Opened = { socket: connect({ host: '127.0.0.1', port, localAddress: from }), reset: false, closed: false }
    o.socket.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET') o.reset = true })
    o.socket.once('close', () => { o.closed = true })
    o.socket.once('connect', () => { resolve(o) })
    o.socket.once('error', () => { resolve(o) })
  })))
}

describe('the TCP listener under a burst of new sockets from one IP', () => {
  it('resets those beyond the burst before libp2p sees them, leaves other IPs alone, and refills at the steady rate', async () => {
    // the pending-upgrade bound per IP (8 by default) and its 2 s deadline for crowded upgrades
    // would close some of the 20 too: lifted here, to see the rate alone. One token a second, so
    // that the 30 sockets' accepts (within milliseconds) cannot earn one more on a slow machine
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], inboundConnectionsPerSecond: 1, inboundConnectionsBurst: 20, upgrades: { maxPendingUpgradesPerIp: 1000, crowdedUpgradeTimeoutMs: 60_000 } })
    const alice = await startPeer({ uri: '//Alice', transports: ['tcp'], listen: [] })
    const sockets: Opened[] = []
    try {
      bob.handle('echo', (b) => b)
      const addr = addrOf(bob, 'tcp')
      const port = Number(/\/tcp\/(\d+)/.exec(addr)?.[1])
      const burst = await open(port, '127.0.0.2', 30)
      sockets.push(...burst)
      // 20 fit the bucket (they sit in libp2p's upgrade, silent); the 10 beyond are reset at once
      await waitFor(() => bob.socketsRefused >= 10 && burst.filter((o) => o.reset).length >= 10, 3000, () => `10 sockets to be reset (${bob.socketsRefused} refused, ${burst.filter((o) => o.reset).length} reset)`)
      const emptied = performance.now() // the bucket is empty from here (within the poll's few ms)
      assert.equal(bob.socketsRefused, 10)
      assert.equal(burst.filter((o) => o.reset).length, 10)
      assert.equal(burst.filter((o) => !o.closed).length, 20, 'the 20 within the burst are still open, waiting in the upgrade')
      // another IP has its own bucket: the honest client is answered, on a new connection
      assert.equal(await alice.request(addr, 'echo', 'during', { timeout: 10_000 }), 'during')
      // 1 a second refill: after a pause of t seconds, about t more fit (at most the burst of 20)
      await new Promise((resolve) => setTimeout(resolve, 3000))
      const t = (performance.now() - emptied) / 1000
      const later = await open(port, '127.0.0.2', 30)
      sockets.push(...later)
      // at least 10 of the 30 are reset whatever the pause (the bucket holds 20 at most)
      await waitFor(() => bob.socketsRefused >= 20 && later.filter((o) => o.reset).length === bob.socketsRefused - 10, 3000, () => `the sockets beyond the refill to be reset (${bob.socketsRefused} refused, ${later.filter((o) => o.reset).length} of the later ones reset)`)
      await new Promise((resolve) => setTimeout(resolve, 300)) // every socket has been accepted or reset by now
      const kept = 30 - (bob.socketsRefused - 10)
      const expected = Math.min(20, t)
      assert.ok(kept >= Math.floor(expected) - 1 && kept <= Math.ceil(expected) + 1, `${kept} of 30 let in after ${t.toFixed(2)} s at 1 a second (expected about ${expected.toFixed(1)})`)
      assert.equal(later.filter((o) => o.reset).length, 30 - kept)
    } finally {
      for (const o of sockets) o.socket.destroy()
      await alice.stop()
      await bob.stop()
    }
  })
})
