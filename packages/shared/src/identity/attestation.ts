/**
 * Attestations: a hotkey's signed statement that a libp2p PeerId speaks for it.
 *
 * The signed bytes have one canonical binary layout (see docs/PROTOCOL.md), so the
 * verifier checks exactly the bytes it received, never a re-encoding:
 *
 * ```
 * "SUBWIRE-ATTESTATION" (19 ASCII bytes) | version u8 | ss58 prefix u16 | hotkey public key (32)
 * | peerId length u8 | peerId multihash bytes | netuid count u16 | netuids u16… (ascending, unique)
 * | issued-at u64 ms | expires-at u64 ms | nonce (16) | encryption key length u8 | encryption key
 * ```
 * All integers are big-endian. The signature is sr25519 over `u8aWrapBytes(bytes)`.
 *
 * @packageDocumentation
 */
import { base58Decode, base58Encode } from './base58.ts'
import {
  ATTESTATION_DOMAIN,
  ATTESTATION_NONCE_BYTES,
  ATTESTATION_VERSION,
  DEFAULT_ATTESTATION_LIFETIME_MS,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  MAX_ATTESTATION_LIFETIME_MS,
  MAX_NETUID
} from '../constants.ts'
import {
  AttestationExpiredError,
  AttestationFromFutureError,
  InvalidAttestationError,
  PeerIdMismatchError,
  WrongSs58PrefixError
} from '../errors/index.ts'
import { decodeSs58, encodeSs58, isSs58Prefix } from './ss58.ts'
import { throwIfAborted } from '../abort.ts'
import { verifyHotkeySignature } from './signers.ts'
import type { AbortOptions } from '../abort.ts'
import type { Signer } from './signers.ts'

const DOMAIN_BYTES = new TextEncoder().encode(ATTESTATION_DOMAIN)
/** Longest PeerId multihash accepted (identity-hashed ed25519/secp256k1 keys are 38-39 bytes; sha256 ones 34). */
const MAX_PEER_ID_BYTES = 64
/** Encryption public keys are X25519 (32 bytes) or absent. */
const ENCRYPTION_KEY_BYTES = 32
/** At most this many subnets in one attestation. */
const MAX_NETUIDS = 1024

/** The fields of an attestation. */
export interface Attestation {
  /** Attestation layout version. */
  version: number
  /** SS58 network prefix of the hotkey. */
  ss58Prefix: number
  /** 32-byte sr25519 hotkey public key. */
  publicKey: Uint8Array
  /** The hotkey as SS58 (derived from prefix and key). */
  ss58: string
  /** The libp2p PeerId (base58btc string) the hotkey vouches for. */
  peerId: string
  /** Subnets the peer serves, ascending and unique. */
  netuids: number[]
  /** Milliseconds since the epoch. */
  issuedAt: number
  /** Milliseconds since the epoch. */
  expiresAt: number
  /** 16 random bytes. */
  nonce: Uint8Array
  /** X25519 public key for end-to-end encryption, when published. */
  encryptionKey?: Uint8Array | undefined
}

/** An attestation with its canonical bytes and signature. */
export interface SignedAttestation {
  /** The canonical bytes that were signed. */
  bytes: Uint8Array
  /** sr25519 signature over `u8aWrapBytes(bytes)`. */
  signature: Uint8Array
  /** The decoded fields. */
  attestation: Attestation
}

/** What the signer fills into a new attestation. */
export interface CreateAttestationInit {
  /** The PeerId (base58btc string) being attested. */
  peerId: string
  /** Subnets served. */
  netuids: number[]
  /** Lifetime; default 24 h. */
  lifetimeMs?: number
  /** Current time; default `Date.now()`. */
  now?: number
  /** Nonce; default 16 random bytes. */
  nonce?: Uint8Array
  /** X25519 public key to publish. */
  encryptionKey?: Uint8Array
}

