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
