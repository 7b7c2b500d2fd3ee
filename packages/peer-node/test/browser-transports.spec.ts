import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { addrOf, startPeer, tempDir } from './helpers.ts'
import type { NodeTransport } from '../src/index.ts'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'

describe('browser-facing transports on the Node peer', () => {
  it('keeps the WebRTC-Direct certificate in the home, so the certhash address survives a restart', async () => {
    const { dir, cleanup } = await tempDir()
    const certhashes = (addrs: string[]): string[] => addrs.filter((a) => a.includes('/webrtc-direct')).map((a) => a.split('/certhash/')[1]?.split('/')[0] ?? '')
    try {
      const first = await startPeer({ uri: '//Bob', home: dir, transports: ['webrtc-direct'] })
      const before = certhashes(first.multiaddrs)
      const peerId = first.peerId
      await first.stop()
      const second = await startPeer({ uri: '//Bob', home: dir, transports: ['webrtc-direct'] })
      const after = certhashes(second.multiaddrs)
      await second.stop()
      assert.equal(second.peerId, peerId)
      assert.equal(before.length, 1)
      assert.match(before[0] ?? '', /^u[A-Za-z0-9_-]{40,}$/)
      assert.deepEqual(after, before)
      const other = await tempDir()
      try {
        const third = await startPeer({ uri: '//Bob', home: other.dir, transports: ['webrtc-direct'] })
        const elsewhere = certhashes(third.multiaddrs)
        await third.stop()
        assert.notDeepEqual(elsewhere, before, 'another home has its own certificate')
      } finally { await other.cleanup() }
    } finally {
      await cleanup()
    }
  })

  for (const transport of ['webrtc-direct', 'ws'] as NodeTransport[]) {
    it(`authenticates and answers RPC over ${transport}`, async () => {
      const bob = await startPeer({ uri: '//Bob', transports: [transport] })
      const alice = await startPeer({ uri: '//Alice', transports: [transport], listen: [] })
      try {
        const addr = addrOf(bob, transport)
        const remote = await alice.connect(addr)
        assert.equal(remote.ss58, BOB)
        assert.deepEqual(await alice.request(addr, 'echo', { hi: transport }), { hi: transport })
      } finally {
        await alice.stop()
        await bob.stop()
      }
    })
  }
})
