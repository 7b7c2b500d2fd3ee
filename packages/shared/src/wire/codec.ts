/**
 * Length-prefixed MessagePack frames: a u32 big-endian body length, then the body.
 * The decoder checks the declared length against the maximum as soon as the four
 * header bytes are in, before waiting for (or buffering) any body byte.
 *
 * @packageDocumentation
 */
import { Packr } from 'msgpackr'
import { Uint8ArrayList } from 'uint8arraylist'
import { FRAME_HEADER_BYTES } from '../constants.ts'
import { FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from '../errors/index.ts'
import { pack, packInto } from './encode.ts'
import { checkDecodeCost } from './cost.ts'
import type { DecodeLimits } from './cost.ts'


/**
 * The decoder (msgpackr): lenient about what older peers send (an `undefined` extension
 * `d4 00 00`, integers as float64, timestamps). What we send is encoded by `./encode.ts`,
 * in the strict dialect docs/PROTOCOL.md describes.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  int64AsType: 'number'
})


/** Encodes a value as MessagePack in subwire's dialect (no frame header). */
export function encodeValue (value: unknown): Uint8Array {
  return pack(value)
}


/**
 * Decodes a MessagePack value, throwing {@link InvalidFrameError} on any failure and
 * `DecodeLimitError` (before decoding) when it holds more items or deeper nesting than
 * `limits` allow.
 */
export function decodeValue (bytes: Uint8Array, limits?: DecodeLimits): unknown {
  checkDecodeCost(bytes, limits)
  let value: unknown
  try {
    value = packr.unpack(bytes)
  } catch (err) {
    throw new InvalidFrameError(`Malformed MessagePack: ${(err as Error).message}`, { cause: err })
  }
  // msgpackr decodes the never-used byte 0xc1 into a marker object instead of failing
  if (value !== null && typeof value === 'object' && value.constructor?.name === 'C1Type') {
    throw new InvalidFrameError('Malformed MessagePack: reserved byte 0xc1')
  }
  return value
}


/** Encodes one frame: header plus MessagePack body. Throws if the body exceeds `maxFrameBytes`. */
export function encodeFrame (value: unknown, maxFrameBytes: number): Uint8Array {
  const { bytes, end } = packInto(value, FRAME_HEADER_BYTES)
  const length = end - FRAME_HEADER_BYTES
  if (length > maxFrameBytes) {
    throw new FrameTooLargeError(`Frame of ${length} bytes exceeds the maximum of ${maxFrameBytes}`)
  }
  new DataView(bytes.buffer).setUint32(0, length)
  return bytes.byteLength - end > 4096 ? bytes.slice(0, end) : bytes.subarray(0, end)
}


/**
 * Incremental frame decoder. Feed it chunks with {@link FrameDecoder.push}, then
 * drain decoded values with {@link FrameDecoder.next} until it returns `undefined`.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number
  readonly #buffer = new Uint8ArrayList()
  #expected = -1

  constructor (maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** Bytes received and not yet decoded. */
  get bufferedBytes (): number {
    return this.#buffer.byteLength
  }

  /** Appends received bytes. */
  push (chunk: Uint8Array | Uint8ArrayList): void {
    this.#buffer.append(chunk)
  }

  /**
   * Returns the next complete frame's value, or `undefined` when more bytes are needed.
   * Throws {@link FrameTooLargeError} as soon as a header declares an oversized body,
   * and {@link InvalidFrameError} on a malformed body.
   */
  next (): { value: unknown } | undefined {
    if (this.#expected < 0) {
      if (this.#buffer.byteLength < FRAME_HEADER_BYTES) return undefined
      const length = this.#buffer.getUint32(0)
      if (length > this.#maxFrameBytes) {
        throw new FrameTooLargeError(`Frame header declares ${length} bytes, above the maximum of ${this.#maxFrameBytes}`)
      }
      this.#buffer.consume(FRAME_HEADER_BYTES)
      this.#expected = length
    }
    if (this.#buffer.byteLength < this.#expected) return undefined
    const body = this.#buffer.subarray(0, this.#expected)
    this.#buffer.consume(this.#expected)
    this.#expected = -1
    if (body.byteLength === 0) throw new InvalidFrameError('Empty frame body')
    return { value: decodeValue(body) }
  }

  /** Call when the stream ended: throws {@link TruncatedFrameError} if a partial frame is left. */
  end (): void {
    if (this.#expected >= 0 || this.#buffer.byteLength > 0) {
      throw new TruncatedFrameError(`Stream ended with ${this.#buffer.byteLength} bytes of an unfinished frame`)
    }
  }
}