/** Options of {@link verifyAttestation}. */
export interface VerifyAttestationOptions {
  /** The connection's authenticated remote PeerId; the attestation must name it. */
  expectedPeerId: string
  /** Current time; default `Date.now()`. */
  now?: number
  /** Tolerated clock difference; default 30 s. */
  maxClockSkewMs?: number
  /** Required SS58 network prefix (42 for Bittensor); any prefix when omitted. */
  ss58Prefix?: number
  /**
   * Signatures already verified, keyed by bytes and signature (see {@link SignatureCache}):
   * a peer reconnecting with the same attestation skips the sr25519 verification (1.6 ms
   * in pure JS). Every other check still runs on every connection.
   */
  verified?: Pick<SignatureCache, 'has' | 'add'> | undefined
}

/** A bounded memory of attestation signatures that verified. */
export class SignatureCache {
  readonly #seen = new Map<string, true>()
  readonly #max: number

  constructor (maxEntries = 4096) {
    this.#max = maxEntries
  }

  /** The key of (bytes, signature): both in full, so nothing else can match it. */
  static key (bytes: Uint8Array, signature: Uint8Array): string {
    let s = ''
    for (const b of bytes) s += b.toString(16).padStart(2, '0')
    s += ':'
    for (const b of signature) s += b.toString(16).padStart(2, '0')
    return s
  }

  /** True if this pair verified before. */
  has (key: string): boolean {
    return this.#seen.has(key)
  }

  /** Records a pair that verified. */
  add (key: string): void {
    this.#seen.set(key, true)
    if (this.#seen.size > this.#max) {
      const oldest = this.#seen.keys().next().value
      if (oldest !== undefined) this.#seen.delete(oldest)
    }
  }
}

function normaliseNetuids (netuids: readonly number[]): number[] {
  for (const n of netuids) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_NETUID) {
      throw new InvalidAttestationError(`netuid ${n} is not an integer from 0 to ${MAX_NETUID}`)
    }
  }
  return [...new Set(netuids)].sort((a, b) => a - b)
}

/** Encodes attestation fields into their canonical bytes. */
export function encodeAttestation (a: Omit<Attestation, 'ss58'>): Uint8Array {
  if (a.publicKey.byteLength !== 32) throw new InvalidAttestationError('public key must be 32 bytes')
  if (a.nonce.byteLength !== ATTESTATION_NONCE_BYTES) throw new InvalidAttestationError(`nonce must be ${ATTESTATION_NONCE_BYTES} bytes`)
  if (a.encryptionKey !== undefined && a.encryptionKey.byteLength !== ENCRYPTION_KEY_BYTES) {
    throw new InvalidAttestationError(`encryption key must be ${ENCRYPTION_KEY_BYTES} bytes`)
  }
  if (!isSs58Prefix(a.ss58Prefix)) throw new InvalidAttestationError('bad SS58 prefix')
  let peerIdBytes: Uint8Array
  try {
    peerIdBytes = base58Decode(a.peerId)
  } catch (err) {
    throw new InvalidAttestationError(`PeerId "${a.peerId}" is not base58btc`, { cause: err })
  }
  if (peerIdBytes.byteLength === 0 || peerIdBytes.byteLength > MAX_PEER_ID_BYTES) throw new InvalidAttestationError('bad PeerId length')
  const netuids = normaliseNetuids(a.netuids)
  if (netuids.length > MAX_NETUIDS) throw new InvalidAttestationError(`at most ${MAX_NETUIDS} netuids`)
  if (!Number.isSafeInteger(a.issuedAt) || !Number.isSafeInteger(a.expiresAt) || a.issuedAt < 0 || a.expiresAt < 0) {
    throw new InvalidAttestationError('timestamps must be non-negative integers')
  }
  const encKeyLength = a.encryptionKey?.byteLength ?? 0
  const length = DOMAIN_BYTES.byteLength + 1 + 2 + 32 + 1 + peerIdBytes.byteLength + 2 + 2 * netuids.length + 8 + 8 + ATTESTATION_NONCE_BYTES + 1 + encKeyLength
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  let o = 0
  out.set(DOMAIN_BYTES, o); o += DOMAIN_BYTES.byteLength
  view.setUint8(o, a.version); o += 1
  view.setUint16(o, a.ss58Prefix); o += 2
  out.set(a.publicKey, o); o += 32
  view.setUint8(o, peerIdBytes.byteLength); o += 1
  out.set(peerIdBytes, o); o += peerIdBytes.byteLength
  view.setUint16(o, netuids.length); o += 2
  for (const n of netuids) { view.setUint16(o, n); o += 2 }
  view.setBigUint64(o, BigInt(a.issuedAt)); o += 8
  view.setBigUint64(o, BigInt(a.expiresAt)); o += 8
  out.set(a.nonce, o); o += ATTESTATION_NONCE_BYTES
  view.setUint8(o, encKeyLength); o += 1
  if (a.encryptionKey !== undefined) { out.set(a.encryptionKey, o); o += encKeyLength }
  return out
}

