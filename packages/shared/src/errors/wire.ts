/**
 * Errors of framing and decoding: what a malformed or oversized frame raises.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

/** A frame could not be decoded (bad MessagePack, wrong shape or field type). */
export class InvalidFrameError extends SubwireError {
  static override name = 'InvalidFrameError'
  static override code = 'ERR_INVALID_FRAME'
  static defaultMessage = 'Malformed frame'
}
/** A frame header declared a length above the configured maximum. */
export class FrameTooLargeError extends SubwireError {
  static override name = 'FrameTooLargeError'
  static override code = 'ERR_FRAME_TOO_LARGE'
  static defaultMessage = 'Frame exceeds the maximum frame size'
}
/** The stream ended in the middle of a frame. */
export class TruncatedFrameError extends SubwireError {
  static override name = 'TruncatedFrameError'
  static override code = 'ERR_TRUNCATED_FRAME'
  static defaultMessage = 'Stream ended in the middle of a frame'
}
/** A MessagePack value holds more items or deeper nesting than the decoder accepts (checked before decoding). */
export class DecodeLimitError extends SubwireError {
  static override name = 'DecodeLimitError'
  static override code = 'ERR_DECODE_LIMIT'
  static defaultMessage = 'MessagePack value exceeds the decode limits'
}
