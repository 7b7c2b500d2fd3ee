/**
 * Small byte helpers shared by the parts.
 *
 * @packageDocumentation
 */


/** Lowercase hex of bytes. */
export function bytesToHex (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}


/** Compares two byte arrays in constant time for their length. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}


/**
 * True if `value` is `0x`-prefixed hex (`0x` alone included) of an even number of digits,
 * or, with `bitLength`, of exactly that many bits: `@polkadot/util`'s `isHex`.
 */
export function isHex (value: unknown, bitLength = -1): value is string {
  return typeof value === 'string' && (value === '0x' || /^0x[\da-fA-F]+$/.test(value)) &&
    (bitLength === -1 ? value.length % 2 === 0 : value.length === 2 + Math.ceil(bitLength / 4))
}


/** The bytes of hex that {@link isHex} accepts (the `0x` prefix optional). */
export function hexToBytes (hex: string): Uint8Array {
  const digits = hex.startsWith('0x') ? hex.slice(2) : hex
  const out = new Uint8Array(digits.length >> 1)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16)
  return out
}


/** `a` ‖ `b` as a new array. */
export function concatBytes (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
