import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createHotkeyRecord, hotkeyRecordKey, hotkeyRecordToValue, peerRecordKey, uriSigner } from '@subwire/shared'
import { Discovery } from '../src/discovery/discovery.ts'
import type { RecordRouting } from '@subwire/shared'
import type { Libp2p } from '@libp2p/interface'

const PEERS = ['12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831', '12D3KooWHnBKRaAMYtxcfhQFtivMB3rkwEus8Lp9XMZrn2qPuBAL']
const SELF = '12D3KooWGAKQNWw6tHqGvTopdBeD7qXArSvtsGQZyiSSWkQFxMxB'
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A DHT in memory that counts its lookups. */
async function memoryDht (): Promise<{ routing: RecordRouting, gets: string[], ss58s: string[] }> {
  const store = new Map<string, Uint8Array>()
  const ss58s: string[] = []
  for (const [i, uri] of ['//Bob', '//Charlie'].entries()) {
    const signer = await uriSigner(uri)
    const value = hotkeyRecordToValue(await createHotkeyRecord(signer, { peerId: PEERS[i] as string, multiaddrs: [`/ip4/127.0.0.1/udp/${4000 + i}/quic-v1`], netuids: [42] }))
    store.set(hex(hotkeyRecordKey(signer.ss58)), value)
    store.set(hex(peerRecordKey(PEERS[i] as string)), value)
    ss58s.push(signer.ss58)
  }
  const gets: string[] = []
  const routing: RecordRouting = {
    async put () { return 0 },
    async get (key) { gets.push(new TextDecoder().decode(key)); return store.get(hex(key)) },
    async provide () {},
    async * providers () { yield * PEERS }
  }
  return { routing, gets, ss58s }
}

describe('discovery: listing a subnet', () => {
  it('looks up each member\'s record once; a second listing answers from the verified cache', async () => {
    const { routing, gets, ss58s } = await memoryDht()
    const libp2p = { peerId: { toString: () => SELF }, getMultiaddrs: () => [] } as unknown as Libp2p
    const d = new Discovery({ libp2p, signer: await uriSigner('//Alice'), routing, log: Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never }, { netuids: [42] })
    const first = await d.members(42)
    assert.deepEqual(first.map((m) => m.ss58).sort(), [...ss58s].sort())
    assert.equal(gets.length, 2)
    const second = await d.members(42)
    assert.deepEqual(second.map((m) => m.ss58).sort(), [...ss58s].sort())
    assert.equal(gets.length, 2, `the second listing looked up ${gets.slice(2).join(', ')}`)
    assert.ok(second.every((m) => m.record !== undefined && m.peerId !== undefined))
    // a member resolved by hotkey is known for the listing too
    d.forget(ss58s[0] as string)
    const other = await memoryDht()
    const d2 = new Discovery({ libp2p, signer: await uriSigner('//Alice'), routing: other.routing, log: Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never }, { netuids: [42] })
    await d2.resolve(other.ss58s[0] as string)
    other.gets.length = 0
    await d2.members(42)
    assert.deepEqual(other.gets, [`/subwire-pid/${PEERS[1] as string}`])
  })
})
