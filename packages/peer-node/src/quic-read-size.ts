/**
 * The QUIC read size, fixed at run time: @chainsafe/libp2p-quic 2.1.1 reads 4 KiB per call
 * into its native stream (a module constant, not an option), which makes bulk receives
 * CPU-bound. Its `QuicStream` reads through the native `Stream.prototype.read(size)` of the
 * package's napi binding, so wrapping that method to ask for at least
 * {@link QUIC_READ_BYTES} gives every QUIC stream of the process the larger reads, in the
 * repository, in an installed package and under Deno alike, with no install script and
 * no edit of `node_modules` (the repository's `patches/` file does the same on disk for
 * the checkout only). The napi binding is not in the package's exports map, so it is
 * loaded by its file URL beside the package's entry point.
 *
 * @packageDocumentation
 */
import { QUIC_READ_BYTES } from './constants.ts'
import type { Logger } from '@libp2p/interface'

/** Marks the wrapper, so applying twice wraps once. */
const WRAPPED = Symbol.for('subwire.quic-read-size')

type Read = ((this: unknown, size: number) => unknown) & { [WRAPPED]?: number }

/** What {@link applyQuicReadSize} found: the read size now asked for, or why it could not. */
export type QuicReadSize = { applied: true, readBytes: number } | { applied: false, reason: string }

/**
 * Makes the native QUIC stream read at least {@link QUIC_READ_BYTES} per call (once per
 * process; later calls report the same). Logs through `log` when the binding is not the
 * expected shape, and leaves QUIC working as shipped.
 */
export async function applyQuicReadSize (log?: Logger): Promise<QuicReadSize> {
  let proto: { read?: Read } | undefined
  try {
    const napi = await import(new URL('./napi.js', import.meta.resolve('@chainsafe/libp2p-quic')).href) as { Stream?: { prototype?: { read?: Read } } }
    proto = napi.Stream?.prototype
  } catch (err) {
    const reason = `cannot load @chainsafe/libp2p-quic's native binding: ${(err as Error).message}`
    log?.error('QUIC reads stay at the package\'s size: %s', reason)
    return { applied: false, reason }
  }
  const read = proto?.read
  if (proto === undefined || typeof read !== 'function') {
    const reason = '@chainsafe/libp2p-quic\'s native Stream has no read(size) method'
    log?.error('QUIC reads stay at the package\'s size: %s', reason)
    return { applied: false, reason }
  }
  if (read[WRAPPED] !== undefined) return { applied: true, readBytes: read[WRAPPED] }
  const wrapped: Read = function (this: unknown, size: number) {
    return read.call(this, typeof size === 'number' && size < QUIC_READ_BYTES ? QUIC_READ_BYTES : size)
  }
  wrapped[WRAPPED] = QUIC_READ_BYTES
  Object.defineProperty(proto, 'read', { value: wrapped, writable: true, configurable: true, enumerable: true })
  log?.('QUIC native reads set to %d bytes', QUIC_READ_BYTES)
  return { applied: true, readBytes: QUIC_READ_BYTES }
}
