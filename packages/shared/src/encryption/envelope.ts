/**
 * End-to-end encryption of messages, RPC bodies and files, above the transport.
 *
 * - **Keys.** Each peer holds an X25519 key pair that lives in memory only, is made
 *   fresh at every start and at every attestation renewal, and is published in the
 *   attestation (signed by the hotkey, so nobody can swap it). Nothing long-term can
 *   decrypt: the hotkey only signs.
 * - **Per message or transfer**, the sender makes a fresh ephemeral X25519 key. The
 *   keys come from HKDF-SHA256 over the Diffie-Hellman output(s), with an `info` that
 *   binds the purpose, both SS58s, the message/transfer id and every public key used.
 *   Files add a second ephemeral key from the receiver (sent in `accept`), so the file
 *   bytes are protected by a key that no stored secret can ever recompute.
 * - **Chunked AEAD** (AES-256-GCM, the STREAM construction): nonce = 7-byte prefix from
 *   HKDF ‖ u32 chunk index ‖ u8 last-chunk flag. Reordering changes the index,
 *   truncation drops the flagged last chunk, splicing another message's chunk fails its
 *   key: each is a {@link DecryptionFailedError}.
 *
 * Two bodies implement the primitives: WebCrypto (`crypto.subtle`, native speed) and
 * `@noble/curves` + `@noble/ciphers` + `@noble/hashes` where WebCrypto is missing (a
 * page served over plain HTTP from a LAN address has no `crypto.subtle`). Both produce
 * the same bytes; the test vectors in docs/PROTOCOL.md check it.
 *
 * @packageDocumentation
 */
import { X25519_BYTES } from './backends.ts'
import { asRecord, bytesField } from '../wire/fields.ts'
import { DecryptionFailedError, EncryptionUnavailableError, InvalidFrameError } from '../errors/index.ts'
import type { Aead, E2eBackend, X25519KeyPair } from './backends.ts'


/** Domain tag at the start of every HKDF `info`. */
export const E2E_DOMAIN = 'SUBWIRE-E2E-V1'

/** AES-256-GCM tag size: what encryption adds to each chunk. */
export const E2E_TAG_BYTES = 16

/** Bytes of the nonce prefix derived with the key. */
const NONCE_PREFIX_BYTES = 7

/** Largest sealed single payload accepted by {@link envelopeFromWire} by default (a 16 MiB frame holds less). */
const MAX_ENVELOPE_BYTES = 16 * 1024 * 1024


const encoder = new TextEncoder()

const DOMAIN = encoder.encode(E2E_DOMAIN)


/** What a key is used for; part of the HKDF info, so a key for one never opens another. */
export const E2ePurpose = {
  /** A control message. */
  Message: 1,
  /** An RPC request body. */
  Request: 2,
  /** The reply (single or streamed) to an encrypted request. */
  Reply: 3,
  /** A file offer's manifest. */
  FileManifest: 4,
  /** A file's chunks. */
  FileData: 5
} as const


/** One of {@link E2ePurpose}. */
export type E2ePurposeValue = typeof E2ePurpose[keyof typeof E2ePurpose]


/** Who and what a key is for. */
export interface E2eContext {
  /** One of {@link E2ePurpose}. */
  purpose: E2ePurposeValue
  /** The sender's SS58. */
  sender: string
  /** The recipient's SS58. */
  recipient: string
  /** Message id, RPC type or transfer id. */
  id: string
}


function lengthPrefixed (bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength > 0xffff) throw new InvalidFrameError('context field longer than 65535 bytes')
  const out = new Uint8Array(2 + bytes.byteLength)
  new DataView(out.buffer).setUint16(0, bytes.byteLength)
  out.set(bytes, 2)
  return out
}


/**
 * The HKDF `info`: `"SUBWIRE-E2E-V1" ‖ purpose u8 ‖ lp(sender) ‖ lp(recipient) ‖ lp(id) ‖
 * public keys (32 bytes each, in protocol order)`, where `lp` is a u16 BE length then UTF-8.
 */
