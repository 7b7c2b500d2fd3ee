/**
 * This peer's encryption keys: the current X25519 key published in the attestation and
 * the previous ones, kept until what was sealed to them can no longer arrive.
 *
 * @packageDocumentation
 */
import type { E2eBackend, X25519KeyPair } from './backends.ts'
import type { KeyLookup } from './envelope.ts'


function hex (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}


/**
 * This peer's encryption keys: the current one (published in the attestation) and the
 * ones it replaced, kept until the attestations that published them have expired, so
 * traffic sealed just before a rotation still opens. Memory only.
 */
export class EncryptionKeyring {
  readonly #backend: E2eBackend
  readonly #keys = new Map<string, { pair: X25519KeyPair, until: number }>()
  #current: X25519KeyPair | undefined

  /** An empty keyring; call {@link EncryptionKeyring.rotate} before use. */
  constructor (backend: E2eBackend) {
    this.#backend = backend
  }

  /** The primitives' body. */
  get backend (): E2eBackend {
    return this.#backend
  }

  /** The key currently published. */
  get current (): X25519KeyPair | undefined {
    return this.#current
  }

  /**
   * Makes a fresh current key. The previous one stays usable until `previousUntil` (ms
   * since the epoch: when the attestation that published it expires).
   */
  async rotate (previousUntil: number, now = Date.now()): Promise<X25519KeyPair> {
    const fresh = await this.#backend.generateKeyPair()
    const old = this.#current
    if (old !== undefined) this.#keys.set(hex(old.publicKey), { pair: old, until: previousUntil })
    this.#current = fresh
    this.#keys.set(hex(fresh.publicKey), { pair: fresh, until: Number.POSITIVE_INFINITY })
    for (const [k, v] of this.#keys) if (v.until <= now) this.#keys.delete(k)
    return fresh
  }

  /** Finds our key pair by public key, if still held. */
  readonly lookup: KeyLookup = (publicKey) => {
    const entry = this.#keys.get(hex(publicKey))
    if (entry === undefined || entry.until <= Date.now()) return undefined
    return entry.pair
  }

  /** Forgets every key (on stop). */
  clear (): void {
    this.#keys.clear()
    this.#current = undefined
  }
}