/**
 * Decodes canonical attestation bytes. Rejects anything that is not exactly what
 * {@link encodeAttestation} would produce (trailing bytes, unsorted netuids, …).
 */
export function decodeAttestation (bytes: Uint8Array): Attestation {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let o = 0
  const need = (n: number): void => {
    if (o + n > bytes.byteLength) throw new InvalidAttestationError('attestation is truncated')
  }
  need(DOMAIN_BYTES.byteLength)
  for (let i = 0; i < DOMAIN_BYTES.byteLength; i++) {
    if (bytes[i] !== DOMAIN_BYTES[i]) throw new InvalidAttestationError('attestation does not start with the subwire domain tag')
  }
  o += DOMAIN_BYTES.byteLength
  need(1 + 2 + 32 + 1)
  const version = view.getUint8(o); o += 1
  if (version !== ATTESTATION_VERSION) throw new InvalidAttestationError(`unsupported attestation version ${version}`)
  const ss58Prefix = view.getUint16(o); o += 2
  if (!isSs58Prefix(ss58Prefix)) throw new InvalidAttestationError(`bad SS58 prefix ${ss58Prefix}`)
  const publicKey = bytes.slice(o, o + 32); o += 32
  const peerIdLength = view.getUint8(o); o += 1
  if (peerIdLength === 0 || peerIdLength > MAX_PEER_ID_BYTES) throw new InvalidAttestationError('bad PeerId length')
  need(peerIdLength + 2)
  const peerId = base58Encode(bytes.subarray(o, o + peerIdLength)); o += peerIdLength
  const count = view.getUint16(o); o += 2
  if (count > MAX_NETUIDS) throw new InvalidAttestationError(`at most ${MAX_NETUIDS} netuids`)
  need(2 * count)
  const netuids: number[] = []
  for (let i = 0; i < count; i++) {
    const n = view.getUint16(o); o += 2
    const prev = netuids[netuids.length - 1]
    if (prev !== undefined && n <= prev) throw new InvalidAttestationError('netuids must be ascending and unique')
    netuids.push(n)
  }
  need(8 + 8 + ATTESTATION_NONCE_BYTES + 1)
  const issuedAt = view.getBigUint64(o); o += 8
  const expiresAt = view.getBigUint64(o); o += 8
  if (issuedAt > BigInt(Number.MAX_SAFE_INTEGER) || expiresAt > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidAttestationError('timestamp out of range')
  }
  const nonce = bytes.slice(o, o + ATTESTATION_NONCE_BYTES); o += ATTESTATION_NONCE_BYTES
  const encKeyLength = view.getUint8(o); o += 1
  if (encKeyLength !== 0 && encKeyLength !== ENCRYPTION_KEY_BYTES) throw new InvalidAttestationError('bad encryption key length')
  need(encKeyLength)
  const encryptionKey = encKeyLength === 0 ? undefined : bytes.slice(o, o + encKeyLength)
  o += encKeyLength
  if (o !== bytes.byteLength) throw new InvalidAttestationError(`${bytes.byteLength - o} trailing bytes after the attestation`)
  return {
    version,
    ss58Prefix,
    publicKey,
    ss58: encodeSs58(publicKey, ss58Prefix),
    peerId,
    netuids,
    issuedAt: Number(issuedAt),
    expiresAt: Number(expiresAt),
    nonce,
    encryptionKey
  }
}

