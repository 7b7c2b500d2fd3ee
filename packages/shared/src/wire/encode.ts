/**
 * The MessagePack encoder of subwire's dialect: the subset a strict decoder (Rust serde,
 * Go, Python `msgpack` with `strict_map_key`) reads without an extension hook.
 *
 * - Integers as integers in the smallest format, uint64/int64 beyond 32 bits (never as a
 *   float); other numbers as float64.
 * - `undefined` and `null` as nil; a map entry whose value is `undefined` is left out (as
 *   `JSON.stringify` does), so an optional field is either absent or present.
 * - Strings as str, `Uint8Array` (and Node's `Buffer`) as bin, other byte views and
 *   `ArrayBuffer` as bin of their bytes.
 * - Plain objects as maps with string keys, arrays (and `Set`s) as arrays, `Map`s as maps.
 * - Anything with a `toJSON` (a `Date`) as what it returns (ISO 8601 text for a date);
 *   other objects as maps of their own enumerable fields.
 * - No extension types, ever. A bigint outside the 64-bit range is a `RangeError`.
 *
 * @packageDocumentation
 */

const textEncoder = new TextEncoder()

/** Nested containers deeper than this are refused: a cycle or a hostile value. */
const MAX_DEPTH = 512

class Writer {
  buf: Uint8Array
  view: DataView
  pos: number

  constructor (offset: number, size = 256) {
    this.buf = new Uint8Array(Math.max(size, offset + 16))
    this.view = new DataView(this.buf.buffer)
    this.pos = offset
  }

