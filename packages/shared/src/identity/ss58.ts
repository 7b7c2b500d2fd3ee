/**
 * SS58 addresses: encode, decode with checksum and network-prefix checks, byte for byte
 * as `@polkadot/util-crypto`'s `encodeAddress` and `checkAddressChecksum` (base58 of
 * prefix ‖ public key ‖ the first two bytes of blake2b-512(`SS58PRE` ‖ prefix ‖ public key)),
 * on `@scure/base` and `@noble/hashes` without loading util-crypto.
 *
 * @packageDocumentation
 */
import { blake2b } from '@noble/hashes/blake2.js'
import { BITTENSOR_SS58_PREFIX } from '../constants.ts'
import { InvalidSs58Error, WrongSs58PrefixError } from '../errors/index.ts'
import { base58Decode, base58Encode } from './base58.ts'


/** An SS58 address decoded into its parts. */
export interface DecodedSs58 {
  /** Network prefix (42 for Bittensor). */
  prefix: number
  /** 32-byte public key. */
  publicKey: Uint8Array
}


/**
 * True if `prefix` is an SS58 network prefix an address can carry: an integer in
 * 0..16383, except 46 and 47, which the SS58 registry reserves.
 */
export function isSs58Prefix (prefix: number): boolean {
  return Number.isInteger(prefix) && prefix >= 0 && prefix <= 16383 && prefix !== 46 && prefix !== 47
}


/**
 * Encodes a 32-byte public key as SS58 with the given network prefix (default 42).
 * Throws {@link InvalidSs58Error} for a key of another length or a prefix
 * {@link isSs58Prefix} refuses.
 */
export function encodeSs58 (publicKey: Uint8Array, prefix = BITTENSOR_SS58_PREFIX): string {
  if (publicKey.byteLength !== 32) throw new InvalidSs58Error('Public key must be 32 bytes')
  if (!isSs58Prefix(prefix)) throw new InvalidSs58Error(`SS58 network prefix ${prefix} is out of range or reserved`)
  const head = prefixBytes(prefix)
  const input = new Uint8Array(head.length + 32)
  input.set(head, 0)
  input.set(publicKey, head.length)
  const out = new Uint8Array(input.length + 2)
  out.set(input, 0)
  out.set(ss58Hash(input).subarray(0, 2), input.length)
  return base58Encode(out)
}


/** `SS58PRE`, the context string the SS58 checksum hashes first. */
const SS58_CONTEXT = Uint8Array.of(0x53, 0x53, 0x35, 0x38, 0x50, 0x52, 0x45)


/** blake2b-512(`SS58PRE` ‖ `bytes`): the checksum's hash (util-crypto's `sshash`). */
function ss58Hash (bytes: Uint8Array): Uint8Array {
  const data = new Uint8Array(SS58_CONTEXT.length + bytes.length)
  data.set(SS58_CONTEXT, 0)
  data.set(bytes, SS58_CONTEXT.length)
  return blake2b(data, { dkLen: 64 })
}


/**
 * The prefix bytes of a network prefix: one byte below 64, else the two-byte "full" form
 * (`0b01` ‖ the prefix's bits 2-7, then bits 0-1 ‖ bits 8-13), as util-crypto writes it.
 */
function prefixBytes (prefix: number): Uint8Array {
  return prefix < 64
    ? Uint8Array.of(prefix)
    : Uint8Array.of(((prefix & 0b0000_0000_1111_1100) >> 2) | 0b0100_0000, (prefix >> 8) | ((prefix & 0b0000_0000_0000_0011) << 6))
}


/**
 * Decodes and validates an SS58 address of a 32-byte key (any network prefix; pass
 * `expectedPrefix` to require one). Throws {@link InvalidSs58Error} or {@link WrongSs58PrefixError}.
 */
export function decodeSs58 (address: string, expectedPrefix?: number): DecodedSs58 {
  let raw: Uint8Array
  try {
    raw = base58Decode(address)
  } catch (err) {
    throw new InvalidSs58Error(`Invalid SS58 address "${address}": not base58`, { cause: err })
  }
  const prefixLength = raw[0] !== undefined && (raw[0] & 0b0100_0000) !== 0 ? 2 : 1
  // 32-byte key + 2 checksum bytes
  if (raw.byteLength !== prefixLength + 32 + 2) {
    throw new InvalidSs58Error(`Invalid SS58 address "${address}": not a 32-byte key`)
  }
  const b0 = raw[0] ?? 0
  const b1 = raw[1] ?? 0
  const prefix = prefixLength === 1
    ? b0
    : ((b0 & 0b0011_1111) << 2) | (b1 >> 6) | ((b1 & 0b0011_1111) << 8)
  // 0b1xxx_xxxx first bytes are not addresses; 46 and 47 are reserved by the registry
  if (b0 >= 0x80 || !isSs58Prefix(prefix)) throw new InvalidSs58Error(`Invalid SS58 address "${address}": network prefix ${prefix} is reserved`)
  const hash = ss58Hash(raw.subarray(0, prefixLength + 32))
  if (raw[prefixLength + 32] !== hash[0] || raw[prefixLength + 33] !== hash[1]) throw new InvalidSs58Error(`Invalid SS58 address "${address}": bad checksum`)
  if (expectedPrefix !== undefined && prefix !== expectedPrefix) {
    throw new WrongSs58PrefixError(`SS58 address "${address}" has network prefix ${prefix}, expected ${expectedPrefix}`)
  }
  return { prefix, publicKey: raw.slice(prefixLength, prefixLength + 32) }
}


/** True if `address` is a valid SS58 address (optionally with the given prefix). */
export function isSs58 (address: string, expectedPrefix?: number): boolean {
  try {
    decodeSs58(address, expectedPrefix)
    return true
  } catch {
    return false
  }
}
