// Pins shared's own base58, SS58, BIP-39, secret-URI and byte-wrapping code to the
// @polkadot implementations it replaced (shared no longer loads @polkadot/util or
// @polkadot/util-crypto at run time; they stay here, as the reference).
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { Keyring } from '@polkadot/keyring'
import { hexToU8a as polkadotHexToU8a, isHex as polkadotIsHex, u8aWrapBytes } from '@polkadot/util'
import {
  base58Decode as polkadotBase58Decode, base58Encode as polkadotBase58Encode, blake2AsU8a, checkAddressChecksum,
  cryptoWaitReady, encodeAddress, keyExtractSuri, mnemonicGenerate, mnemonicToMiniSecret as polkadotMiniSecret,
  mnemonicValidate as polkadotValidate
} from '@polkadot/util-crypto'
import { decodeSs58, encodeSs58, InvalidSs58Error, isSs58, isSs58Prefix, uriSigner, WrongSs58PrefixError, wrapBytes } from '@subwire/shared'
import { base58Decode, base58Encode } from '../src/identity/base58.ts'
import { mnemonicToMiniSecret, mnemonicValidate } from '../src/identity/mnemonic.ts'
import { extractSuri } from '../src/identity/suri.ts'
import { hexToBytes, isHex } from '../src/bytes.ts'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** decodeSs58 as it was on @polkadot/util-crypto (976b2e9), the reference. */
function referenceDecodeSs58 (address: string, expectedPrefix?: number): { prefix: number, publicKey: Uint8Array } {
  let raw: Uint8Array
  try {
    raw = polkadotBase58Decode(address)
  } catch (err) {
    throw new InvalidSs58Error(`Invalid SS58 address "${address}": not base58`, { cause: err })
  }
  const prefixLength = raw[0] !== undefined && (raw[0] & 0b0100_0000) !== 0 ? 2 : 1
  if (raw.byteLength !== prefixLength + 32 + 2) throw new InvalidSs58Error(`Invalid SS58 address "${address}": not a 32-byte key`)
  const b0 = raw[0] ?? 0
  const b1 = raw[1] ?? 0
  const prefix = prefixLength === 1 ? b0 : ((b0 & 0b0011_1111) << 2) | (b1 >> 6) | ((b1 & 0b0011_1111) << 8)
  if (b0 >= 0x80 || !isSs58Prefix(prefix)) throw new InvalidSs58Error(`Invalid SS58 address "${address}": network prefix ${prefix} is reserved`)
  const [valid] = checkAddressChecksum(raw)
  if (!valid) throw new InvalidSs58Error(`Invalid SS58 address "${address}": bad checksum`)
  if (expectedPrefix !== undefined && prefix !== expectedPrefix) {
    throw new WrongSs58PrefixError(`SS58 address "${address}" has network prefix ${prefix}, expected ${expectedPrefix}`)
  }
  return { prefix, publicKey: raw.slice(prefixLength, prefixLength + 32) }
}

/** What `f()` gives: its value, or the thrown error's name, message and cause's message. */
function outcome (f: () => unknown): unknown {
  try {
    return { ok: f() }
  } catch (err) {
    const e = err as Error
    return { name: e.name, message: e.message, cause: (e.cause as Error | undefined)?.message }
  }
}

/** An address with a valid checksum over any first bytes (reserved or not), built with polkadot's blake2. */
function handBuilt (head: number[], key: Uint8Array): string {
  const body = Uint8Array.from([...head, ...key])
  const hash = blake2AsU8a(Uint8Array.from([...new TextEncoder().encode('SS58PRE'), ...body]), 512)
  return polkadotBase58Encode(Uint8Array.from([...body, ...hash.subarray(0, 2)]))
}

describe('parity with @polkadot: base58', () => {
  it('encodes and decodes random bytes (leading zeros, empty) exactly as util-crypto', () => {
    for (let i = 0; i < 500; i++) {
      const bytes = random(i % 70)
      if (i % 5 === 0) bytes.fill(0, 0, Math.min(bytes.length, 3))
      const s = base58Encode(bytes)
      assert.equal(s, polkadotBase58Encode(bytes), hex(bytes))
      assert.deepEqual(base58Decode(s), polkadotBase58Decode(s))
    }
  })

  it('refuses the same strings with the same messages', () => {
    for (const s of ['0', 'O', 'I', 'l', 'abc0', 'ab cd', '12D3Koo+', 'é', '😀', '5Grwva\n', '', '1', '111']) {
      assert.deepEqual(outcome(() => base58Decode(s)), outcome(() => polkadotBase58Decode(s)), s)
    }
  })
})

