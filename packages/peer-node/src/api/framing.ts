/**
 * Frames of the local API: a u32 big-endian body length, then one MessagePack map, the
 * same framing as the subwire wire protocol (and as libp2p's daemon protocol uses with
 * protobuf). The decoder refuses an oversized length at the header, before it buffers a
 * byte of the body; a malformed body is an {@link ApiProtocolError}, and the connection
 * goes on only if the stream is still in step (a frame with a bad body is skipped, an
 * oversized header ends the connection).
 *
 * @packageDocumentation
 */
import { encodeFrame, FrameDecoder } from '@subwire/shared/protocol'
import { ApiProtocolError } from './errors.ts'
import { MAX_API_FRAME_BYTES } from './constants.ts'

/** One decoded frame: a MessagePack map. */
export type ApiFrame = Record<string, unknown>

/** Encodes one frame (header and body). Throws `FrameTooLargeError` above `max`. */
export function encodeApiFrame (frame: ApiFrame, max = MAX_API_FRAME_BYTES): Uint8Array {
  return encodeFrame(frame, max)
}

/** What {@link ApiFrameDecoder.next} returns: a frame, a frame that could not be used (in step), or nothing yet. */
export type Decoded = { frame: ApiFrame } | { error: Error, fatal: boolean } | undefined

/** Incremental decoder of API frames. */
export class ApiFrameDecoder {
  readonly #decoder: FrameDecoder

  constructor (max = MAX_API_FRAME_BYTES) {
    this.#decoder = new FrameDecoder(max)
  }

  /** Appends received bytes. */
  push (chunk: Uint8Array): void { this.#decoder.push(chunk) }

  /**
   * The next frame. An oversized header is fatal (the stream cannot be resynchronised
   * without reading the body); a body that is not a MessagePack map is not.
   */
  next (): Decoded {
    let got: { value: unknown } | undefined
    try {
      got = this.#decoder.next()
    } catch (err) {
      const e = err as Error
      return { error: new ApiProtocolError(e.message, { cause: e }), fatal: e.name === 'FrameTooLargeError' }
    }
    if (got === undefined) return undefined
    const v = got.value
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
      return { error: new ApiProtocolError('An API frame must be a MessagePack map'), fatal: false }
    }
    return { frame: v as ApiFrame }
  }
}
