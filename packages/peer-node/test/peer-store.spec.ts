// Hardening (issue 20): a PeerId that connects without ever authenticating leaves nothing
// in the home; what must persist (the keychain and the WebRTC-Direct certificate) still does.
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { addrOf, startPeer, tempDir, waitFor } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'

const listing = async (dir: string): Promise<string[]> => await readdir(dir, { recursive: true }).catch(() => [])

describe('the peer store', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: NodePeer

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-peerstore-'))
    bob = await startPeer({ uri: '//Bob', transports: ['tcp', 'webrtc-direct'], home: join(dir, 'bob') })
  })

  after(async () => {
    await bob.stop()
    await cleanup()
  })

  it('keeps no record of PeerIds that connected without authenticating, and still keeps the keychain', async () => {
    const target = multiaddr(addrOf(bob, 'tcp'))
    for (let i = 0; i < 20; i++) {
      const stranger = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
      try {
        await stranger.dial(target)
      } catch {} finally { await stranger.stop() }
    }
    await waitFor(() => bob.libp2p.getConnections().length === 0, 10_000, 'the strangers to be dropped')
    const files = await listing(join(dir, 'bob', 'datastore'))
    assert.deepEqual(files.filter((f) => f.startsWith('peers')), [], 'nothing under datastore/peers')
    assert.ok(files.some((f) => f.startsWith('pkcs8') || f.startsWith('info')), `the keychain is on disk (${files.join(', ')})`)
  })
})
