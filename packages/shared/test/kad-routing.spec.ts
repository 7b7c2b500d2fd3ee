import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createHotkeyRecord, hotkeyRecordKey, hotkeyRecordToValue, kadRecordRouting, subwireDhtInit, uriSigner } from '@subwire/shared'
import { decodeHotkeyRecord, hotkeyRecordFromValue } from '@subwire/shared/protocol'
import { DHT_ANSWER_GRACE_MS } from '../src/discovery/kad.ts'
import type { KadService } from '@subwire/shared'

const PEER = '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831'

async function value (seq: number): Promise<Uint8Array> {
  return hotkeyRecordToValue(await createHotkeyRecord(await uriSigner('//Alice'), { peerId: PEER, multiaddrs: ['/ip4/127.0.0.1/udp/4701/quic-v1'], netuids: [42], seq }))
}

/**
 * A kad-dht `get` as @libp2p/kad-dht 16 runs it: each peer's answer passes by as a
 * PEER_RESPONSE carrying the (already validated) record, and the VALUE comes only when the
 * whole query has ended; here the query then hangs (a dead close peer) until aborted.
 */
function slowGet (answers: Uint8Array[]): { dht: KadService, aborted: () => boolean } {
  let aborted = false
  const dht: KadService = {
    routingTable: { size: 3 },
    async * get (_key, options = {}) {
      for (const v of answers) {
        await new Promise((resolve) => setTimeout(resolve, 10))
        yield { name: 'PEER_RESPONSE', record: { value: v } }
      }
      await new Promise<void>((resolve) => { options.signal?.addEventListener('abort', () => { aborted = true; resolve() }, { once: true }) })
      throw Object.assign(new Error('aborted'), { name: 'AbortError' })
    },
    async * put () {},
    async * provide () {},
    async * findProviders () {}
  }
  return { dht, aborted: () => aborted }
}

describe('the kad-dht bridge', () => {
  it('answers a lookup a grace after the first peer\'s record, not when the whole query ends', async () => {
    const answers = [await value(5), await value(9), await value(7)]
    const { dht, aborted } = slowGet(answers)
    const routing = kadRecordRouting({ dht, connection: () => undefined, log: () => {} })
    const t0 = Date.now()
    const got = await routing.get(hotkeyRecordKey('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'), { signal: AbortSignal.timeout(10_000) })
    const ms = Date.now() - t0
    assert.ok(got !== undefined, 'no value')
    assert.equal(decodeHotkeyRecord(hotkeyRecordFromValue(got).bytes).seq, 9, 'the highest seq wins')
    assert.ok(ms < DHT_ANSWER_GRACE_MS + 1000, `the lookup took ${ms} ms`)
    assert.ok(aborted(), 'the rest of the query was not stopped')
  })

  it('skips a forged answer with a higher seq and returns the best valid one', async () => {
    const forged = await value(99)
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1
    const { dht } = slowGet([await value(3), forged, await value(8), await value(8)])
    const routing = kadRecordRouting({ dht, connection: () => undefined, log: () => {} })
    const got = await routing.get(hotkeyRecordKey('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'), { signal: AbortSignal.timeout(10_000) })
    assert.ok(got !== undefined)
    assert.equal(decodeHotkeyRecord(hotkeyRecordFromValue(got).bytes).seq, 8)
  })

  it('still throws a caller\'s abort when nothing was found', async () => {
    const { dht } = slowGet([])
    const routing = kadRecordRouting({ dht, connection: () => undefined, log: () => {} })
    await assert.rejects(routing.get(hotkeyRecordKey('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'), { signal: AbortSignal.timeout(200) }))
  })

  it('asks kad-dht for narrow queries under subwire\'s own protocol', () => {
    const init = subwireDhtInit()
    assert.equal(init.protocol, '/subwire/kad/1.0.0')
    assert.ok(init.alpha <= 3 && init.disjointPaths <= 3, JSON.stringify({ alpha: init.alpha, disjointPaths: init.disjointPaths }))
  })
})
