/**
 * Secret URIs (`<phrase>/<soft>//<hard>///<password>`) split into phrase, derivation
 * junctions and password, byte for byte as `@polkadot/util-crypto`'s `keyExtractSuri`
 * and `DeriveJunction`: the same regular expressions, NFC normalisation, and chain codes
 * (a decimal junction as a 256-bit little-endian integer, a `0x` hex junction as its
 * bytes, any other as its SCALE-compact-length-prefixed UTF-8; longer than 32 bytes
 * hashed with blake2b-256, shorter zero-padded). util-crypto's own module loads the
 * `@polkadot/util` barrel (bn.js and all) through `DeriveJunction`; this one needs blake2b.
 *
 * @packageDocumentation
 */
import { blake2b } from '@noble/hashes/blake2.js'
import { hexToBytes, isHex } from '../bytes.ts'


/** One derivation step: a 32-byte chain code, hard (`//`) or soft (`/`). */
export interface SuriJunction {
  /** True for a hard junction (`//x`), false for a soft one (`/x`). */
  readonly isHard: boolean
  /** The junction's 32-byte chain code. */
  readonly chainCode: Uint8Array
}


/** A secret URI in its parts. */
export interface Suri {
  /** The mnemonic phrase or `0x` hex seed. */
  phrase: string
  /** The derivation path as written, e.g. `//hard/soft` (empty when there is none). */
  derivePath: string
  /** The junctions of `derivePath`, in order. */
  path: SuriJunction[]
  /** The password after `///`, if any. */
  password?: string | undefined
}


const RE_CAPTURE = /^((0x[a-fA-F0-9]+|[\p{L}\d]+(?: [\p{L}\d]+)*))((\/\/?[^/]+)*)(\/\/\/(.*))?$/u
const RE_JUNCTION = /\/(\/?)([^/]+)/g
const RE_NUMBER = /^\d+$/
const CHAIN_CODE_BYTES = 32


/** Splits a secret URI. Throws a plain `Error` with util-crypto's messages when it is none. */
export function extractSuri (suri: string): Suri {
  const matches = suri.normalize('NFC').match(RE_CAPTURE)
  if (matches === null) throw new Error('Unable to match provided value to a secret URI')
  const phrase = matches[1] as string
  const derivePath = matches[3] as string
  const password = matches[6]
  const parts = derivePath.match(RE_JUNCTION)
  const constructed = parts === null ? '' : parts.join('')
  if (constructed !== derivePath) throw new Error(`Re-constructed path "${constructed}" does not match input`)
  const path = (parts ?? []).map((p) => junction(p.substring(1)))
  return { derivePath, password, path, phrase }
}


/** `DeriveJunction.from`: a leading `/` (the second of `//`) makes it hard. */
function junction (value: string): SuriJunction {
  const isHard = value.startsWith('/')
  const code = isHard ? value.substring(1) : value
  let bytes: Uint8Array
  if (RE_NUMBER.test(code)) bytes = uint256Le(BigInt(code))
  else if (isHex(code)) bytes = hexToBytes(code)
  else bytes = compactPrefixed(new TextEncoder().encode(code))
  const chainCode = new Uint8Array(CHAIN_CODE_BYTES)
  chainCode.set(bytes.length > CHAIN_CODE_BYTES ? blake2b(bytes, { dkLen: 32 }) : bytes, 0)
  return { isHard, chainCode }
}


/** `n` as 32 little-endian bytes; bn.js's error for a number that does not fit. */
function uint256Le (n: bigint): Uint8Array {
  if (n >= 1n << 256n) throw new Error('byte array longer than desired length')
  return littleEndian(n, 32)
}


/** `n` as `length` little-endian bytes (`n` fits). */
function littleEndian (n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++, n >>= 8n) out[i] = Number(n & 0xffn)
  return out
}


/** `bytes` after their SCALE compact length (`compactAddLength`). */
function compactPrefixed (bytes: Uint8Array): Uint8Array {
  const len = bytes.length
  let head: Uint8Array
  if (len < 1 << 6) head = Uint8Array.of(len << 2)
  else if (len < 1 << 14) head = littleEndian(BigInt(len * 4 + 1), 2)
  else if (len < 2 ** 30) head = littleEndian(BigInt(len * 4 + 2), 4)
  else {
    let n = 0
    for (let v = BigInt(len); v > 0n; v >>= 8n) n++
    head = new Uint8Array(1 + n)
    head[0] = ((n - 4) << 2) + 0b11
    head.set(littleEndian(BigInt(len), n), 1)
  }
  const out = new Uint8Array(head.length + len)
  out.set(head, 0)
  out.set(bytes, head.length)
  return out
}
