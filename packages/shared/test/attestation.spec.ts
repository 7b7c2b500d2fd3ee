import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { before, describe, it } from 'node:test'
import {
  AttestationExpiredError,
  AttestationFromFutureError,
  createAttestation,
  InvalidAttestationError,
  InvalidSignatureError,
  PeerIdMismatchError,
  uriSigner,
  verifyAttestation,
  WrongSs58PrefixError,
  encodeSs58,
  callbackSigner
} from '@subwire/shared'
import { decodeAttestation, encodeAttestation, SignatureCache } from '@subwire/shared/protocol'
import type { Attestation } from '@subwire/shared'

const PEER = '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831'
const OTHER_PEER = '12D3KooWHnBKRaAMYtxcfhQFtivMB3rkwEus8Lp9XMZrn2qPuBAL'
const NOW = 1767225600000

interface Vector { ss58: string, peerId: string, netuids: number[], issuedAt: number, expiresAt: number, nonce: string, bytes: string, signature: string }

function vectorFromDocs (): Vector {
  const doc = readFileSync(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  const match = /```json attestation-vector\n([\s\S]*?)```/.exec(doc)
  assert.ok(match?.[1], 'docs/PROTOCOL.md has the attestation vector')
  return JSON.parse(match[1]) as Vector
}

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

describe('attestation', () => {

  it('encodes the documented test vector byte for byte and accepts its signature', () => {
    const v = vectorFromDocs()
    const alice = uriSigner('//Alice')
    const bytes = encodeAttestation({
      version: 1, ss58Prefix: 42, publicKey: alice.publicKey, peerId: v.peerId, netuids: v.netuids,
      issuedAt: v.issuedAt, expiresAt: v.expiresAt, nonce: hex(v.nonce)
    })
    assert.equal(Buffer.from(bytes).toString('hex'), v.bytes)
    const a = verifyAttestation(hex(v.bytes), hex(v.signature), { expectedPeerId: v.peerId, now: v.issuedAt + 1000, ss58Prefix: 42 })
    assert.equal(a.ss58, v.ss58)
    assert.deepEqual(a.netuids, v.netuids)
  })

  it('signs and verifies, returning the verified fields', async () => {
    const alice = uriSigner('//Alice')
    const s = await createAttestation(alice, { peerId: PEER, netuids: [42, 1, 42], now: NOW })
    const a = verifyAttestation(s.bytes, s.signature, { expectedPeerId: PEER, now: NOW })
    assert.equal(a.ss58, alice.ss58)
    assert.equal(a.peerId, PEER)
    assert.deepEqual(a.netuids, [1, 42])
    assert.equal(a.expiresAt - a.issuedAt, 24 * 3600 * 1000)
  })

  it('rejects every tampered byte', async () => {
    const s = await createAttestation(uriSigner('//Alice'), { peerId: PEER, netuids: [42], now: NOW })
    for (let i = 0; i < s.bytes.byteLength; i++) {
      const tampered = s.bytes.slice()
      tampered[i] = (tampered[i] ?? 0) ^ 0x01
      assert.throws(() => verifyAttestation(tampered, s.signature, { expectedPeerId: PEER, now: NOW }),
        (e: Error) => [InvalidSignatureError.name, InvalidAttestationError.name, PeerIdMismatchError.name].includes(e.name), `byte ${i}`)
    }
  })

  it('rejects an attestation for another PeerId', async () => {
    const s = await createAttestation(uriSigner('//Alice'), { peerId: PEER, netuids: [42], now: NOW })
    assert.throws(() => verifyAttestation(s.bytes, s.signature, { expectedPeerId: OTHER_PEER, now: NOW }), (e: Error) => e.name === PeerIdMismatchError.name)
  })

  it('rejects a signature by a different hotkey', async () => {
    const alice = uriSigner('//Alice')
    const bob = uriSigner('//Bob')
    const s = await createAttestation(alice, { peerId: PEER, netuids: [42], now: NOW })
    const bobSig = await bob.sign(s.bytes)
    assert.throws(() => verifyAttestation(s.bytes, bobSig, { expectedPeerId: PEER, now: NOW }), (e: Error) => e.name === InvalidSignatureError.name)
  })

  it('rejects an expired attestation', async () => {
    const s = await createAttestation(uriSigner('//Alice'), { peerId: PEER, netuids: [42], now: NOW, lifetimeMs: 60_000 })
    assert.throws(() => verifyAttestation(s.bytes, s.signature, { expectedPeerId: PEER, now: NOW + 60_000 + 31_000 }), (e: Error) => e.name === AttestationExpiredError.name)
  })

  it('rejects an attestation issued in the future beyond the clock skew, accepts within it', async () => {
    const s = await createAttestation(uriSigner('//Alice'), { peerId: PEER, netuids: [42], now: NOW + 60_000 })
    assert.throws(() => verifyAttestation(s.bytes, s.signature, { expectedPeerId: PEER, now: NOW }), (e: Error) => e.name === AttestationFromFutureError.name)
    const t = await createAttestation(uriSigner('//Alice'), { peerId: PEER, netuids: [42], now: NOW + 10_000 })
    assert.equal(verifyAttestation(t.bytes, t.signature, { expectedPeerId: PEER, now: NOW }).peerId, PEER)
  })

  it('rejects a hotkey on the wrong network prefix', async () => {
    const alice = uriSigner('//Alice')
    const polkadotAlice = callbackSigner(encodeSs58(alice.publicKey, 0), async (m) => await alice.sign(m))
    const s = await createAttestation(polkadotAlice, { peerId: PEER, netuids: [42], now: NOW })
    assert.throws(() => verifyAttestation(s.bytes, s.signature, { expectedPeerId: PEER, now: NOW, ss58Prefix: 42 }), (e: Error) => e.name === WrongSs58PrefixError.name)
  })

  it('rejects lifetimes over 7 days even when well signed', async () => {
    const alice = uriSigner('//Alice')
    const fields: Omit<Attestation, 'ss58'> = { version: 1, ss58Prefix: 42, publicKey: alice.publicKey, peerId: PEER, netuids: [], issuedAt: NOW, expiresAt: NOW + 8 * 24 * 3600 * 1000, nonce: new Uint8Array(16) }
    const bytes = encodeAttestation(fields)
    const sig = await alice.sign(bytes)
    assert.throws(() => verifyAttestation(bytes, sig, { expectedPeerId: PEER, now: NOW }), (e: Error) => e.name === InvalidAttestationError.name)
  })

  it('rejects trailing bytes, truncation and a wrong domain tag', async () => {
    const s = await createAttestation(uriSigner('//Alice'), { peerId: PEER, netuids: [42], now: NOW })
    const longer = new Uint8Array(s.bytes.byteLength + 1); longer.set(s.bytes)
    for (const bad of [longer, s.bytes.subarray(0, s.bytes.byteLength - 1), s.bytes.subarray(0, 10), new Uint8Array(0)]) {
      assert.throws(() => decodeAttestation(bad), (e: Error) => e.name === InvalidAttestationError.name)
    }
    const wrongTag = s.bytes.slice(); wrongTag[0] = 0x41
    assert.throws(() => decodeAttestation(wrongTag), (e: Error) => e.name === InvalidAttestationError.name)
  })

  it('rejects the reserved SS58 prefixes 46 and 47 and prefixes over 16383 with InvalidAttestationError', async () => {
    const s = await createAttestation(uriSigner('//Alice'), { peerId: PEER, netuids: [42], now: NOW })
    // the prefix is the u16 right after the 19-byte domain tag and the version byte
    for (const prefix of [46, 47, 16384, 65535]) {
      const bad = s.bytes.slice()
      new DataView(bad.buffer).setUint16(20, prefix)
      assert.throws(() => decodeAttestation(bad), (e: Error) => e.name === InvalidAttestationError.name && e.message.includes(String(prefix)), String(prefix))
    }
    const alice = uriSigner('//Alice')
    for (const ss58Prefix of [46, 47, -1, 1.5]) {
      assert.throws(() => encodeAttestation({ version: 1, ss58Prefix, publicKey: alice.publicKey, peerId: PEER, netuids: [], issuedAt: NOW, expiresAt: NOW + 1, nonce: new Uint8Array(16) }),
        (e: Error) => e.name === InvalidAttestationError.name, String(ss58Prefix))
    }
  })

  it('decodes what it encodes, including an encryption key slot', () => {
    const alice = uriSigner('//Alice')
    const fields = { version: 1, ss58Prefix: 42, publicKey: alice.publicKey, peerId: PEER, netuids: [0, 7, 65535], issuedAt: NOW, expiresAt: NOW + 1, nonce: new Uint8Array(16).fill(3), encryptionKey: new Uint8Array(32).fill(5) }
    const back = decodeAttestation(encodeAttestation(fields))
    assert.deepEqual({ ...back, ss58: undefined }, { ...fields, ss58: undefined })
  })

  it('remembers a verified signature, but still checks the PeerId, the expiry, and a signature it has not seen', async () => {
    const alice = uriSigner('//Alice')
    const { bytes, signature } = await createAttestation(alice, { peerId: PEER, netuids: [1], now: NOW })
    let verifications = 0
    const cache = new SignatureCache(2)
    const counting = { has: (k: string) => cache.has(k), add: (k: string) => { verifications++; cache.add(k) } }
    verifyAttestation(bytes, signature, { expectedPeerId: PEER, now: NOW, verified: counting })
    verifyAttestation(bytes, signature, { expectedPeerId: PEER, now: NOW, verified: counting })
    assert.equal(verifications, 1, 'the second connection with the same attestation skips the sr25519 verification')
    assert.throws(() => verifyAttestation(bytes, signature, { expectedPeerId: OTHER_PEER, now: NOW, verified: counting }), (e: Error) => e.name === PeerIdMismatchError.name)
    assert.throws(() => verifyAttestation(bytes, signature, { expectedPeerId: PEER, now: NOW + 48 * 3600_000, verified: counting }), (e: Error) => e.name === AttestationExpiredError.name)
    const forged = signature.slice()
    forged[10] = (forged[10] as number) ^ 1
    assert.throws(() => verifyAttestation(bytes, forged, { expectedPeerId: PEER, now: NOW, verified: counting }), (e: Error) => e.name === InvalidSignatureError.name)
    const tampered = bytes.slice()
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    assert.throws(() => verifyAttestation(tampered, signature, { expectedPeerId: PEER, now: NOW, verified: counting }))
    // bounded: two newer entries push the first one out
    cache.add('x')
    cache.add('y')
    assert.equal(cache.has(SignatureCache.key(bytes, signature)), false)
  })
})