export function e2eInfo (context: E2eContext, publicKeys: readonly Uint8Array[]): Uint8Array {
  return concat(DOMAIN, Uint8Array.of(context.purpose), lengthPrefixed(encoder.encode(context.sender)),
    lengthPrefixed(encoder.encode(context.recipient)), lengthPrefixed(encoder.encode(context.id)), ...publicKeys)
}


function concat (...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.byteLength
  const out = new Uint8Array(length)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}


/**
 * A STREAM-construction AEAD: chunk `i` is sealed under nonce `prefix ‖ i ‖ last`. The
 * opener says which index and whether it expects the last chunk, so a reordered,
 * dropped, repeated or truncated chunk fails to open.
 */
export class StreamCipher {
  readonly #aead: Aead
  readonly #prefix: Uint8Array

  /** Use {@link deriveStreamCipher}. */
  constructor (aead: Aead, noncePrefix: Uint8Array) {
    if (noncePrefix.byteLength !== NONCE_PREFIX_BYTES) throw new TypeError(`nonce prefix must be ${NONCE_PREFIX_BYTES} bytes`)
    this.#aead = aead
    this.#prefix = noncePrefix.slice()
  }

  /** The 12-byte nonce of chunk `index`. */
  nonce (index: number, last: boolean): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new RangeError('chunk index must be a u32')
    const n = new Uint8Array(12)
    n.set(this.#prefix)
    new DataView(n.buffer).setUint32(NONCE_PREFIX_BYTES, index)
    n[11] = last ? 1 : 0
    return n
  }

  /** Seals chunk `index`. */
  async seal (index: number, plaintext: Uint8Array, last: boolean): Promise<Uint8Array> {
    return await this.#aead.seal(this.nonce(index, last), plaintext)
  }

  /** Opens chunk `index`; throws {@link DecryptionFailedError}. */
  async open (index: number, ciphertext: Uint8Array, last: boolean): Promise<Uint8Array> {
    if (ciphertext.byteLength < E2E_TAG_BYTES) throw new DecryptionFailedError(`chunk ${index} is shorter than its tag`)
    try {
      return await this.#aead.open(this.nonce(index, last), ciphertext)
    } catch (err) {
      throw new DecryptionFailedError(`chunk ${index}${last ? ' (last)' : ''} failed authentication: wrong key, tampered, reordered or truncated`, { cause: err })
    }
  }

  /** Secrets never reach logs. */
  toString (): string {
    return 'SecretKey(stream)'
  }
}


/** Derives a {@link StreamCipher}: HKDF(ikm, info) → 32-byte AES key ‖ 7-byte nonce prefix. */
export async function deriveStreamCipher (backend: E2eBackend, ikm: Uint8Array, info: Uint8Array): Promise<StreamCipher> {
  const okm = await backend.hkdf(ikm, info, 32 + NONCE_PREFIX_BYTES)
  return new StreamCipher(await backend.aead(okm.subarray(0, 32)), okm.subarray(32))
}


/**
 * A sealed single payload on the wire: `{ ek: sender's ephemeral public key, rk: the
 * recipient public key it is sealed to, c: AES-256-GCM(chunk 0, last) }`.
 */
export interface Envelope {
  /** The sender's ephemeral X25519 public key. */
  ek: Uint8Array
  /** The recipient's X25519 public key (from its attestation) the envelope is for. */
  rk: Uint8Array
  /** Ciphertext ‖ tag. */
  c: Uint8Array
}


/**
 * Parses an envelope from a decoded frame field; throws {@link InvalidFrameError}. `maxBytes`
 * bounds `c` (16 MiB; a file offer allows a whole manifest, see `MAX_SEALED_MANIFEST_BYTES`).
 */
export function envelopeFromWire (value: unknown, maxBytes = MAX_ENVELOPE_BYTES): Envelope {
  const rec = asRecord(value, 'envelope')
  const ek = bytesField(rec, 'ek', 'envelope', X25519_BYTES)
  const rk = bytesField(rec, 'rk', 'envelope', X25519_BYTES)
  if (ek.byteLength !== X25519_BYTES || rk.byteLength !== X25519_BYTES) throw new InvalidFrameError('envelope keys must be 32 bytes')
  const c = bytesField(rec, 'c', 'envelope', maxBytes)
  if (c.byteLength < E2E_TAG_BYTES) throw new InvalidFrameError('envelope ciphertext is shorter than its tag')
  return { ek, rk, c }
}


