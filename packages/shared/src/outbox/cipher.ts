/**
 * The at-rest cipher of queued payloads.
 *
 * @packageDocumentation
 */
import { DecryptionFailedError, InvalidConfigError } from '../errors/index.ts'


/**
 * Encrypts queued payloads at rest. The Node peer derives its key from the peer key in the
 * home; the browser keeps a non-extractable key in IndexedDB.
 */
export interface OutboxCipher {
  /** Seals `plaintext`, binding it to `aad` (the item id and part). */
  seal(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>
  /** Opens what {@link OutboxCipher.seal} made; throws `DecryptionFailedError` on any change. */
  open(sealed: Uint8Array, aad: Uint8Array): Promise<Uint8Array>
}


const AT_REST_NONCE_BYTES = 12


/**
 * AES-256-GCM at rest via WebCrypto: a random 96-bit nonce per record, stored in front of
 * the ciphertext. `key` is a 32-byte secret or an AES-GCM CryptoKey.
 */
export async function createOutboxCipher (key: Uint8Array | CryptoKey): Promise<OutboxCipher> {
  let k: CryptoKey
  if (key instanceof Uint8Array) {
    if (key.byteLength !== 32) throw new InvalidConfigError('The outbox key must be 32 bytes')
    k = await crypto.subtle.importKey('raw', key.slice(), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
  } else {
    k = key
  }
  return {
    seal: async (plaintext, aad) => {
      const iv = crypto.getRandomValues(new Uint8Array(AT_REST_NONCE_BYTES))
      const c = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad.slice() }, k, plaintext.slice()))
      const out = new Uint8Array(AT_REST_NONCE_BYTES + c.byteLength)
      out.set(iv)
      out.set(c, AT_REST_NONCE_BYTES)
      return out
    },
    open: async (sealed, aad) => {
      if (sealed.byteLength < AT_REST_NONCE_BYTES + 16) throw new DecryptionFailedError('Stored record is too short')
      try {
        return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.slice(0, AT_REST_NONCE_BYTES), additionalData: aad.slice() }, k, sealed.slice(AT_REST_NONCE_BYTES)))
      } catch {
        throw new DecryptionFailedError('Stored record failed authentication (corrupt, or sealed under another key)')
      }
    }
  }
}
