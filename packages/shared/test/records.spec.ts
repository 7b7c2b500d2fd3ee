import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  createHotkeyRecord, HotkeyRecordExpiredError, hotkeyRecordKey, hotkeyRecordToValue, InvalidHotkeyRecordError, InvalidSignatureError,
  peerRecordKey, RecordPeerMismatchError, seedSigner, selectHotkeyRecord, StaleHotkeyRecordError, uriSigner, validateHotkeyRecordEntry, verifyHotkeyRecord
} from '@subwire/shared'
import { decodeHotkeyRecord, encodeHotkeyRecord, hotkeyRecordFromValue } from '@subwire/shared/protocol'

const PEER = '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831'
const OTHER_PEER = '12D3KooWHnBKRaAMYtxcfhQFtivMB3rkwEus8Lp9XMZrn2qPuBAL'
const NOW = 1767225600000
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

interface Vector { seed: string, ss58: string, peerId: string, multiaddrs: string[], netuids: number[], seq: number, expiresAt: number, bytes: string, signature: string }

function vectorFromDocs (): Vector {
  const doc = readFileSync(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  const match = /```json hotkey-record-vector\n([\s\S]*?)```/.exec(doc)
  assert.ok(match?.[1], 'docs/PROTOCOL.md has the hotkey record vector')
  return JSON.parse(match[1]) as Vector
}

async function signed (uri = '//Alice', init: Partial<Parameters<typeof createHotkeyRecord>[1]> = {}): Promise<Uint8Array> {
  const r = await createHotkeyRecord(await uriSigner(uri), { peerId: PEER, multiaddrs: ['/ip4/127.0.0.1/udp/4701/quic-v1'], netuids: [42], now: NOW, ...init })
  return hotkeyRecordToValue(r)
}

describe('hotkey records', () => {
  it('matches the test vector in docs/PROTOCOL.md byte for byte and accepts its signature', async () => {
    const v = vectorFromDocs()
    const signer = seedSigner(unhex(v.seed))
    assert.equal(signer.ss58, v.ss58)
    const r = await createHotkeyRecord(signer, { peerId: v.peerId, multiaddrs: v.multiaddrs, netuids: v.netuids, seq: v.seq, now: v.expiresAt - 3_600_000, lifetimeMs: 3_600_000 })
    assert.equal(hex(r.bytes), v.bytes)
    const record = verifyHotkeyRecord(hotkeyRecordToValue({ bytes: unhex(v.bytes), signature: unhex(v.signature) }), { now: v.expiresAt - 1 })
    assert.equal(record.ss58, v.ss58)
    assert.deepEqual(record.multiaddrs, v.multiaddrs)
  })

  it('round-trips any valid fields', async () => {
    const signer = await uriSigner('//Alice')
    await fc.assert(fc.property(
      fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 5 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 8 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      (multiaddrs, netuids, seq) => {
        const fields = { version: 1, ss58Prefix: 42, publicKey: signer.publicKey, peerId: PEER, multiaddrs, netuids: [...netuids].sort((a, b) => a - b), seq, expiresAt: NOW }
        const back = decodeHotkeyRecord(encodeHotkeyRecord(fields))
        assert.deepEqual({ ...back, ss58: undefined }, { ...fields, ss58: undefined })
      }))
  })

  it('refuses a forged signature with InvalidSignatureError', async () => {
    const value = await signed()
    const { bytes, signature } = hotkeyRecordFromValue(value)
    const forged = hotkeyRecordToValue({ bytes, signature: signature.map((b, i) => i === 0 ? b ^ 1 : b) })
    assert.throws(() => verifyHotkeyRecord(forged, { now: NOW }), { name: InvalidSignatureError.name })
    // a record signed by Bob but claiming Alice's key
    const bob = hotkeyRecordFromValue(await signed('//Bob'))
    const alice = hotkeyRecordFromValue(value)
    assert.throws(() => verifyHotkeyRecord(hotkeyRecordToValue({ bytes: alice.bytes, signature: bob.signature }), { now: NOW }), { name: InvalidSignatureError.name })
  })

  it('refuses an expired record with HotkeyRecordExpiredError', async () => {
    const value = await signed('//Alice', { lifetimeMs: 60_000 })
    assert.doesNotThrow(() => verifyHotkeyRecord(value, { now: NOW + 59_999 }))
    assert.throws(() => verifyHotkeyRecord(value, { now: NOW + 60_000 }), { name: HotkeyRecordExpiredError.name })
  })

  it('refuses a lower seq than one known with StaleHotkeyRecordError, and the selector picks the highest valid seq', async () => {
    const old = await signed('//Alice', { seq: 5 })
    const fresh = await signed('//Alice', { seq: 9 })
    assert.throws(() => verifyHotkeyRecord(old, { now: NOW, minSeq: 9 }), { name: StaleHotkeyRecordError.name })
    const alice = (await uriSigner('//Alice')).ss58
    const key = hotkeyRecordKey(alice)
    const { bytes, signature } = hotkeyRecordFromValue(await signed('//Alice', { seq: 99 }))
    const forgedHigher = hotkeyRecordToValue({ bytes, signature: signature.map((b) => b ^ 0xff) })
    assert.equal(selectHotkeyRecord(key, [old, fresh, forgedHigher], NOW), 1)
    assert.equal(selectHotkeyRecord(key, [fresh, old], NOW), 0)
  })

  it('validates DHT entries against their key: the hotkey of /subwire-hk/, the PeerId of /subwire-pid/', async () => {
    const value = await signed()
    const alice = (await uriSigner('//Alice')).ss58
    const bob = (await uriSigner('//Bob')).ss58
    assert.equal(validateHotkeyRecordEntry(hotkeyRecordKey(alice), value, NOW).ss58, alice)
    assert.equal(validateHotkeyRecordEntry(peerRecordKey(PEER), value, NOW).peerId, PEER)
    assert.throws(() => validateHotkeyRecordEntry(hotkeyRecordKey(bob), value, NOW), { name: InvalidHotkeyRecordError.name })
    assert.throws(() => validateHotkeyRecordEntry(peerRecordKey(OTHER_PEER), value, NOW), { name: InvalidHotkeyRecordError.name })
    assert.throws(() => validateHotkeyRecordEntry(new TextEncoder().encode('/pk/xyz'), value, NOW), { name: InvalidHotkeyRecordError.name })
  })

  it('rejects malformed bytes with InvalidHotkeyRecordError, never another error', async () => {
    const { bytes } = hotkeyRecordFromValue(await signed())
    for (let cut = 0; cut < bytes.byteLength; cut += 7) {
      assert.throws(() => decodeHotkeyRecord(bytes.subarray(0, cut)), { name: InvalidHotkeyRecordError.name })
    }
    assert.throws(() => decodeHotkeyRecord(Uint8Array.from([...bytes, 0])), { name: InvalidHotkeyRecordError.name })
    assert.throws(() => hotkeyRecordFromValue(new Uint8Array(10)), { name: InvalidHotkeyRecordError.name })
    assert.throws(() => encodeHotkeyRecord({ ...decodeHotkeyRecord(bytes), multiaddrs: Array(33).fill('/ip4/1.2.3.4') }), { name: InvalidHotkeyRecordError.name })
  })

  it('names the record-peer mismatch error stably', () => {
    assert.equal(new RecordPeerMismatchError().name, RecordPeerMismatchError.name)
    assert.equal(new RecordPeerMismatchError().code, 'ERR_RECORD_PEER_MISMATCH')
  })
})
