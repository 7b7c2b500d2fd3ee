import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Keyring } from '@polkadot/keyring'
import { u8aWrapBytes } from '@polkadot/util'
import {
  decodeSs58, encodeSs58, InvalidSignatureError, InvalidSs58Error, isSs58, keypairSigner, SecretKey,
  seedSigner, uriSigner, verifyHotkeySignature, WrongSs58PrefixError, callbackSigner, HotkeyLoadError
} from '@subwire/shared'
import { inspect } from 'node:util'
import { cryptoWaitReady, mnemonicGenerate, sr25519PairFromSeed, sr25519Sign, sr25519Verify } from '@polkadot/util-crypto'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'

describe('identity', () => {
  before(async () => { await cryptoWaitReady() })

  it('derives //Alice to the well-known SS58 address', () => {
    assert.equal(uriSigner('//Alice').ss58, ALICE)
  })

  it('encodes and decodes SS58 with any network prefix', () => {
    const { publicKey } = decodeSs58(ALICE, 42)
    for (const prefix of [0, 2, 42, 63, 64, 255, 1000, 16383]) {
      const addr = encodeSs58(publicKey, prefix)
      const back = decodeSs58(addr)
      assert.equal(back.prefix, prefix)
      assert.deepEqual(back.publicKey, publicKey)
    }
  })

  it('rejects a wrong network prefix when one is required', () => {
    const polkadot = encodeSs58(decodeSs58(ALICE).publicKey, 0)
    assert.throws(() => decodeSs58(polkadot, 42), (e: Error) => e.name === WrongSs58PrefixError.name)
  })

  it('refuses the reserved prefixes 46 and 47 and out-of-range prefixes with InvalidSs58Error, both ways', async () => {
    const { publicKey } = decodeSs58(ALICE, 42)
    for (const prefix of [46, 47, 16384, -1, 2.5]) {
      assert.throws(() => encodeSs58(publicKey, prefix), (e: Error) => e.name === InvalidSs58Error.name, String(prefix))
    }
    // hand-build an address with prefix 46 (a valid checksum over a reserved prefix)
    const { base58Encode, blake2AsU8a } = await import('@polkadot/util-crypto')
    const body = Uint8Array.from([46, ...publicKey])
    const hash = blake2AsU8a(Uint8Array.from([...new TextEncoder().encode('SS58PRE'), ...body]), 512)
    const reserved = base58Encode(Uint8Array.from([...body, ...hash.subarray(0, 2)]))
    assert.throws(() => decodeSs58(reserved), (e: Error) => e.name === InvalidSs58Error.name && /reserved/.test(e.message))
    assert.equal(isSs58(reserved), false)
  })

  it('rejects a bad checksum, bad base58 and wrong lengths', () => {
    const broken = ALICE.slice(0, -1) + (ALICE.endsWith('Y') ? 'Z' : 'Y')
    for (const bad of [broken, 'not-base58-0OIl', '5Grwva', '']) {
      assert.throws(() => decodeSs58(bad), (e: Error) => e.name === InvalidSs58Error.name, bad)
      assert.equal(isSs58(bad), false)
    }
  })

  it('signs u8aWrapBytes(message) exactly as a polkadot-js extension does', async () => {
    const signer = uriSigner('//Alice')
    const msg = new TextEncoder().encode('hello subwire')
    const sig = await signer.sign(msg)
    // the same pair in a keyring verifies the wrapped bytes
    const pair = new Keyring({ type: 'sr25519' }).addFromUri('//Alice')
    assert.ok(pair.verify(u8aWrapBytes(msg), sig, pair.publicKey))
    verifyHotkeySignature(msg, sig, signer.publicKey)
  })

  it('strict verification refuses a signature over the unwrapped bytes', () => {
    const pair = new Keyring({ type: 'sr25519' }).addFromUri('//Alice')
    const msg = new TextEncoder().encode('hello subwire')
    const rawSig = pair.sign(msg)
    assert.throws(() => { verifyHotkeySignature(msg, rawSig, pair.publicKey) }, (e: Error) => e.name === InvalidSignatureError.name)
  })

  it('refuses another hotkey\'s signature and malformed signatures', async () => {
    const msg = new TextEncoder().encode('x')
    const bobSig = await uriSigner('//Bob').sign(msg)
    const alice = uriSigner('//Alice')
    for (const sig of [bobSig, new Uint8Array(64), new Uint8Array(10)]) {
      assert.throws(() => { verifyHotkeySignature(msg, sig, alice.publicKey) }, (e: Error) => e.name === InvalidSignatureError.name)
    }
  })

  it('builds signers from seeds and key pairs that agree with the URI signer', async () => {
    const seed = new Uint8Array(32).fill(7)
    const a = seedSigner(seed)
    const b = uriSigner('0x' + Buffer.from(seed).toString('hex'))
    assert.equal(a.ss58, b.ss58)
    const msg = new Uint8Array([1, 2, 3])
    verifyHotkeySignature(msg, await a.sign(msg), b.publicKey)
  })

  it('checks a callback signer\'s signatures once, locally', async () => {
    const alice = uriSigner('//Alice')
    const liar = callbackSigner(alice.ss58, async (m) => await uriSigner('//Bob').sign(m))
    await assert.rejects(liar.sign(new Uint8Array([1])), (e: Error) => e.name === InvalidSignatureError.name)
    const honest = callbackSigner(alice.ss58, async (m) => await alice.sign(m))
    assert.equal((await honest.sign(new Uint8Array([1]))).byteLength, 64)
  })

  it('derives the same keys as polkadot-js keyring for mnemonics, paths and passwords', () => {
    const keyring = new Keyring({ type: 'sr25519' })
    const m = mnemonicGenerate(12)
    for (const uri of ['//Alice', '//Bob//stash', `${m}`, `${m}//hard/soft`, `${m}/soft//hard///pw`, `0x${'ab'.repeat(32)}//0`]) {
      assert.equal(uriSigner(uri).ss58, keyring.addFromUri(uri).address, uri)
    }
  })

  it('interoperates with polkadot-js sr25519 both ways (strict wrapped verification)', async () => {
    const seed = new Uint8Array(32).fill(11)
    const pair = sr25519PairFromSeed(seed)
    const msg = new TextEncoder().encode('interop')
    const ours = await seedSigner(seed).sign(msg)
    assert.ok(sr25519Verify(u8aWrapBytes(msg), ours, pair.publicKey))
    verifyHotkeySignature(msg, sr25519Sign(u8aWrapBytes(msg), pair), pair.publicKey)
    // polkadot's 64-byte secret layout (btcli privateKey) signs the same key
    const fromPair = keypairSigner(pair)
    assert.ok(sr25519Verify(u8aWrapBytes(msg), await fromPair.sign(msg), pair.publicKey))
  })

  it('refuses a key pair whose secret is another key\'s', () => {
    const a = sr25519PairFromSeed(new Uint8Array(32).fill(1))
    const b = sr25519PairFromSeed(new Uint8Array(32).fill(2))
    assert.throws(() => keypairSigner({ publicKey: b.publicKey, secretKey: a.secretKey }), (e: Error) => e.name === HotkeyLoadError.name)
  })

  it('reports a bad secret URI as HotkeyLoadError', () => {
    assert.throws(() => uriSigner('not a mnemonic at all'), (e: Error) => e.name === HotkeyLoadError.name)
  })

  it('never prints secrets', () => {
    const secret = new SecretKey(new Uint8Array([1, 2, 3]))
    assert.equal(String(secret), 'SecretKey(..)')
    assert.equal(JSON.stringify({ secret }), '{"secret":"SecretKey(..)"}')
    assert.equal(inspect(secret), 'SecretKey(..)')
    const signer = seedSigner(new Uint8Array(32).fill(9))
    assert.ok(!inspect(signer, { depth: 5 }).includes('9, 9, 9'))
  })
})
