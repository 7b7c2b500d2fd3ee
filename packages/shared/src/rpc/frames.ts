/**
 * The RPC channel's frames, multiplexed by id over one `FramedStream`.
 *
 * Frames are MessagePack maps with a kind `k`:
 *
 * | k | direction | fields | meaning |
 * |---|---|---|---|
 * | 0 | client → server | `id`, `t` type, `b` body, `to` timeout ms, `s` 1 = streamed reply, `m` message id | request |
 * | 1 | client → server | `id` | cancel |
 * | 2 | server → client | `id`, `b` | reply |
 * | 3 | server → client | `id`, `e` `{name, message}` | error reply |
 * | 4 | server → client | `id`, `b` | streamed reply chunk |
 * | 5 | server → client | `id` | end of a streamed reply |
 * | 6 | client → server | `id`, `n` | credit: the client read `n` more chunks |
 * | 7 | server → client | `e` | the whole channel is refused (e.g. not authenticated) |
 *
 * The control-message protocol uses the same channel: a message is a request whose
 * type is the action and whose reply (empty) is the ack.
 *
 * End-to-end encryption: an encrypted request carries `x` (an envelope) instead of `b`;
 * its replies, chunks and end carry `x` (ciphertext of chunk 0, 1, … sealed under the
 * reply key, the last one flagged) instead of `b`. Error replies stay plaintext.
 *
 * @packageDocumentation
 */
import { asRecord, stringField } from '../wire/fields.ts'
import { MAX_ERROR_MESSAGE_BYTES, MAX_TYPE_LENGTH } from '../constants.ts'
import { errorToWire } from '../errors/index.ts'
import type { WireError } from '../errors/index.ts'
import type { FramedStream } from '../wire/framed-stream.ts'


/** Frame kinds of the RPC channel. */
export const FrameKind = {
  Request: 0,
  Cancel: 1,
  Reply: 2,
  Error: 3,
  Chunk: 4,
  End: 5,
  Credit: 6,
  Refused: 7
} as const


/** Largest request id; ids wrap well before losing integer precision. */
export const MAX_REQUEST_ID = 2 ** 32 - 1


/** Reads the `e` field of an error or refusal frame. */
export function wireErrorOf (rec: Record<string, unknown>): WireError {
  const e = asRecord(rec.e, 'error frame')
  const wire: WireError = {
    name: stringField(e, 'name', 'error frame', MAX_TYPE_LENGTH),
    message: stringField(e, 'message', 'error frame', MAX_ERROR_MESSAGE_BYTES)
  }
  if (typeof e.netuid === 'number') wire.netuid = e.netuid
  return wire
}


/** Sends a channel-level refusal (kind 7) and closes the stream. */
export async function refuseChannel (framed: FramedStream, err: Error): Promise<void> {
  try {
    framed.send({ k: FrameKind.Refused, e: errorToWire(err) })
    await framed.close()
  } catch {
    framed.abort(err)
  }
}