/** What sealing leaves behind: the secret the reply (or file data) key is derived from. */
export interface SealState {
  /** DH(ephemeral, recipient): input of the reply key. Keep in memory only. */
  ikm: Uint8Array
  /** The ephemeral key pair (files use it again with the receiver's ephemeral key). */
  ephemeral: X25519KeyPair
  /** The recipient key sealed to. */
  recipientKey: Uint8Array
}


/** Seals one payload to `recipientKey` with a fresh (or given, for vectors) ephemeral key. */
export async function sealEnvelope (backend: E2eBackend, recipientKey: Uint8Array | undefined, context: E2eContext, plaintext: Uint8Array,
  options: { ephemeral?: X25519KeyPair } = {}): Promise<{ envelope: Envelope, state: SealState }> {
  if (recipientKey === undefined) throw new EncryptionUnavailableError(`${context.recipient} publishes no encryption key; encryption cannot be used with it`)
  const ephemeral = options.ephemeral ?? await backend.generateKeyPair()
  const ikm = await backend.sharedSecret(ephemeral.privateKey, recipientKey)
  const cipher = await deriveStreamCipher(backend, ikm, e2eInfo(context, [ephemeral.publicKey, recipientKey]))
  const c = await cipher.seal(0, plaintext, true)
  return { envelope: { ek: ephemeral.publicKey, rk: recipientKey.slice(), c }, state: { ikm, ephemeral, recipientKey } }
}


/** Finds our private key for a public key an envelope names (current or recently rotated). */
export type KeyLookup = (publicKey: Uint8Array) => X25519KeyPair | undefined


/** Opens an envelope sealed to one of our keys; throws {@link DecryptionFailedError}. */
export async function openEnvelope (backend: E2eBackend, keys: KeyLookup, context: E2eContext, envelope: Envelope): Promise<{ plaintext: Uint8Array, ikm: Uint8Array }> {
  const ours = keys(envelope.rk)
  if (ours === undefined) throw new DecryptionFailedError('sealed to an encryption key this peer does not hold (rotated away, or meant for another peer)')
  const ikm = await backend.sharedSecret(ours.privateKey, envelope.ek)
  const cipher = await deriveStreamCipher(backend, ikm, e2eInfo(context, [envelope.ek, ours.publicKey]))
  return { plaintext: await cipher.open(0, envelope.c, true), ikm }
}


/** The cipher of the reply to an encrypted request: same DH secret, purpose `Reply`. */
export async function replyCipher (backend: E2eBackend, ikm: Uint8Array, request: E2eContext, ephemeralKey: Uint8Array, recipientKey: Uint8Array): Promise<StreamCipher> {
  return await deriveStreamCipher(backend, ikm, e2eInfo({ ...request, purpose: E2ePurpose.Reply }, [ephemeralKey, recipientKey]))
}


/**
 * The file-data cipher: HKDF over DH(eS, R) ‖ DH(eS, eR), where eR is the receiver's
 * ephemeral key sent in `accept`. Keys in info: eS, R, eR.
 */
export async function fileDataCipher (backend: E2eBackend, staticIkm: Uint8Array, ephemeralIkm: Uint8Array, context: Omit<E2eContext, 'purpose'>,
  senderEphemeral: Uint8Array, recipientKey: Uint8Array, receiverEphemeral: Uint8Array): Promise<StreamCipher> {
  return await deriveStreamCipher(backend, concat(staticIkm, ephemeralIkm),
    e2eInfo({ ...context, purpose: E2ePurpose.FileData }, [senderEphemeral, recipientKey, receiverEphemeral]))
}

/** Size of X25519 public keys and shared secrets (defined with the backends). */
export { X25519_BYTES }
