import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import {
  DecryptionFailedError,
  EncryptionUnavailableError,
  InvalidFrameError,
  nobleBackend,
  webCryptoBackend
} from '@subwire/shared'
import {
  deriveStreamCipher,
  E2ePurpose,
  EncryptionKeyring,
  envelopeFromWire,
  fileDataCipher,
  openEnvelope,
  replyCipher,
  sealEnvelope
} from '@subwire/shared/protocol'
import type { E2eBackend } from '@subwire/shared'
import type { E2eContext } from '@subwire/shared/protocol'

interface Vector {
  recipientPrivate: string
  recipientPublic: string
  ephemeralPrivate: string
  ephemeralPublic: string
  sender: string
  recipient: string
  id: string
  purpose: number
  plaintext: string
  sharedSecret: string
  ciphertext: string
  reply: { plaintext: string, ciphertext: string }
  file: { receiverEphemeralPrivate: string, receiverEphemeralPublic: string, chunk0: string, sealed0: string, chunk1Last: string, sealed1: string }
}

const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex')
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))

function vectorFromDocs (): Vector {
  const doc = readFileSync(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8')
  const match = /```json e2e-vector\n([\s\S]*?)```/.exec(doc)
  assert.ok(match?.[1], 'docs/PROTOCOL.md has the e2e vector')
  return JSON.parse(match[1]) as Vector
}

const backends: E2eBackend[] = [webCryptoBackend(), nobleBackend()]

for (const backend of backends) {
  describe(`end-to-end encryption (${backend.name})`, () => {
    const v = vectorFromDocs()
    const context: E2eContext = { purpose: E2ePurpose.Message, sender: v.sender, recipient: v.recipient, id: v.id }

    it('reproduces the documented test vector byte for byte', async () => {
      const recipient = await backend.importPrivateKey(bytes(v.recipientPrivate))
      const ephemeral = await backend.importPrivateKey(bytes(v.ephemeralPrivate))
      assert.equal(hex(recipient.publicKey), v.recipientPublic)
      assert.equal(hex(ephemeral.publicKey), v.ephemeralPublic)
      const { envelope, state } = await sealEnvelope(backend, recipient.publicKey, context, bytes(v.plaintext), { ephemeral })
      assert.equal(hex(state.ikm), v.sharedSecret)
      assert.equal(hex(envelope.c), v.ciphertext)
      const reply = await replyCipher(backend, state.ikm, context, envelope.ek, envelope.rk)
      assert.equal(hex(await reply.seal(0, bytes(v.reply.plaintext), true)), v.reply.ciphertext)
      const receiverEphemeral = await backend.importPrivateKey(bytes(v.file.receiverEphemeralPrivate))
      assert.equal(hex(receiverEphemeral.publicKey), v.file.receiverEphemeralPublic)
      const ephemeralIkm = await backend.sharedSecret(ephemeral.privateKey, receiverEphemeral.publicKey)
      const file = await fileDataCipher(backend, state.ikm, ephemeralIkm, { sender: v.sender, recipient: v.recipient, id: v.id }, ephemeral.publicKey, recipient.publicKey, receiverEphemeral.publicKey)
      assert.equal(hex(await file.seal(0, bytes(v.file.chunk0), false)), v.file.sealed0)
      assert.equal(hex(await file.seal(1, bytes(v.file.chunk1Last), true)), v.file.sealed1)
    })

    it('opens the documented vector as the recipient, and the receiver side derives the same file key', async () => {
      const recipient = await backend.importPrivateKey(bytes(v.recipientPrivate))
      const envelope = { ek: bytes(v.ephemeralPublic), rk: bytes(v.recipientPublic), c: bytes(v.ciphertext) }
      const { plaintext, ikm } = await openEnvelope(backend, () => recipient, context, envelope)
      assert.equal(hex(plaintext), v.plaintext)
      const receiverEphemeral = await backend.importPrivateKey(bytes(v.file.receiverEphemeralPrivate))
      const ephemeralIkm = await backend.sharedSecret(receiverEphemeral.privateKey, envelope.ek)
      const file = await fileDataCipher(backend, ikm, ephemeralIkm, { sender: v.sender, recipient: v.recipient, id: v.id }, envelope.ek, envelope.rk, receiverEphemeral.publicKey)
      assert.equal(hex(await file.open(1, bytes(v.file.sealed1), true)), v.file.chunk1Last)
    })

    it('detects tampering, reordering, truncation and splicing as DecryptionFailedError', async () => {
      const ikm = crypto.getRandomValues(new Uint8Array(32))
      const a = await deriveStreamCipher(backend, ikm, new TextEncoder().encode('transfer a'))
      const b = await deriveStreamCipher(backend, ikm, new TextEncoder().encode('transfer b'))
      const c0 = await a.seal(0, new Uint8Array([1, 2, 3]), false)
      const c1 = await a.seal(1, new Uint8Array([4, 5, 6]), true)
      const tampered = c0.slice()
      tampered[1] = (tampered[1] ?? 0) ^ 1
      const failures: Array<[string, () => Promise<unknown>]> = [
        ['bit flip', async () => await a.open(0, tampered, false)],
        ['reordered', async () => await a.open(0, c1, false)],
        ['truncated (non-final chunk taken as last)', async () => await a.open(0, c0, true)],
        ['final flag stripped', async () => await a.open(1, c1, false)],
        ['spliced from another transfer', async () => await b.open(0, c0, false)],
        ['shorter than a tag', async () => await a.open(0, new Uint8Array(5), false)]
      ]
      for (const [what, p] of failures) {
        await assert.rejects(p(), (err: Error) => err.name === DecryptionFailedError.name, what)
      }
      assert.deepEqual(await a.open(1, c1, true), new Uint8Array([4, 5, 6]))
    })

    it('binds the key to both SS58s, the id and the purpose', async () => {
      const r = await backend.generateKeyPair()
      const { envelope } = await sealEnvelope(backend, r.publicKey, context, new Uint8Array([9]))
      for (const other of [{ ...context, sender: v.recipient }, { ...context, recipient: v.sender }, { ...context, id: 'x' }, { ...context, purpose: E2ePurpose.Request }]) {
        await assert.rejects(openEnvelope(backend, () => r, other, envelope), (err: Error) => err.name === DecryptionFailedError.name)
      }
    })

    it('refuses an envelope for a key it does not hold, and a low-order public key', async () => {
      const r = await backend.generateKeyPair()
      const { envelope } = await sealEnvelope(backend, r.publicKey, context, new Uint8Array([1]))
      await assert.rejects(openEnvelope(backend, () => undefined, context, envelope), (err: Error) => err.name === DecryptionFailedError.name)
      await assert.rejects(backend.sharedSecret(r.privateKey, new Uint8Array(32)), (err: Error) => err.name === DecryptionFailedError.name)
      await assert.rejects(sealEnvelope(backend, undefined, context, new Uint8Array(1)), (err: Error) => err.name === EncryptionUnavailableError.name)
    })

    it('round-trips any payload and rejects any single-byte corruption (property)', async () => {
      const r = await backend.generateKeyPair()
      await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.nat(), async (payload, at) => {
        const { envelope } = await sealEnvelope(backend, r.publicKey, context, payload)
        assert.deepEqual((await openEnvelope(backend, () => r, context, envelope)).plaintext, payload)
        const broken = envelope.c.slice()
        const i = at % broken.byteLength
        broken[i] = (broken[i] ?? 0) ^ 0x80
        await assert.rejects(openEnvelope(backend, () => r, context, { ...envelope, c: broken }), (err: Error) => err.name === DecryptionFailedError.name)
      }), { numRuns: 50 })
    })
  })
}

