/**
 * Signed hotkey records: a hotkey's statement of where it can be reached (its PeerId and
 * multiaddrs, browser addresses with their certhashes included) and which subnets it
 * serves, with a sequence number and an expiry. Records live in the DHT under
 * `/subwire-hk/<ss58>` and `/subwire-pid/<peerId>`; every reader verifies them.
 *
 * The signed bytes have one canonical layout (docs/PROTOCOL.md, "Hotkey records"):
 *
 * ```
 * "SUBWIRE-HOTKEY-RECORD" (21 ASCII bytes) | version u8 | ss58 prefix u16 | hotkey public key (32)
 * | peerId length u8 | peerId multihash bytes | addr count u8 | (addr length u16 | addr UTF-8)…
 * | netuid count u16 | netuids u16… (ascending, unique) | seq u64 | expires-at u64 ms
 * ```
 * All integers are big-endian. The DHT value is those bytes followed by the 64-byte
 * sr25519 signature over `u8aWrapBytes(bytes)`.
 *
 * @packageDocumentation
 */
import { base58Decode, base58Encode } from '../identity/base58.ts'
import {
  DEFAULT_HOTKEY_RECORD_LIFETIME_MS,
  HOTKEY_RECORD_DOMAIN,
  HOTKEY_RECORD_NAMESPACE,
  HOTKEY_RECORD_VERSION,
  MAX_ATTESTATION_LIFETIME_MS,
  MAX_NETUID,
  MAX_RECORD_ADDR_BYTES,
  MAX_RECORD_ADDRS,
  PEER_RECORD_NAMESPACE
} from '../constants.ts'
import { HotkeyRecordExpiredError, InvalidHotkeyRecordError, InvalidSignatureError, StaleHotkeyRecordError } from '../errors/index.ts'
import { decodeSs58, encodeSs58, isSs58Prefix } from '../identity/ss58.ts'
import { verifyHotkeySignature } from '../identity/signers.ts'
import { throwIfAborted } from '../abort.ts'
import type { AbortOptions } from '../abort.ts'
import type { Signer } from '../identity/signers.ts'

const DOMAIN_BYTES = new TextEncoder().encode(HOTKEY_RECORD_DOMAIN)
const SIGNATURE_BYTES = 64
const MAX_PEER_ID_BYTES = 64
const MAX_NETUIDS = 1024
const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

/** The fields of a hotkey record. */
export interface HotkeyRecord {
  /** Layout version. */
  version: number
  /** SS58 network prefix of the hotkey. */
  ss58Prefix: number
  /** 32-byte sr25519 hotkey public key. */
  publicKey: Uint8Array
  /** The hotkey as SS58 (derived from prefix and key). */
  ss58: string
  /** The libp2p PeerId (base58btc) the hotkey is reached at. */
  peerId: string
  /** Where to dial it (without `/p2p/<PeerId>`), browser addresses with their certhashes. */
  multiaddrs: string[]
  /** Subnets it serves, ascending and unique. */
  netuids: number[]
  /** Sequence number: of two valid records for one hotkey, the higher wins. */
  seq: number
  /** Milliseconds since the epoch after which the record is void. */
  expiresAt: number
}

/** A record with its canonical bytes and signature. */
export interface SignedHotkeyRecord {
  /** The canonical bytes that were signed. */
  bytes: Uint8Array
  /** sr25519 signature over `u8aWrapBytes(bytes)`. */
  signature: Uint8Array
  /** The decoded fields. */
  record: HotkeyRecord
}

/** What the signer fills into a new record. */
export interface CreateHotkeyRecordInit {
  /** The PeerId it is reached at. */
  peerId: string
  /** Its dialable addresses. */
  multiaddrs: string[]
  /** Subnets served. */
  netuids: number[]
  /** Sequence number; default `now` (so a restarted peer's record wins without stored state). */
  seq?: number
  /** Lifetime; default 1 h, at most 7 days. */
  lifetimeMs?: number
  /** Current time; default `Date.now()`. */
  now?: number
}

/** Options of {@link verifyHotkeyRecord}. */
export interface VerifyHotkeyRecordOptions {
  /** The record must be this hotkey's. */
  expectedSs58?: string | undefined
  /** The record must name this PeerId. */
  expectedPeerId?: string | undefined
  /** Refuse records with a `seq` lower than this (a newer one is known). */
  minSeq?: number | undefined
  /** Current time; default `Date.now()`. */
  now?: number
}

