/**
 * BLAKE3 for files: one backend per process, WebAssembly (`hash-wasm`, ~0.4-0.9 GB/s) by
 * default, everywhere; a runtime with a faster one (Node: the native `@napi-rs/blake-hash`,
 * ~4-9 GB/s) installs it once at start with {@link useBlake3}. Both compute the same
 * BLAKE3; a backend is checked against a known digest before it is used.
 *
 * @packageDocumentation
 */
import { createBLAKE3 } from 'hash-wasm'

/** An incremental BLAKE3 hasher, reused through {@link Blake3Hasher.init}. */
export interface Blake3Hasher {
  /** Starts a new hash. */
  init(): unknown
  /** Adds bytes. */
  update(data: Uint8Array): unknown
  /** The 32-byte digest of what was added since `init`. */
  digest(format: 'binary'): Uint8Array
}

/** A BLAKE3 implementation. */
export interface Blake3Backend {
  /** What it is, for the log (`wasm (hash-wasm)`, `native (@napi-rs/blake-hash)`). */
  readonly name: string
  /** A new hasher. */
  create(): Blake3Hasher | Promise<Blake3Hasher>
}

/** `hash-wasm`'s BLAKE3: runs in every browser and runtime. */
export const wasmBlake3: Blake3Backend = { name: 'wasm (hash-wasm)', create: async () => await createBLAKE3() }

/** BLAKE3("abc"), from the BLAKE3 reference: a backend must reproduce it. */
const ABC_DIGEST = '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85'

let backend: Blake3Backend = wasmBlake3
let pool: Blake3Hasher[] = []

/**
 * Makes `next` the BLAKE3 of this process (after checking it against a known digest) and
 * returns its name; throws, keeping the current backend, if it computes anything else.
 */
export async function useBlake3 (next: Blake3Backend): Promise<string> {
  const h = await next.create()
  h.init()
  h.update(new TextEncoder().encode('abc'))
  const got = h.digest('binary')
  let hex = ''
  for (const b of got) hex += b.toString(16).padStart(2, '0')
  if (hex !== ABC_DIGEST) throw new Error(`${next.name} is not BLAKE3: BLAKE3("abc") gave ${hex}`)
  backend = next
  pool = [h]
  return next.name
}

/** The name of the BLAKE3 backend in use. */
export function blake3BackendName (): string {
  return backend.name
}

/** Borrows a BLAKE3 hasher; return it with {@link releaseHasher}. */
export async function takeHasher (): Promise<Blake3Hasher> {
  return pool.pop() ?? await backend.create()
}

/** Returns a hasher borrowed with {@link takeHasher} to the pool. */
export function releaseHasher (h: Blake3Hasher): void {
  if (pool.length < 8) pool.push(h)
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
