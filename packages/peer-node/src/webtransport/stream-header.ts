/**
 * The WebTransport stream header (draft-ietf-webtrans-http3 §4.2): the signal value
 * `0x41`, then the session id, both QUIC variable-length integers (RFC 9000 §16). The
 * session reads it off every incoming bidirectional stream and writes it on the streams
 * it opens.
 *
 * @packageDocumentation
 */
import { WebTransportProtocolError } from './errors.ts'

/** HTTP/3 signal value that opens a WebTransport bidirectional stream. */
export const WT_BIDI_STREAM = 0x41n

/** Longest stream header: two 8-byte varints. */
export const MAX_HEADER_BYTES = 16

/** Encodes a QUIC variable-length integer (RFC 9000 §16). */
export function encodeVarint (value: bigint): Uint8Array {
  if (value < 0n || value >= 1n << 62n) throw new RangeError(`varint out of range: ${value}`)
  if (value < 64n) return Uint8Array.of(Number(value))
  if (value < 16384n) return Uint8Array.of(0x40 | Number(value >> 8n), Number(value & 0xffn))
  const out = new Uint8Array(value < 1n << 30n ? 4 : 8)
  const view = new DataView(out.buffer)
  if (out.byteLength === 4) view.setUint32(0, Number(value) | 0x8000_0000)
  else view.setBigUint64(0, value | (3n << 62n))
  return out
}

/** Decodes a QUIC varint at `offset`; `undefined` when the bytes end first. */
export function decodeVarint (bytes: Uint8Array, offset = 0): { value: bigint, length: number } | undefined {
  const first = bytes[offset]
  if (first === undefined) return undefined
  const length = 1 << (first >> 6)
  if (bytes.byteLength - offset < length) return undefined
  let value = BigInt(first & 0x3f)
  for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(bytes[offset + i] as number)
  return { value, length }
}

/** Parses a stream header: `{ sessionId, length }`, `undefined` if more bytes are needed. Throws on a header that is not a WebTransport bidirectional stream. */
export function parseStreamHeader (bytes: Uint8Array): { sessionId: bigint, length: number } | undefined {
  const signal = decodeVarint(bytes, 0)
  if (signal === undefined) return undefined
  if (signal.value !== WT_BIDI_STREAM) throw new WebTransportProtocolError(`stream type 0x${signal.value.toString(16)} is not a WebTransport bidirectional stream`)
  const session = decodeVarint(bytes, signal.length)
  if (session === undefined) return undefined
  return { sessionId: session.value, length: signal.length + session.length }
}