function normaliseNetuids (netuids: readonly number[]): number[] {
  for (const n of netuids) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_NETUID) throw new InvalidHotkeyRecordError(`netuid ${n} is not an integer from 0 to ${MAX_NETUID}`)
  }
  return [...new Set(netuids)].sort((a, b) => a - b)
}

/** Encodes record fields into their canonical bytes. */
export function encodeHotkeyRecord (r: Omit<HotkeyRecord, 'ss58'>): Uint8Array {
  if (r.version !== HOTKEY_RECORD_VERSION) throw new InvalidHotkeyRecordError(`unsupported record version ${r.version}`)
  if (r.publicKey.byteLength !== 32) throw new InvalidHotkeyRecordError('public key must be 32 bytes')
  if (!isSs58Prefix(r.ss58Prefix)) throw new InvalidHotkeyRecordError('bad SS58 prefix')
  let peerIdBytes: Uint8Array
  try {
    peerIdBytes = base58Decode(r.peerId)
  } catch (err) {
    throw new InvalidHotkeyRecordError(`PeerId "${r.peerId}" is not base58btc`, { cause: err })
  }
  if (peerIdBytes.byteLength === 0 || peerIdBytes.byteLength > MAX_PEER_ID_BYTES) throw new InvalidHotkeyRecordError('bad PeerId length')
  if (r.multiaddrs.length > MAX_RECORD_ADDRS) throw new InvalidHotkeyRecordError(`at most ${MAX_RECORD_ADDRS} multiaddrs`)
  const addrs = r.multiaddrs.map((a) => utf8.encode(a))
  if (addrs.some((a) => a.byteLength === 0 || a.byteLength > MAX_RECORD_ADDR_BYTES)) throw new InvalidHotkeyRecordError(`a multiaddr must be 1 to ${MAX_RECORD_ADDR_BYTES} bytes`)
  const netuids = normaliseNetuids(r.netuids)
  if (netuids.length > MAX_NETUIDS) throw new InvalidHotkeyRecordError(`at most ${MAX_NETUIDS} netuids`)
  if (!Number.isSafeInteger(r.seq) || r.seq < 0 || !Number.isSafeInteger(r.expiresAt) || r.expiresAt < 0) {
    throw new InvalidHotkeyRecordError('seq and expiry must be non-negative integers')
  }
  const length = DOMAIN_BYTES.byteLength + 1 + 2 + 32 + 1 + peerIdBytes.byteLength + 1 +
    addrs.reduce((n, a) => n + 2 + a.byteLength, 0) + 2 + 2 * netuids.length + 8 + 8
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  let o = 0
  out.set(DOMAIN_BYTES, o); o += DOMAIN_BYTES.byteLength
  view.setUint8(o, r.version); o += 1
  view.setUint16(o, r.ss58Prefix); o += 2
  out.set(r.publicKey, o); o += 32
  view.setUint8(o, peerIdBytes.byteLength); o += 1
  out.set(peerIdBytes, o); o += peerIdBytes.byteLength
  view.setUint8(o, addrs.length); o += 1
  for (const a of addrs) { view.setUint16(o, a.byteLength); o += 2; out.set(a, o); o += a.byteLength }
  view.setUint16(o, netuids.length); o += 2
  for (const n of netuids) { view.setUint16(o, n); o += 2 }
  view.setBigUint64(o, BigInt(r.seq)); o += 8
  view.setBigUint64(o, BigInt(r.expiresAt))
  return out
}

