import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { uriSigner } from '@subwire/shared'
import { Discovery } from '../src/discovery/discovery.ts'
import type { RecordRouting } from '@subwire/shared'
import type { Libp2p } from '@libp2p/interface'

const BOOT = '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831'
const SELF = '12D3KooWGAKQNWw6tHqGvTopdBeD7qXArSvtsGQZyiSSWkQFxMxB'
const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never

/** A libp2p node with no addresses whose every dial reaches the bootstrap peer. */
function fakeLibp2p (): Libp2p {
  return {
    peerId: { toString: () => SELF },
    getMultiaddrs: () => [],
    addEventListener: () => {},
    removeEventListener: () => {},
    dial: async () => ({ remotePeer: { toString: () => BOOT } })
  } as unknown as Libp2p
}

describe('discovery: joining the DHT through a bootstrap peer', () => {
  it('offers a reached bootstrap peer to the routing table again until it is taken, then publishes', async () => {
    let table = 0
    let adds = 0
    let puts = 0
    const routing: RecordRouting = {
      get peers () { return table },
      async knows () { return table > 0 },
      // the first offer fails as kad-dht's ping of a new contact does under load; the second is taken
      async add () { adds++; if (adds >= 2) table = 1 },
      async put () { puts++; return table },
      async get () { return undefined },
      async provide () {},
      async * providers () {}
    }
    const libp2p = fakeLibp2p()
    const d = new Discovery({ libp2p, signer: await uriSigner('//Alice'), routing, log }, { netuids: [42], bootstrap: [`/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${BOOT}`], publish: true })
    try {
      await d.start()
      assert.equal(table, 0, 'the routing table took the peer without being asked')
      const deadline = Date.now() + 15_000
      while ((table === 0 || puts < 4) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(table, 1, `the bootstrap peer was offered ${adds} time(s) and never taken`)
      assert.equal(adds, 2)
      // a publish after the join reached the peer (the one at start reached nobody)
      assert.ok(puts >= 4, `only ${puts} put(s)`)
    } finally {
      await d.stop()
    }
  })

  it('runs one background publish at a time, and retries one that reached nobody only after a backoff', async () => {
    let puts = 0
    const routing: RecordRouting = {
      peers: 1,
      async knows () { return true },
      // every publish reaches nobody, after a while (a loaded DHT)
      async put () { puts++; await new Promise((resolve) => setTimeout(resolve, 300)); return 0 },
      async get () { return undefined },
      async provide () {},
      async * providers () {}
    }
    const libp2p = fakeLibp2p()
    const d = new Discovery({ libp2p, signer: await uriSigner('//Alice'), routing, log }, { netuids: [42], publish: true })
    const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
    try {
      await d.start()
      // new connections at once (they must not put off the publish start scheduled), while it
      // runs, then within the backoff after it reached nobody
      for (let t = 0; t < 1400; t += 100) { d.authenticated('c'); await sleep(100) }
      assert.equal(puts, 2, 'the publish at start was put off by new connections')
      await sleep(500)
      assert.equal(puts, 2, `${puts / 2} publishes: new connections started more while one ran or within the backoff`)
      await sleep(500)
      d.authenticated('c')
      await sleep(1500)
      assert.equal(puts, 4, `${puts / 2} publishes: a new connection after the backoff should have retried it once`)
    } finally {
      await d.stop()
    }
  })
})
