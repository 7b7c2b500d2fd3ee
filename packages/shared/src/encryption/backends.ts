/**
 * The bodies of the encryption primitives (X25519, HKDF-SHA256, AES-256-GCM): WebCrypto
 * where it has X25519, else noble; {@link defaultE2eBackend} picks one.
 *
 * @packageDocumentation
 */
import { gcm } from '@noble/ciphers/aes.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { DecryptionFailedError } from '../errors/index.ts'

/** Size of X25519 public keys, private keys and shared secrets. */
export const X25519_BYTES = 32


/** An X25519 private key: a non-extractable `CryptoKey` or raw bytes (noble body). Never printed. */
export interface X25519PrivateKey {
  /** The body's own key object. */
  readonly handle: unknown
  /** Prints `SecretKey(x25519)`, never the key. */
  toString(): string
}


/** An X25519 key pair. */
export interface X25519KeyPair {
  /** 32-byte public key. */
  publicKey: Uint8Array
  /** The private key, opaque. */
  privateKey: X25519PrivateKey
}


/** One AES-256-GCM key. */
export interface Aead {
  /** Encrypts; returns ciphertext ‖ 16-byte tag. */
  seal(nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>
  /** Decrypts and authenticates; throws on any mismatch. */
  open(nonce: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>
}


/** The primitives end-to-end encryption needs, with a WebCrypto and a noble body. */
export interface E2eBackend {
  /** `webcrypto` or `noble`. */
  readonly name: string
  /** A fresh random key pair. */
  generateKeyPair(): Promise<X25519KeyPair>
  /** A key pair from a 32-byte private scalar (test vectors). */
  importPrivateKey(secret: Uint8Array): Promise<X25519KeyPair>
  /** X25519(private, public); rejects low-order public keys (all-zero output). */
  sharedSecret(privateKey: X25519PrivateKey, publicKey: Uint8Array): Promise<Uint8Array>
  /** HKDF-SHA256 with an all-zero salt. */
  hkdf(ikm: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>
  /** An AES-256-GCM key. */
  aead(key: Uint8Array): Promise<Aead>
}


function secret (handle: unknown): X25519PrivateKey {
  return { handle, toString: () => 'SecretKey(x25519)' }
}


function checkShared (shared: Uint8Array): Uint8Array {
  let acc = 0
  for (const b of shared) acc |= b
  if (acc === 0) throw new DecryptionFailedError('X25519 produced an all-zero secret (low-order public key)')
  return shared
}


function checkPublicKey (publicKey: Uint8Array): void {
  if (publicKey.byteLength !== X25519_BYTES) throw new DecryptionFailedError(`X25519 public keys are ${X25519_BYTES} bytes, got ${publicKey.byteLength}`)
}


const ZERO_SALT = new Uint8Array(32)

/** WebCrypto's typings want ArrayBuffer-backed views; ours always are (never shared memory). */
function bs (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>
}

/** PKCS#8 header of a raw X25519 private key (RFC 8410). */
const PKCS8_X25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])


/** The WebCrypto body: native X25519, HKDF and AES-GCM. Private keys are non-extractable. */
export function webCryptoBackend (subtle: SubtleCrypto = globalThis.crypto.subtle): E2eBackend {
  const toPair = async (pair: CryptoKeyPair): Promise<X25519KeyPair> => ({
    publicKey: new Uint8Array(await subtle.exportKey('raw', pair.publicKey)),
    privateKey: secret(pair.privateKey)
  })
  return {
    name: 'webcrypto',
    async generateKeyPair () {
      return await toPair(await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']) as CryptoKeyPair)
    },
    async importPrivateKey (raw) {
      if (raw.byteLength !== X25519_BYTES) throw new TypeError('X25519 private keys are 32 bytes')
      const pkcs8 = new Uint8Array(PKCS8_X25519.byteLength + X25519_BYTES)
      pkcs8.set(PKCS8_X25519)
      pkcs8.set(raw, PKCS8_X25519.byteLength)
      const privateKey = await subtle.importKey('pkcs8', bs(pkcs8), { name: 'X25519' }, true, ['deriveBits'])
      const jwk = await subtle.exportKey('jwk', privateKey)
      const publicKey = base64UrlDecode(jwk.x ?? '')
      // re-import non-extractable: nothing can read the scalar back out
      return { publicKey, privateKey: secret(await subtle.importKey('pkcs8', bs(pkcs8), { name: 'X25519' }, false, ['deriveBits'])) }
    },
    async sharedSecret (privateKey, publicKey) {
      checkPublicKey(publicKey)
      let bits: ArrayBuffer
      try {
        const pub = await subtle.importKey('raw', bs(publicKey), { name: 'X25519' }, false, [])
        bits = await subtle.deriveBits({ name: 'X25519', public: pub } as unknown as AlgorithmIdentifier, privateKey.handle as CryptoKey, 256)
      } catch (err) {
        throw new DecryptionFailedError(`X25519 failed: ${(err as Error).message}`, { cause: err })
      }
      return checkShared(new Uint8Array(bits))
    },
    async hkdf (ikm, info, length) {
      const key = await subtle.importKey('raw', bs(ikm), 'HKDF', false, ['deriveBits'])
      return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: ZERO_SALT, info: bs(info) }, key, length * 8))
    },
    async aead (raw) {
      const key = await subtle.importKey('raw', bs(raw), 'AES-GCM', false, ['encrypt', 'decrypt'])
      return {
        async seal (nonce, plaintext) {
          return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: bs(nonce) }, key, bs(plaintext)))
        },
        async open (nonce, ciphertext) {
          try {
            return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: bs(nonce) }, key, bs(ciphertext)))
          } catch (err) {
            throw new DecryptionFailedError(undefined, { cause: err })
          }
        }
      }
    }
  }
}


