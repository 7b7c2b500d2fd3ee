import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { UpgradeLimiter } from '@subwire/shared'

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log }) as never

describe('the upgrade limiter as a connection gater', () => {
  it('answers a verdict for a bare address (the WebTransport listener asks before a session exists) without throwing or counting it', async () => {
    const limiter = new UpgradeLimiter({ log }, { maxPendingUpgradesPerIp: 1 })
    const gater = limiter.gater()
    const bare = { remoteAddr: multiaddr('/ip4/127.0.0.1/udp/4433/quic-v1') } as never
    for (let i = 0; i < 3; i++) assert.equal(await gater.denyInboundConnection?.(bare), false)
    assert.equal(limiter.pending, 0)
  })
})
