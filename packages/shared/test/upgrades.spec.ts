import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { ConnectionRate, InvalidConfigError, UpgradeLimiter } from '@subwire/shared'

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

describe('the per-source connection rate (a token bucket)', () => {
  it('lets a burst in at once, then the steady rate, per source', () => {
    const rate = new ConnectionRate({ perSecond: 10, burst: 50 })
    let admitted = 0
    for (let i = 0; i < 80; i++) if (rate.admit('10.0.0.1', 1000)) admitted++
    assert.equal(admitted, 50, 'the burst')
    // another source has its own bucket
    assert.equal(rate.admit('10.0.0.2', 1000), true)
    // 10 a second refill: 0.5 s later, 5 more
    admitted = 0
    for (let i = 0; i < 20; i++) if (rate.admit('10.0.0.1', 1500)) admitted++
    assert.equal(admitted, 5)
    // a quiet spell refills to the burst, never beyond
    admitted = 0
    for (let i = 0; i < 80; i++) if (rate.admit('10.0.0.1', 100_000)) admitted++
    assert.equal(admitted, 50)
  })

  it('answers a peek without taking a token', () => {
    const rate = new ConnectionRate({ perSecond: 1, burst: 1 })
    for (let i = 0; i < 5; i++) assert.equal(rate.admit('a', 0, true), true)
    assert.equal(rate.admit('a', 0), true)
    assert.equal(rate.admit('a', 0, true), false)
    assert.equal(rate.admit('a', 0), false)
  })

  it('stays bounded under sources that each come once', () => {
    const rate = new ConnectionRate({ perSecond: 10, burst: 2 })
    // one new source a ms: the buckets refill within 200 ms, so the sweeps keep the map small
    for (let i = 0; i < 100_000; i++) assert.equal(rate.admit(`s${i}`, i), true)
    assert.ok(rate.sources <= 4096 + 1000, `${rate.sources} sources tracked`)
    // 100,000 new sources within one ms: nothing refills, the oldest are forgotten at the cap
    for (let i = 0; i < 100_000; i++) rate.admit(`t${i}`, 200_000)
    assert.ok(rate.sources <= 4 * 4096, `${rate.sources} sources tracked`)
    // a recent source keeps its count
    assert.equal(rate.admit('t99999', 200_000), true)
    assert.equal(rate.admit('t99999', 200_000), false)
  })

  it('neither refills nor drains when the clock steps back', () => {
    const rate = new ConnectionRate({ perSecond: 10, burst: 2 })
    assert.equal(rate.admit('a', 10_000), true)
    assert.equal(rate.admit('a', 10_000), true)
    // 10 s back: no refill (and no debt of 100 tokens either)
    assert.equal(rate.admit('a', 0), false)
    // 100 ms on from the new reading: one token, as for a clock that never moved back
    assert.equal(rate.admit('a', 100), true)
    assert.equal(rate.admit('a', 100), false)
  })

  it('refuses a rate that is not a positive number', () => {
    assert.throws(() => new ConnectionRate({ perSecond: 0 }), (e: Error) => e.name === InvalidConfigError.name)
    assert.throws(() => new ConnectionRate({ burst: -1 }), (e: Error) => e.name === InvalidConfigError.name)
  })

  it('refuses, as a gater, a source over its rate before counting its upgrade', async () => {
    const limiter = new UpgradeLimiter({ log, rate: new ConnectionRate({ perSecond: 1, burst: 2 }) })
    const gater = limiter.gater()
    const conn = (): never => ({ remoteAddr: multiaddr('/ip4/10.1.2.3/udp/4433/quic-v1'), addEventListener: () => {}, abort: () => {} }) as never
    assert.equal(await gater.denyInboundConnection?.(conn()), false)
    assert.equal(await gater.denyInboundConnection?.(conn()), false)
    assert.equal(await gater.denyInboundConnection?.(conn()), true, 'the third within a second is over the burst of 2')
    assert.equal(limiter.pending, 2, 'the refused one is not counted as pending')
  })

  it('does not count again a connection whose socket was rated below libp2p', async () => {
    const tcp = (): never => ({ remoteAddr: multiaddr('/ip4/10.1.2.3/tcp/4001'), addEventListener: () => {}, abort: () => {} }) as never
    const quic = (): never => ({ remoteAddr: multiaddr('/ip4/10.1.2.3/udp/4001/quic-v1'), addEventListener: () => {}, abort: () => {} }) as never
    const limiter = new UpgradeLimiter({ log, rate: new ConnectionRate({ perSecond: 1, burst: 1 }), ratedBelow: (c) => c.remoteAddr.toString().includes('/tcp/') }, { maxPendingUpgradesPerIp: 100 })
    const gater = limiter.gater()
    for (let i = 0; i < 5; i++) assert.equal(await gater.denyInboundConnection?.(tcp()), false, `TCP connection ${i} (rated by the socket guard)`)
    assert.equal(await gater.denyInboundConnection?.(quic()), false, 'the first QUIC connection takes the one token')
    assert.equal(await gater.denyInboundConnection?.(quic()), true, 'the second is over the rate')
  })
})
