/**
 * BLAKE3 (WASM, ~0.7 GB/s) from a small pool of hashers.
 *
 * @packageDocumentation
 */
import { createBLAKE3 } from 'hash-wasm'
import type { IHasher } from 'hash-wasm'


const hasherPool: IHasher[] = []


/** Borrows a BLAKE3 hasher (WASM, ~0.7 GB/s); return it with {@link releaseHasher}. */
export async function takeHasher (): Promise<IHasher> {
  return hasherPool.pop() ?? await createBLAKE3()
}


/** Returns a hasher borrowed with {@link takeHasher} to the pool. */
export function releaseHasher (h: IHasher): void {
  if (hasherPool.length < 8) hasherPool.push(h)
}


/** BLAKE3 of some bytes. */
export async function blake3 (bytes: Uint8Array): Promise<Uint8Array> {
  const h = await takeHasher()
  try {
    h.init()
    h.update(bytes)
    return h.digest('binary')
  } finally {
    releaseHasher(h)
  }
}