describe('parity with @polkadot: SS58', () => {
  before(async () => { await cryptoWaitReady() })

  it('encodes //Alice with prefix 42 (Bittensor) to the well-known address', () => {
    const { publicKey } = decodeSs58(ALICE)
    assert.equal(encodeSs58(publicKey, 42), ALICE)
    assert.equal(encodeSs58(publicKey), ALICE)
    assert.equal(encodeAddress(publicKey, 42), ALICE)
  })

  it('encodes a random key under every prefix 0-16383 as encodeAddress does, and decodes it back', () => {
    for (let prefix = 0; prefix <= 16383; prefix++) {
      if (prefix === 46 || prefix === 47) continue
      const key = random(32)
      const address = encodeSs58(key, prefix)
      assert.equal(address, encodeAddress(key, prefix), `${prefix} ${hex(key)}`)
      const back = decodeSs58(address, prefix)
      assert.equal(back.prefix, prefix)
      assert.deepEqual(back.publicKey, key)
      assert.deepEqual(back, referenceDecodeSs58(address, prefix))
    }
  })

  it('refuses every one-character change and every checksum-byte flip as the reference does', () => {
    for (const prefix of [0, 2, 42, 63, 64, 255, 1000, 16383]) {
      const key = random(32)
      const address = encodeSs58(key, prefix)
      const raw = polkadotBase58Decode(address)
      for (const at of [raw.length - 1, raw.length - 2]) {
        const bad = raw.slice()
        bad[at] = (bad[at] as number) ^ (1 << (at % 8))
        const s = polkadotBase58Encode(bad)
        assert.equal(checkAddressChecksum(bad)[0], false)
        assert.throws(() => decodeSs58(s), (e: Error) => e.name === InvalidSs58Error.name && /bad checksum/.test(e.message))
        assert.deepEqual(outcome(() => decodeSs58(s)), outcome(() => referenceDecodeSs58(s)), s)
      }
      for (let i = 0; i < address.length; i++) {
        const c = B58[(B58.indexOf(address[i] as string) + 1 + (i % 50)) % 58] as string
        const s = address.slice(0, i) + c + address.slice(i + 1)
        const reference = outcome(() => referenceDecodeSs58(s)) as object
        assert.deepEqual(outcome(() => decodeSs58(s)), reference, s)
        assert.equal(isSs58(s), 'ok' in reference, s)
      }
    }
  })

  it('gives the reference outcome for reserved first bytes, wrong lengths, wrong prefixes and junk', () => {
    const key = random(32)
    const inputs = [
      handBuilt([46], key), handBuilt([47], key), handBuilt([0x80], key), handBuilt([0xff], key), handBuilt([0x40, 0x00], key),
      handBuilt([42], key.subarray(0, 31)), handBuilt([42], random(33)), handBuilt([0x7f, 0xff], key),
      ALICE, ALICE.slice(0, -1), `${ALICE}1`, '', '5Grwva', 'not-base58-0OIl', polkadotBase58Encode(random(36))
    ]
    for (const s of inputs) {
      for (const expected of [undefined, 42, 0]) {
        assert.deepEqual(outcome(() => decodeSs58(s, expected)), outcome(() => referenceDecodeSs58(s, expected)), `${s} ${expected}`)
      }
    }
  })
})

describe('parity with @polkadot: mnemonics', () => {
  before(async () => { await cryptoWaitReady() })

  it('derives the mini secret of 20 random mnemonics (12 and 24 words, with and without password) as util-crypto does', () => {
    const passwords = ['', 'pw', 'correct horse', 'ünïcødé ☃', 'a'.repeat(200)]
    for (let i = 0; i < 20; i++) {
      const m = mnemonicGenerate(i % 2 === 0 ? 12 : 24)
      const password = i < 4 ? undefined : passwords[i % passwords.length]
      const ours = mnemonicToMiniSecret(m, password)
      assert.equal(ours.length, 32)
      // wasm-crypto's path (after cryptoWaitReady) and the JavaScript one
      assert.deepEqual(ours, polkadotMiniSecret(m, password), m)
      assert.deepEqual(ours, polkadotMiniSecret(m, password, undefined, true), m)
      assert.equal(mnemonicValidate(m), true)
    }
  })

  it('accepts and refuses the same phrases: bad checksum, unknown word, word counts, case, spacing', () => {
    const m12 = mnemonicGenerate(12)
    const words = m12.split(' ')
    const phrases = [
      'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon',
      'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
      'bottom drive obey lake curtain smoke basket hold race lonely fit walk',
      [...words.slice(0, 11), words[11] === 'zoo' ? 'zone' : 'zoo'].join(' '),
      [...words.slice(0, 11), 'notaword'].join(' '),
      words.slice(0, 11).join(' '), words.slice(0, 9).join(' '), `${m12} ${m12}`,
      mnemonicGenerate(15), mnemonicGenerate(18), mnemonicGenerate(21), mnemonicGenerate(24),
      m12.toUpperCase(), ` ${m12}`, m12.replace(' ', '  '), '', 'abandon'
    ]
    for (const p of phrases) {
      assert.equal(mnemonicValidate(p), polkadotValidate(p, undefined, true), p)
      assert.deepEqual(outcome(() => mnemonicToMiniSecret(p)), outcome(() => polkadotMiniSecret(p, undefined, undefined, true)), p)
    }
    assert.throws(() => mnemonicToMiniSecret(phrases[0] as string), /Invalid bip39 mnemonic specified/)
  })
})