describe('encryption keyring', () => {
  it('keeps a rotated key until the given time, then forgets it', async () => {
    const ring = new EncryptionKeyring(webCryptoBackend())
    const first = await ring.rotate(0)
    const second = await ring.rotate(Date.now() + 60_000)
    assert.equal(ring.current, second)
    assert.equal(ring.lookup(first.publicKey), first)
    assert.equal(ring.lookup(second.publicKey), second)
    await ring.rotate(Date.now() - 1)
    assert.equal(ring.lookup(second.publicKey), undefined, 'expired previous key is gone')
    assert.equal(ring.lookup(first.publicKey), first, 'still within its window')
    ring.clear()
    assert.equal(ring.lookup(first.publicKey), undefined)
  })

  it('never prints a private key', async () => {
    const pair = await webCryptoBackend().generateKeyPair()
    assert.equal(String(pair.privateKey), 'SecretKey(x25519)')
    assert.equal(`${pair.privateKey}`, 'SecretKey(x25519)')
  })

  it('rejects malformed envelopes as InvalidFrameError', () => {
    for (const bad of [null, 1, {}, { ek: new Uint8Array(31), rk: new Uint8Array(32), c: new Uint8Array(16) }, { ek: new Uint8Array(32), rk: new Uint8Array(32), c: new Uint8Array(15) }]) {
      assert.throws(() => envelopeFromWire(bad), (err: Error) => err.name === InvalidFrameError.name)
    }
  })
})
