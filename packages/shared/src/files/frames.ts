/**
 * Frames of the file protocol that either side sends: `cancel`, and what a remote may be
 * told of a local failure.
 *
 * @packageDocumentation
 */
import { asRecord } from '../wire/fields.ts'
import { errorClasses, errorFromWire, errorToWire, FileRefusedError, InsufficientDiskSpaceError, PartialFileCorruptedError, TransferCancelledError, WIRE_NAMES } from '../errors/index.ts'
import { formatSize } from '../units.ts'
import { DEFAULT_MIN_FREE_BYTES } from './types.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import type { ReceiveFileInit } from './types.ts'


/** The `cancel` frame carrying `err`. */
export function cancelFrame (err: Error): Record<string, unknown> {
  return { k: 'cancel', e: errorToWire(err) }
}


/**
 * Reasons for a cancel that reach the other side as themselves rather than wrapped in
 * `TransferCancelledError`: the receiver's disk filled up, or its partial copy failed
 * verification. Both are resumable, and callers (the outbox) tell them apart by name.
 */
const SURFACED_CANCELS = new Set([InsufficientDiskSpaceError.name, PartialFileCorruptedError.name])


/** The error a `cancel` frame from `side` stands for. */
export function cancelledBy (side: string, rec: Record<string, unknown>): Error {
  const reason = errorFromWire(asRecord(rec.e, 'cancel') as { name: string, message: string })
  if (SURFACED_CANCELS.has(reason.name)) return reason
  return new TransferCancelledError(`Cancelled by the ${side}: ${reason.name}: ${reason.message}`, { cause: reason })
}

/**
 * The names subwire's renamed errors had (and keep on the wire): a libp2p error of such a
 * name (`ConnectionClosedError`, `AbortError`) reaches the remote as it did before issue 16.
 */
const OLD_NAMES = new Set(Object.values(WIRE_NAMES))

/**
 * What a remote may be told of a local failure: a subwire error as it is; anything else
 * (a system error naming local paths) as a plain refusal, logged here in full.
 */
export function forRemote (err: Error, log: ReceiveFileInit['log']): Error {
  if (Object.hasOwn(errorClasses, err.name) || OLD_NAMES.has(err.name)) return err
  if (err.name === 'TimeoutError') return new TransferCancelledError('The receiver waited too long for the sender')
  log?.('file receive failed locally: %s: %s', err.name, err.message)
  return new FileRefusedError('The receiver could not store the file')
}

/** Refuses an offer on `framed` (the sender is told what it may know, see {@link forRemote}), then throws `err`. */
export async function refuseOffer (framed: FramedStream, err: Error, log: ReceiveFileInit['log']): Promise<never> {
  try {
    framed.send({ k: 'refuse', e: errorToWire(forRemote(err, log)) })
    await framed.close()
  } catch {}
  throw err
}

/**
 * The disk check of an offer, before anything is written: `InsufficientDiskSpaceError`
 * if `need` more bytes, after what the transfers in flight still have to write, would
 * leave less free than the policy keeps; `undefined` if there is room (or no way to tell).
 */
export async function diskShortfall (init: Pick<ReceiveFileInit, 'store' | 'policy' | 'signal' | 'reservations'>, need: number): Promise<InsufficientDiskSpaceError | undefined> {
  const free = await init.store.freeBytes?.({ signal: init.signal })
  const minFree = init.policy.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES
  if (free === undefined || free - (init.reservations?.total ?? 0) - need >= minFree) return undefined
  return new InsufficientDiskSpaceError(`Not enough free disk space for ${formatSize(need)} (this peer keeps ${formatSize(minFree)} free); try again later`)
}
