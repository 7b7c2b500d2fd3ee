/**
 * The decode cost of a MessagePack value, bounded before it is decoded: one pass over the
 * type headers (no allocation; string, binary and extension bodies are skipped by their
 * declared length) counts the items and the nesting depth, and a value over either bound
 * is refused with {@link DecodeLimitError} before the decoder builds a single object.
 * A frame of a million one-byte maps would otherwise cost tens of MiB and most of a
 * second of the event loop to decode, however small its byte length.
 *
 * @packageDocumentation
 */
import { MAX_DECODE_DEPTH, MAX_DECODE_ITEMS } from '../constants.ts'
import { DecodeLimitError } from '../errors/index.ts'

/** Bounds on decoding one MessagePack value. */
export interface DecodeLimits {
  /**
   * Items in the value: every scalar, string, binary, extension, array, map and map key
   * counts one.
   *
   * @default 1048576
   */
  maxItems?: number
  /**
   * Arrays and maps nested inside one another (the encoder's own limit, so whatever we
   * send also decodes).
   *
   * @default 512
   */
  maxDepth?: number
}

/** Bytes after the type byte holding a length (str/bin/array/map/ext with a length field). */
function uintAt (bytes: Uint8Array, view: DataView, at: number, width: number): number {
  if (at + width > bytes.byteLength) return -1
  if (width === 1) return bytes[at] as number
  if (width === 2) return view.getUint16(at)
  return view.getUint32(at)
}

/** Fixed body sizes after the type byte, for 0xc0..0xdf (-1: has a length field, handled apart). */
const FIXED = new Int8Array(32).fill(-1)
for (const [t, n] of [[0xc0, 0], [0xc1, 0], [0xc2, 0], [0xc3, 0], [0xca, 4], [0xcb, 8], [0xcc, 1], [0xcd, 2], [0xce, 4], [0xcf, 8],
  [0xd0, 1], [0xd1, 2], [0xd2, 4], [0xd3, 8], [0xd4, 2], [0xd5, 3], [0xd6, 5], [0xd7, 9], [0xd8, 17]] as const) {
  FIXED[t - 0xc0] = n
}

/**
 * Throws {@link DecodeLimitError} when the MessagePack value at the start of `bytes` has
 * more items or deeper nesting than `limits` allow. Malformed or truncated input is left
 * for the decoder to report.
 */
export function checkDecodeCost (bytes: Uint8Array, limits: DecodeLimits = {}): void {
  const maxItems = limits.maxItems ?? MAX_DECODE_ITEMS
  const maxDepth = limits.maxDepth ?? MAX_DECODE_DEPTH
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // items still expected by each open container, innermost last; the root expects one
  const open: number[] = [1]
  let items = 0
  let at = 0
  const end = bytes.byteLength
  while (open.length > 0) {
    if (at >= end) return
    const top = open.length - 1
    if ((open[top] as number) === 0) { open.pop(); continue }
    open[top] = (open[top] as number) - 1
    if (++items > maxItems) throw new DecodeLimitError(`MessagePack value has more than ${maxItems} items`)
    const t = bytes[at++] as number
    let children = 0
    if (t <= 0x7f || t >= 0xe0) continue
    if (t <= 0x8f) {
      children = (t & 0x0f) * 2
    } else if (t <= 0x9f) {
      children = t & 0x0f
    } else if (t <= 0xbf) {
      at += t & 0x1f
      continue
    } else {
      const fixed = FIXED[t - 0xc0] as number
      if (fixed >= 0) { at += fixed; continue }
      const width = t === 0xc4 || t === 0xc7 || t === 0xd9 ? 1 : t === 0xc5 || t === 0xc8 || t === 0xda || t === 0xdc || t === 0xde ? 2 : 4
      const n = uintAt(bytes, view, at, width)
      if (n < 0) return
      at += width
      if (t === 0xdc || t === 0xdd) {
        children = n
      } else if (t === 0xde || t === 0xdf) {
        children = n * 2
      } else {
        at += n + (t >= 0xc7 && t <= 0xc9 ? 1 : 0) // ext: a type byte before the body
        continue
      }
    }
    if (children === 0) continue
    if (items + children > maxItems) throw new DecodeLimitError(`MessagePack container declares ${children} items, above the limit of ${maxItems}`)
    if (open.length > maxDepth) throw new DecodeLimitError(`MessagePack value nests deeper than ${maxDepth} levels`)
    open.push(children)
  }
}