/** The pure-JS body (`@noble/*`): for runtimes without WebCrypto; ~50x slower on bulk data. */
export function nobleBackend (): E2eBackend {
  return {
    name: 'noble',
    async generateKeyPair () {
      const priv = x25519.utils.randomSecretKey()
      return { publicKey: x25519.getPublicKey(priv), privateKey: secret(priv) }
    },
    async importPrivateKey (raw) {
      if (raw.byteLength !== X25519_BYTES) throw new TypeError('X25519 private keys are 32 bytes')
      const priv = raw.slice()
      return { publicKey: x25519.getPublicKey(priv), privateKey: secret(priv) }
    },
    async sharedSecret (privateKey, publicKey) {
      checkPublicKey(publicKey)
      let shared: Uint8Array
      try {
        shared = x25519.getSharedSecret(privateKey.handle as Uint8Array, publicKey)
      } catch (err) {
        throw new DecryptionFailedError(`X25519 failed: ${(err as Error).message}`, { cause: err })
      }
      return checkShared(shared)
    },
    async hkdf (ikm, info, length) {
      return hkdf(sha256, ikm, ZERO_SALT, info, length)
    },
    async aead (key) {
      const k = key.slice()
      return {
        async seal (nonce, plaintext) {
          return gcm(k, nonce).encrypt(plaintext)
        },
        async open (nonce, ciphertext) {
          try {
            return gcm(k, nonce).decrypt(ciphertext)
          } catch (err) {
            throw new DecryptionFailedError(undefined, { cause: err })
          }
        }
      }
    }
  }
}


let chosen: Promise<E2eBackend> | undefined


/**
 * The fastest body this runtime supports: WebCrypto if it has X25519 (Node 22+,
 * Chromium 133+, Firefox 130+, Safari 17+), else noble. Probed once.
 */
export async function defaultE2eBackend (): Promise<E2eBackend> {
  chosen ??= (async () => {
    const subtle = globalThis.crypto?.subtle
    if (subtle === undefined) return nobleBackend()
    try {
      const backend = webCryptoBackend(subtle)
      const a = await backend.generateKeyPair()
      await backend.sharedSecret(a.privateKey, a.publicKey)
      return backend
    } catch {
      return nobleBackend()
    }
  })()
  return await chosen
}


function base64UrlDecode (s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4)
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}
