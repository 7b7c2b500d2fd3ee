/**
 * BIP-39 mnemonics to Substrate mini secrets, byte for byte as the JavaScript path of
 * `@polkadot/util-crypto`'s `mnemonicValidate` and `mnemonicToMiniSecret`: the English
 * wordlist, the entropy's checksum checked, then PBKDF2-HMAC-SHA512(entropy,
 * `mnemonic` ‖ password, 2048 rounds) and its first 32 bytes. Substrate derives from the
 * entropy, not from the BIP-39 seed of the phrase. On `@noble/hashes`, without the
 * util-crypto modules that load the `@polkadot/util` barrel and `@polkadot/wasm-crypto`.
 *
 * @packageDocumentation
 */
import { pbkdf2 } from '@noble/hashes/pbkdf2.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
// a plain array of the 2,048 words; the file imports nothing
import ENGLISH from '@polkadot/util-crypto/mnemonic/wordlists/en'


/** The BIP-39 entropy of an English mnemonic. Throws a plain `Error` with util-crypto's messages. */
export function mnemonicToEntropy (mnemonic: string): Uint8Array {
  const words = mnemonic.normalize('NFKD').split(' ')
  if (words.length % 3 !== 0) throw new Error('Invalid mnemonic')
  let bits = ''
  for (const word of words) {
    const index = ENGLISH.indexOf(word)
    if (index === -1) throw new Error('Invalid mnemonic')
    bits += index.toString(2).padStart(11, '0')
  }
  // ENT bits, then ENT / 32 checksum bits
  const divider = Math.floor(bits.length / 33) * 32
  const entropyBits = bits.slice(0, divider)
  const checksumBits = bits.slice(divider)
  const bytes = entropyBits.match(/(.{1,8})/g)?.map((b) => parseInt(b, 2))
  if (bytes === undefined || bytes.length % 4 !== 0 || bytes.length < 16 || bytes.length > 32) throw new Error('Invalid entropy')
  const entropy = new Uint8Array(bytes)
  if (checksumOf(entropy) !== checksumBits) throw new Error('Invalid mnemonic checksum')
  return entropy
}


/** The first ENT / 32 bits of sha256(entropy), as a string of `0`s and `1`s. */
function checksumOf (entropy: Uint8Array): string {
  let bits = ''
  for (const b of sha256(entropy)) bits += b.toString(2).padStart(8, '0')
  return bits.slice(0, (entropy.length * 8) / 32)
}


/** True if `mnemonic` is a valid English BIP-39 mnemonic of 12 to 24 words (checksum included). */
export function mnemonicValidate (mnemonic: string): boolean {
  try {
    mnemonicToEntropy(mnemonic)
  } catch {
    return false
  }
  return true
}


/**
 * The 32-byte Substrate mini secret of a mnemonic and an optional password. Throws a plain
 * `Error('Invalid bip39 mnemonic specified')` for an invalid mnemonic, as util-crypto does.
 */
export function mnemonicToMiniSecret (mnemonic: string, password = ''): Uint8Array {
  if (!mnemonicValidate(mnemonic)) throw new Error('Invalid bip39 mnemonic specified')
  const entropy = mnemonicToEntropy(mnemonic)
  const salt = new TextEncoder().encode(`mnemonic${password}`)
  return pbkdf2(sha512, entropy, salt, { c: 2048, dkLen: 64 }).slice(0, 32)
}