/** Creates and signs an attestation binding `signer`'s hotkey to `init.peerId`. */
export async function createAttestation (signer: Signer, init: CreateAttestationInit, options: AbortOptions = {}): Promise<SignedAttestation> {
  throwIfAborted(options.signal)
  const now = init.now ?? Date.now()
  const lifetime = init.lifetimeMs ?? DEFAULT_ATTESTATION_LIFETIME_MS
  if (!(lifetime > 0 && lifetime <= MAX_ATTESTATION_LIFETIME_MS)) {
    throw new InvalidAttestationError(`lifetime must be between 1 ms and ${MAX_ATTESTATION_LIFETIME_MS} ms`)
  }
  const { prefix } = decodeSs58(signer.ss58)
  const fields = {
    version: ATTESTATION_VERSION,
    ss58Prefix: prefix,
    publicKey: signer.publicKey,
    peerId: init.peerId,
    netuids: normaliseNetuids(init.netuids),
    issuedAt: now,
    expiresAt: now + lifetime,
    nonce: init.nonce ?? crypto.getRandomValues(new Uint8Array(ATTESTATION_NONCE_BYTES)),
    encryptionKey: init.encryptionKey
  }
  const bytes = encodeAttestation(fields)
  const signature = await signer.sign(bytes, options)
  return { bytes, signature, attestation: decodeAttestation(bytes) }
}

/**
 * Verifies an attestation received on a connection: canonical bytes, strict sr25519
 * signature by the attested hotkey, the PeerId equal to the connection's remote PeerId,
 * not expired, not issued in the future beyond the clock skew, lifetime at most 7 days,
 * and (if asked) the SS58 network prefix. Throws the matching typed error.
 */
export function verifyAttestation (bytes: Uint8Array, signature: Uint8Array, options: VerifyAttestationOptions): Attestation {
  const a = decodeAttestation(bytes)
  if (options.ss58Prefix !== undefined && a.ss58Prefix !== options.ss58Prefix) {
    throw new WrongSs58PrefixError(`attestation hotkey uses SS58 prefix ${a.ss58Prefix}, expected ${options.ss58Prefix}`)
  }
  const key = options.verified === undefined ? undefined : SignatureCache.key(bytes, signature)
  if (key === undefined || options.verified?.has(key) !== true) {
    verifyHotkeySignature(bytes, signature, a.publicKey)
    if (key !== undefined) options.verified?.add(key)
  }
  if (a.peerId !== options.expectedPeerId) {
    throw new PeerIdMismatchError(`attestation is for PeerId ${a.peerId}, the connection is with ${options.expectedPeerId}`)
  }
  const now = options.now ?? Date.now()
  const skew = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS
  if (a.issuedAt > now + skew) {
    throw new AttestationFromFutureError(`attestation issued ${a.issuedAt - now} ms in the future (skew allowed: ${skew} ms)`)
  }
  if (a.expiresAt <= now - skew) throw new AttestationExpiredError(`attestation expired ${now - a.expiresAt} ms ago`)
  if (a.expiresAt <= a.issuedAt || a.expiresAt - a.issuedAt > MAX_ATTESTATION_LIFETIME_MS) {
    throw new InvalidAttestationError('attestation lifetime is not between 1 ms and 7 days')
  }
  return a
}
