/**
 * Field readers of decoded frames: each narrows one field to its type and bound, or
 * throws `InvalidFrameError` naming the frame and the field.
 *
 * @packageDocumentation
 */
import { InvalidFrameError } from '../errors/index.ts'


/** Narrows a decoded frame to a plain object, or throws {@link InvalidFrameError}. */
export function asRecord (value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new InvalidFrameError(`${what}: expected a map`)
  }
  return value as Record<string, unknown>
}


/**
 * True if an optional field is there: a missing field and a nil one mean the same (a peer
 * may send either), so both read as absent.
 */
export function present (rec: Record<string, unknown>, key: string): boolean {
  return rec[key] !== undefined && rec[key] !== null
}


/** Reads a required unsigned integer field. */
export function uintField (rec: Record<string, unknown>, key: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = rec[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new InvalidFrameError(`${what}: field "${key}" must be an integer from 0 to ${max}`)
  }
  return v
}


const utf8 = new TextEncoder()

/** Length of `s` in UTF-8 bytes: every string limit of the protocol counts these. */
export function utf8Length (s: string): number {
  return utf8.encode(s).byteLength
}


/** Reads a required string field of at most `maxBytes` UTF-8 bytes. */
export function stringField (rec: Record<string, unknown>, key: string, what: string, maxBytes: number): string {
  const v = rec[key]
  if (typeof v !== 'string' || (v.length > maxBytes) || (v.length * 3 > maxBytes && utf8Length(v) > maxBytes)) {
    throw new InvalidFrameError(`${what}: field "${key}" must be a string of at most ${maxBytes} UTF-8 bytes`)
  }
  return v
}


/** Reads a required byte-string field with an optional exact or maximum length. */
export function bytesField (rec: Record<string, unknown>, key: string, what: string, maxLength: number): Uint8Array {
  const v = rec[key]
  if (!(v instanceof Uint8Array) || v.byteLength > maxLength) {
    throw new InvalidFrameError(`${what}: field "${key}" must be bytes of at most ${maxLength} length`)
  }
  return v
}
