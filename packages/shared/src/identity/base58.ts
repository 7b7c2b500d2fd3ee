/**
 * Base58 (the Bitcoin alphabet) for SS58 addresses and libp2p PeerIds, as
 * `@polkadot/util-crypto`'s `base58Encode`/`base58Decode` do it, on the same
 * `@scure/base` coder underneath. Importing util-crypto's `base58` subpath also loaded the
 * whole `@polkadot/util` barrel and `@polkadot/wasm-crypto` (~100 ms and ~50 MiB for every
 * CLI command); this module loads `@scure/base` only.
 *
 * @packageDocumentation
 */
import { base58 } from '@scure/base'


const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'


/** Base58 of `bytes` (leading zero bytes become leading `1`s). */
export function base58Encode (bytes: Uint8Array): string {
  return base58.encode(bytes)
}


/**
 * Decodes base58. Throws a plain `Error` naming the first character outside the alphabet
 * (the message util-crypto's `base58Validate` gives), or `@scure/base`'s own error.
 */
export function base58Decode (value: string): Uint8Array {
  if (typeof value !== 'string') throw new Error('Expected base58 string input')
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string
    if (!ALPHABET.includes(c)) {
      throw new Error(`Invalid base58 character "${c}" (0x${value.charCodeAt(i).toString(16)}) at index ${i}`)
    }
  }
  return base58.decode(value)
}