/** Decodes canonical record bytes; rejects anything {@link encodeHotkeyRecord} would not produce. */
export function decodeHotkeyRecord (bytes: Uint8Array): HotkeyRecord {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let o = 0
  const need = (n: number): void => {
    if (o + n > bytes.byteLength) throw new InvalidHotkeyRecordError('hotkey record is truncated')
  }
  need(DOMAIN_BYTES.byteLength)
  for (let i = 0; i < DOMAIN_BYTES.byteLength; i++) {
    if (bytes[i] !== DOMAIN_BYTES[i]) throw new InvalidHotkeyRecordError('record does not start with the subwire hotkey-record tag')
  }
  o += DOMAIN_BYTES.byteLength
  need(1 + 2 + 32 + 1)
  const version = view.getUint8(o); o += 1
  if (version !== HOTKEY_RECORD_VERSION) throw new InvalidHotkeyRecordError(`unsupported record version ${version}`)
  const ss58Prefix = view.getUint16(o); o += 2
  if (!isSs58Prefix(ss58Prefix)) throw new InvalidHotkeyRecordError(`bad SS58 prefix ${ss58Prefix}`)
  const publicKey = bytes.slice(o, o + 32); o += 32
  const peerIdLength = view.getUint8(o); o += 1
  if (peerIdLength === 0 || peerIdLength > MAX_PEER_ID_BYTES) throw new InvalidHotkeyRecordError('bad PeerId length')
  need(peerIdLength + 1)
  const peerId = base58Encode(bytes.subarray(o, o + peerIdLength)); o += peerIdLength
  const addrCount = view.getUint8(o); o += 1
  if (addrCount > MAX_RECORD_ADDRS) throw new InvalidHotkeyRecordError(`at most ${MAX_RECORD_ADDRS} multiaddrs`)
  const multiaddrs: string[] = []
  for (let i = 0; i < addrCount; i++) {
    need(2)
    const len = view.getUint16(o); o += 2
    if (len === 0 || len > MAX_RECORD_ADDR_BYTES) throw new InvalidHotkeyRecordError(`a multiaddr must be 1 to ${MAX_RECORD_ADDR_BYTES} bytes`)
    need(len)
    try {
      multiaddrs.push(utf8Strict.decode(bytes.subarray(o, o + len)))
    } catch (err) {
      throw new InvalidHotkeyRecordError('a multiaddr is not UTF-8', { cause: err })
    }
    o += len
  }
  need(2)
  const count = view.getUint16(o); o += 2
  if (count > MAX_NETUIDS) throw new InvalidHotkeyRecordError(`at most ${MAX_NETUIDS} netuids`)
  need(2 * count)
  const netuids: number[] = []
  for (let i = 0; i < count; i++) {
    const n = view.getUint16(o); o += 2
    const prev = netuids[netuids.length - 1]
    if (prev !== undefined && n <= prev) throw new InvalidHotkeyRecordError('netuids must be ascending and unique')
    netuids.push(n)
  }
  need(16)
  const seq = view.getBigUint64(o); o += 8
  const expiresAt = view.getBigUint64(o); o += 8
  if (seq > BigInt(Number.MAX_SAFE_INTEGER) || expiresAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidHotkeyRecordError('seq or expiry out of range')
  if (o !== bytes.byteLength) throw new InvalidHotkeyRecordError(`${bytes.byteLength - o} trailing bytes after the record`)
  return { version, ss58Prefix, publicKey, ss58: encodeSs58(publicKey, ss58Prefix), peerId, multiaddrs, netuids, seq: Number(seq), expiresAt: Number(expiresAt) }
}

/** Creates and signs a record for `signer`'s hotkey. */
export async function createHotkeyRecord (signer: Signer, init: CreateHotkeyRecordInit, options: AbortOptions = {}): Promise<SignedHotkeyRecord> {
  throwIfAborted(options.signal)
  const now = init.now ?? Date.now()
  const lifetime = init.lifetimeMs ?? DEFAULT_HOTKEY_RECORD_LIFETIME_MS
  if (!(lifetime > 0 && lifetime <= MAX_ATTESTATION_LIFETIME_MS)) throw new InvalidHotkeyRecordError(`lifetime must be between 1 ms and ${MAX_ATTESTATION_LIFETIME_MS} ms`)
  const { prefix } = decodeSs58(signer.ss58)
  const bytes = encodeHotkeyRecord({
    version: HOTKEY_RECORD_VERSION,
    ss58Prefix: prefix,
    publicKey: signer.publicKey,
    peerId: init.peerId,
    multiaddrs: init.multiaddrs,
    netuids: init.netuids,
    seq: init.seq ?? now,
    expiresAt: Math.floor(now + lifetime)
  })
  const signature = await signer.sign(bytes, options)
  return { bytes, signature, record: decodeHotkeyRecord(bytes) }
}

/** The DHT value of a signed record: its bytes, then the 64-byte signature. */
export function hotkeyRecordToValue (signed: Pick<SignedHotkeyRecord, 'bytes' | 'signature'>): Uint8Array {
  const out = new Uint8Array(signed.bytes.byteLength + SIGNATURE_BYTES)
  out.set(signed.bytes)
  out.set(signed.signature, signed.bytes.byteLength)
  return out
}

/** Splits a DHT value into bytes and signature (no verification). */
export function hotkeyRecordFromValue (value: Uint8Array): { bytes: Uint8Array, signature: Uint8Array } {
  if (value.byteLength <= SIGNATURE_BYTES) throw new InvalidHotkeyRecordError('hotkey record value is truncated')
  return { bytes: value.subarray(0, value.byteLength - SIGNATURE_BYTES), signature: value.subarray(value.byteLength - SIGNATURE_BYTES) }
}

/**
 * Verifies a record's DHT value: canonical bytes, the strict sr25519 signature by the
 * record's own hotkey, not expired, lifetime plausible, and (if asked) the expected hotkey,
 * PeerId and a `seq` no lower than one already known. Throws the matching typed error.
 */
export function verifyHotkeyRecord (value: Uint8Array, options: VerifyHotkeyRecordOptions = {}): HotkeyRecord {
  const { bytes, signature } = hotkeyRecordFromValue(value)
  const r = decodeHotkeyRecord(bytes)
  verifyHotkeySignature(bytes, signature, r.publicKey)
  const now = options.now ?? Date.now()
  if (r.expiresAt <= now) throw new HotkeyRecordExpiredError(`record of ${r.ss58} expired ${now - r.expiresAt} ms ago`)
  if (r.expiresAt - now > MAX_ATTESTATION_LIFETIME_MS) throw new InvalidHotkeyRecordError('record expires more than 7 days from now')
  if (options.expectedSs58 !== undefined && r.ss58 !== options.expectedSs58) {
    throw new InvalidHotkeyRecordError(`record is for hotkey ${r.ss58}, not ${options.expectedSs58}`)
  }
  if (options.expectedPeerId !== undefined && r.peerId !== options.expectedPeerId) {
    throw new InvalidHotkeyRecordError(`record is for PeerId ${r.peerId}, not ${options.expectedPeerId}`)
  }
  if (options.minSeq !== undefined && r.seq < options.minSeq) throw new StaleHotkeyRecordError(`record of ${r.ss58} has seq ${r.seq}, a record with seq ${options.minSeq} is known`)
  return r
}

/** The DHT key of a hotkey's record: `/subwire-hk/<ss58>` in UTF-8. */
export function hotkeyRecordKey (ss58: string): Uint8Array {
  return utf8.encode(`/${HOTKEY_RECORD_NAMESPACE}/${ss58}`)
}

/** The DHT key of the record by PeerId: `/subwire-pid/<peerId>` in UTF-8. */
export function peerRecordKey (peerId: string): Uint8Array {
  return utf8.encode(`/${PEER_RECORD_NAMESPACE}/${peerId}`)
}

/** The namespace and id of a DHT key, or undefined if it is neither record namespace. */
function parseKey (key: Uint8Array): { ns: string, id: string } | undefined {
  let s: string
  try { s = utf8Strict.decode(key) } catch { return undefined }
  const m = /^\/([a-z-]+)\/([1-9A-HJ-NP-Za-km-z]+)$/.exec(s)
  if (m === null) return undefined
  return { ns: m[1] as string, id: m[2] as string }
}

/**
 * The DHT validator of both record namespaces: the value must verify and belong to the key
 * (the hotkey of `/subwire-hk/<ss58>`, the PeerId of `/subwire-pid/<peerId>`).
 */
export function validateHotkeyRecordEntry (key: Uint8Array, value: Uint8Array, now = Date.now()): HotkeyRecord {
  const k = parseKey(key)
  if (k === undefined) throw new InvalidHotkeyRecordError('not a hotkey record key')
  if (k.ns === HOTKEY_RECORD_NAMESPACE) return verifyHotkeyRecord(value, { expectedSs58: k.id, now })
  if (k.ns === PEER_RECORD_NAMESPACE) return verifyHotkeyRecord(value, { expectedPeerId: k.id, now })
  throw new InvalidHotkeyRecordError(`unknown record namespace "${k.ns}"`)
}

/** The DHT selector: the index of the valid record with the highest `seq` (the first on a tie; 0 if none is valid). */
export function selectHotkeyRecord (key: Uint8Array, values: Uint8Array[], now = Date.now()): number {
  let best = -1
  let bestSeq = -1
  values.forEach((v, i) => {
    try {
      const r = validateHotkeyRecordEntry(key, v, now)
      if (r.seq > bestSeq) { best = i; bestSeq = r.seq }
    } catch (err) {
      if (!(err instanceof Error) || (err.name !== InvalidHotkeyRecordError.name && err.name !== HotkeyRecordExpiredError.name && err.name !== InvalidSignatureError.name)) throw err
    }
  })
  return Math.max(best, 0)
}
