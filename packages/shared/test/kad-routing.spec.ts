import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createHotkeyRecord, hotkeyRecordKey, hotkeyRecordToValue, kadRecordRouting, subwireDhtInit, uriSigner } from '@subwire/shared'
import { decodeHotkeyRecord, hotkeyRecordFromValue } from '@subwire/shared/protocol'
import { DHT_ANSWER_GRACE_MS, learnConnectedContactsOnly } from '../src/discovery/kad.ts'
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

/** A kad-dht `put`: its events in order; `hang`: then waits for the caller's abort (a slow close peer). */
function kadPut (events: Array<[string, string | undefined]>, hang: boolean): KadService {
  return {
    routingTable: { size: 3 },
    async * get () {},
    async * put (_key, _value, options = {}) {
      for (const [name, messageType] of events) yield { name, ...(messageType === undefined ? {} : { messageType }) }
      if (!hang) return
      await new Promise<void>((resolve) => { options.signal?.addEventListener('abort', () => { resolve() }, { once: true }) })
      throw Object.assign(new Error('aborted'), { name: 'AbortError' })
    },
    async * provide () {},
    async * findProviders () {}
  }
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
    assert.ok(init.kBucketSize < 20, `k is ${init.kBucketSize}: kad-dht's 20 made every put reach 20 peers of a 50-peer subnet`)
  })

  it('counts the peers that took a record, not the FIND_NODE answers of the put\'s query', async () => {
    const dht = kadPut([['PEER_RESPONSE', 'FIND_NODE'], ['PEER_RESPONSE', 'FIND_NODE'], ['PEER_RESPONSE', 'PUT_VALUE'], ['QUERY_ERROR', undefined], ['PEER_RESPONSE', 'PUT_VALUE']], false)
    const routing = kadRecordRouting({ dht, connection: () => undefined, log: () => {} })
    assert.equal(await routing.put(hotkeyRecordKey('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'), await value(1)), 2)
  })

  it('a put that its deadline stops after some peers took the record returns how many; with none it throws', async () => {
    const key = hotkeyRecordKey('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')
    const some = kadRecordRouting({ dht: kadPut([['PEER_RESPONSE', 'FIND_NODE'], ['PEER_RESPONSE', 'PUT_VALUE']], true), connection: () => undefined, log: () => {} })
    assert.equal(await some.put(key, await value(1), { signal: AbortSignal.timeout(100) }), 1)
    const none = kadRecordRouting({ dht: kadPut([['PEER_RESPONSE', 'FIND_NODE']], true), connection: () => undefined, log: () => {} })
    await assert.rejects(none.put(key, await value(1), { signal: AbortSignal.timeout(100) }), { name: 'AbortError' })
  })

  it('the routing table learns only peers it is connected to, never dialling one it only heard of', async () => {
    const learned: string[] = []
    const dht = { async onPeerConnect (peer: { id: { toString: () => string } }) { learned.push(peer.id.toString()) } }
    assert.equal(learnConnectedContactsOnly(dht, (id) => id === 'connected'), true)
    await dht.onPeerConnect({ id: { toString: () => 'heard-of' } })
    await dht.onPeerConnect({ id: { toString: () => 'connected' } })
    assert.deepEqual(learned, ['connected'])
    assert.equal(learnConnectedContactsOnly({}, () => true), false, 'a service without the method is left alone')
  })
})