  ensure (n: number): void {
    const need = this.pos + n
    if (need <= this.buf.byteLength) return
    let size = this.buf.byteLength * 2
    while (size < need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  byte (b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  head (small: number, smallLimit: number, b8: number | undefined, b16: number, b32: number, length: number): void {
    this.ensure(5)
    if (length < smallLimit) {
      this.buf[this.pos++] = small | length
    } else if (b8 !== undefined && length < 0x100) {
      this.buf[this.pos++] = b8
      this.buf[this.pos++] = length
    } else if (length < 0x10000) {
      this.buf[this.pos++] = b16
      this.view.setUint16(this.pos, length)
      this.pos += 2
    } else {
      this.buf[this.pos++] = b32
      this.view.setUint32(this.pos, length)
      this.pos += 4
    }
  }

  bytes (b: Uint8Array): void {
    if (b.byteLength > 0xffffffff) throw new RangeError('binary longer than 2^32 - 1 bytes')
    this.head(0, 0, 0xc4, 0xc5, 0xc6, b.byteLength)
    this.ensure(b.byteLength)
    this.buf.set(b, this.pos)
    this.pos += b.byteLength
  }

  string (s: string): void {
    // short ASCII text (field names, kinds) is written as it is read
    if (s.length < 32) {
      let ascii = true
      for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) { ascii = false; break }
      if (ascii) {
        this.ensure(1 + s.length)
        this.buf[this.pos++] = 0xa0 | s.length
        for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i)
        return
      }
    }
    const b = textEncoder.encode(s)
    this.head(0xa0, 32, 0xd9, 0xda, 0xdb, b.byteLength)
    this.ensure(b.byteLength)
    this.buf.set(b, this.pos)
    this.pos += b.byteLength
  }

  integer (v: number | bigint): void {
    this.ensure(9)
    const buf = this.buf
    const view = this.view
    if (typeof v === 'number' && v >= 0 && v < 0x100000000) {
      if (v < 0x80) buf[this.pos++] = v
      else if (v < 0x100) { buf[this.pos++] = 0xcc; buf[this.pos++] = v } else if (v < 0x10000) { buf[this.pos++] = 0xcd; view.setUint16(this.pos, v); this.pos += 2 } else { buf[this.pos++] = 0xce; view.setUint32(this.pos, v); this.pos += 4 }
      return
    }
    if (typeof v === 'number' && v < 0 && v >= -0x80000000) {
      if (v >= -0x20) buf[this.pos++] = 0x100 + v
      else if (v >= -0x80) { buf[this.pos++] = 0xd0; view.setInt8(this.pos, v); this.pos += 1 } else if (v >= -0x8000) { buf[this.pos++] = 0xd1; view.setInt16(this.pos, v); this.pos += 2 } else { buf[this.pos++] = 0xd2; view.setInt32(this.pos, v); this.pos += 4 }
      return
    }
    const big = BigInt(v)
    if (big >= 0n && big < 0x10000000000000000n) {
      buf[this.pos++] = 0xcf
      view.setBigUint64(this.pos, big)
    } else if (big < 0n && big >= -0x8000000000000000n) {
      buf[this.pos++] = 0xd3
      view.setBigInt64(this.pos, big)
    } else {
      throw new RangeError(`${big} does not fit a MessagePack 64-bit integer`)
    }
    this.pos += 8
  }

  value (v: unknown, depth: number): void {
    switch (typeof v) {
      case 'undefined': this.byte(0xc0); return
      case 'boolean': this.byte(v ? 0xc3 : 0xc2); return
      case 'string': this.string(v); return
      case 'bigint': this.integer(v >= -0x80000000n && v < 0x100000000n ? Number(v) : v); return
      case 'number':
        if (Number.isInteger(v) && (Number.isSafeInteger(v) || (v >= -0x8000000000000000 && v < 0x10000000000000000))) {
          this.integer(v)
        } else {
          this.ensure(9)
          this.buf[this.pos++] = 0xcb
          this.view.setFloat64(this.pos, v)
          this.pos += 8
        }
        return
      case 'object':
        if (v === null) { this.byte(0xc0); return }
        this.object(v, depth)
        return
      default:
        // functions and symbols have no MessagePack form; as in JSON they are nil
        this.byte(0xc0)
    }
  }

  object (v: object, depth: number): void {
    if (depth > MAX_DEPTH) throw new RangeError(`value nested deeper than ${MAX_DEPTH} levels (a cycle?)`)
    if (v instanceof Uint8Array) { this.bytes(v); return }
    if (ArrayBuffer.isView(v)) { this.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)); return }
    if (v instanceof ArrayBuffer) { this.bytes(new Uint8Array(v)); return }
    if (Array.isArray(v)) { this.array(v, depth); return }
    if (v instanceof Set) { this.array([...v], depth); return }
    if (v instanceof Map) {
      this.head(0x80, 16, undefined, 0xde, 0xdf, v.size)
      for (const [key, entry] of v) { this.value(key, depth + 1); this.value(entry, depth + 1) }
      return
    }
    const toJSON = (v as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') {
      const json: unknown = toJSON.call(v)
      if (json !== v) { this.value(json, depth + 1); return }
    }
    this.map(v as Record<string, unknown>, depth)
  }

  array (v: readonly unknown[], depth: number): void {
    this.head(0x90, 16, undefined, 0xdc, 0xdd, v.length)
    for (let i = 0; i < v.length; i++) this.value(v[i], depth + 1)
  }

  map (v: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(v)
    let count = 0
    for (const key of keys) if (v[key] !== undefined) count++
    this.head(0x80, 16, undefined, 0xde, 0xdf, count)
    for (const key of keys) {
      const entry = v[key]
      if (entry === undefined) continue
      this.string(key)
      this.value(entry, depth + 1)
    }
  }
}

/**
 * Encodes `value` in subwire's MessagePack dialect, leaving `offset` bytes free in front
 * (for a frame header). Returns the buffer and the end of the encoding.
 */
export function packInto (value: unknown, offset = 0): { bytes: Uint8Array, end: number } {
  const w = new Writer(offset, offset + sizeHint(value))
  w.value(value, 0)
  return { bytes: w.buf, end: w.pos }
}

/**
 * A first guess of the encoded size, so that a frame carrying a large byte field (a file
 * chunk, a 100 KiB body) is written into one buffer of the right size instead of one that
 * doubles, copying the payload each time: the byte fields at the top level and one level
 * down, plus room for the rest.
 */
function sizeHint (value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength + 16
  if (value === null || typeof value !== 'object') return 256
  let n = 256
  for (const v of Object.values(value as Record<string, unknown>)) {
    if (v instanceof Uint8Array) n += v.byteLength + 8
    else if (typeof v === 'string') n += v.length * 3 + 8
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const w of Object.values(v as Record<string, unknown>)) if (w instanceof Uint8Array) n += w.byteLength + 8
    }
  }
  return n
}

/** Encodes `value` in subwire's MessagePack dialect. */
export function pack (value: unknown): Uint8Array {
  const { bytes, end } = packInto(value)
  return bytes.byteLength - end > 4096 ? bytes.slice(0, end) : bytes.subarray(0, end)
}