describe('parity with @polkadot: secret URIs', () => {
  before(async () => { await cryptoWaitReady() })

  const m = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk'
  const uris = [
    m, `${m}//Alice`, `${m}//hard/soft`, `${m}/soft//hard///pw`, `${m}///`, `${m}///pass word ///x`, `${m}//0`, `${m}/1//42`,
    `${m}//4294967296`, `${m}//${(2n ** 256n - 1n).toString()}`, `${m}//${(2n ** 256n).toString()}`, `${m}//007`,
    `${m}//0x`, `${m}//0xdeadbeef`, `${m}//0xabc`, `${m}//0x${'ab'.repeat(40)}`, `${m}//${'x'.repeat(31)}`, `${m}//${'x'.repeat(32)}`,
    `${m}//${'long'.repeat(30)}`, `${m}/${'y'.repeat(20000)}`, `${m}//café/naïve`, `${m}//cafe\u0301`, `${m}//☃`,
    `0x${'ab'.repeat(32)}`, `0x${'AB'.repeat(32)}//0/x`, `0x${'ab'.repeat(16)}`, '0x', `${m}/`, `${m}//`, `${m}////x`, 'a b', '', 'x  y'
  ]

  it('splits URIs into the phrase, password and chain codes keyExtractSuri gives', () => {
    for (const uri of uris) {
      const mine = outcome(() => {
        const s = extractSuri(uri)
        return { derivePath: s.derivePath, password: s.password, phrase: s.phrase, path: s.path.map((j) => ({ isHard: j.isHard, chainCode: hex(j.chainCode) })) }
      })
      const theirs = outcome(() => {
        const s = keyExtractSuri(uri)
        return { derivePath: s.derivePath, password: s.password, phrase: s.phrase, path: s.path.map((j) => ({ isHard: j.isHard, chainCode: hex(j.chainCode) })) }
      })
      assert.deepEqual(mine, theirs, uri.slice(0, 120))
    }
  })

  it('derives the addresses polkadot-js keyring derives, for dev URIs, mnemonics with paths and passwords, and hex seeds', () => {
    const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 })
    const random12 = mnemonicGenerate(12)
    const random24 = mnemonicGenerate(24)
    const cases = [
      '//Alice', '//Bob', '//Bob//stash', '//Alice/0', '//1', '///pw', ...uris,
      random12, `${random12}//hard/soft`, `${random12}/soft//hard///pw`, `${random24}//0/1//2///ünïcødé`, `${random24}///p`
    ]
    assert.equal(uriSigner('//Alice').ss58, ALICE)
    let compared = 0
    for (const uri of cases) {
      let ours: string
      try {
        ours = uriSigner(uri).ss58
      } catch {
        continue // refused on purpose (see below) or by util-crypto's own rules
      }
      assert.equal(ours, keyring.addFromUri(uri).address, uri.slice(0, 120))
      compared++
    }
    assert.ok(compared >= 30, String(compared))
  })

  it('keeps refusing what it refused: bad checksums, a junction beyond 256 bits, free text', () => {
    for (const uri of [
      'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon',
      `${m}//${(2n ** 256n).toString()}`, 'not a mnemonic at all', `${m}//`, ''
    ]) {
      assert.throws(() => uriSigner(uri), (e: Error) => e.name === 'HotkeyLoadError', uri)
    }
    assert.throws(() => uriSigner(`${m}//${(2n ** 256n).toString()}`), /byte array longer than desired length/)
  })
})

describe('parity with @polkadot: byte helpers', () => {
  it('wraps bytes as u8aWrapBytes does (plain, wrapped already, Ethereum-prefixed, short)', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
    const cases = [
      new Uint8Array(0), random(1), random(100), enc('<Bytes>'), enc('</Bytes>'), enc('<Bytes></Bytes>'), enc('<Bytes>x</Bytes>'),
      enc('<Bytes>x</Bytes'), enc('<Bytes</Bytes>'), enc('\x19Ethereum Signed Message:\n'), enc('\x19Ethereum Signed Message:\n32abc'),
      enc('\x19Ethereum Signed Message:'), enc('x<Bytes>x</Bytes>')
    ]
    for (const c of cases) assert.deepEqual(wrapBytes(c), u8aWrapBytes(c), hex(c))
  })

  it('reads hex as isHex and hexToU8a do', () => {
    for (const s of ['0x', '0x00', '0xAbCd', '0xabc', 'abcd', '0xg0', '0x' + 'ab'.repeat(32), '0x' + 'ab'.repeat(33), '', '0X00', ' 0x00']) {
      assert.equal(isHex(s), polkadotIsHex(s), s)
      assert.equal(isHex(s, 256), polkadotIsHex(s, 256), s)
      if (isHex(s)) assert.deepEqual(hexToBytes(s), polkadotHexToU8a(s), s)
    }
  })
})
