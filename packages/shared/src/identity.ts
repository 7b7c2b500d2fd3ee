/**
 * Hotkey identity: SS58 addresses, the {@link Signer} interface and strict sr25519
 * verification over polkadot-js wrapped bytes (`<Bytes>…</Bytes>`), so that a key
 * file and a browser wallet extension produce signatures that verify the same way.
 *
 * @packageDocumentation
 */
import { Keyring } from '@polkadot/keyring'
import { isHex, u8aWrapBytes } from '@polkadot/util'
import {
  base58Decode,
  checkAddressChecksum,
  cryptoWaitReady,
  encodeAddress,
  keyExtractSuri,
  mnemonicValidate,
  sr25519PairFromSeed,
  sr25519Sign,
  sr25519Verify
} from '@polkadot/util-crypto'
import { BITTENSOR_SS58_PREFIX } from './constants.ts'
import { AbortError, HotkeyLoadError, InvalidSignatureError, InvalidSs58Error, WrongSs58PrefixError } from './errors.ts'

/** Options every async subwire API takes last. */
export interface AbortOptions {
  /** Cancels the operation; it then rejects with an `AbortError`. */
  signal?: AbortSignal | undefined
}

/**
 * Something that can sign for a hotkey. `sign` receives the raw message and returns an
 * sr25519 signature over `u8aWrapBytes(message)`, exactly what a polkadot-js wallet
 * extension's `signRaw({ type: 'bytes' })` returns.
 */
export interface Signer {
  /** SS58 address of the hotkey. */
  readonly ss58: string
  /** 32-byte sr25519 public key. */
  readonly publicKey: Uint8Array
  /** Signs `u8aWrapBytes(message)`; returns the 64-byte signature. */
  sign(message: Uint8Array, options?: AbortOptions): Promise<Uint8Array>
}

/** An SS58 address decoded into its parts. */
export interface DecodedSs58 {
  /** Network prefix (42 for Bittensor). */
  prefix: number
  /** 32-byte public key. */
  publicKey: Uint8Array
}

/** Resolves once the WASM sr25519 implementation is loaded. Call before any sign/verify. */
export async function cryptoReady (): Promise<void> {
  await cryptoWaitReady()
}

/** Throws the signal's abort as an {@link AbortError} if it is aborted. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortError()
}

/** Encodes a 32-byte public key as SS58 with the given network prefix (default 42). */
export function encodeSs58 (publicKey: Uint8Array, prefix = BITTENSOR_SS58_PREFIX): string {
  if (publicKey.byteLength !== 32) throw new InvalidSs58Error('Public key must be 32 bytes')
  return encodeAddress(publicKey, prefix)
}

/**
 * Decodes and validates an SS58 address of a 32-byte key (any network prefix; pass
 * `expectedPrefix` to require one). Throws {@link InvalidSs58Error} or {@link WrongSs58PrefixError}.
 */
export function decodeSs58 (address: string, expectedPrefix?: number): DecodedSs58 {
  let raw: Uint8Array
  try {
    raw = base58Decode(address)
  } catch (err) {
    throw new InvalidSs58Error(`Invalid SS58 address "${address}": not base58`, { cause: err })
  }
  const prefixLength = raw[0] !== undefined && (raw[0] & 0b0100_0000) !== 0 ? 2 : 1
  // 32-byte key + 2 checksum bytes
  if (raw.byteLength !== prefixLength + 32 + 2) {
    throw new InvalidSs58Error(`Invalid SS58 address "${address}": not a 32-byte key`)
  }
  const [valid] = checkAddressChecksum(raw)
  if (!valid) throw new InvalidSs58Error(`Invalid SS58 address "${address}": bad checksum`)
  const b0 = raw[0] ?? 0
  const b1 = raw[1] ?? 0
  const prefix = prefixLength === 1
    ? b0
    : ((b0 & 0b0011_1111) << 2) | (b1 >> 6) | ((b1 & 0b0011_1111) << 8)
  if (expectedPrefix !== undefined && prefix !== expectedPrefix) {
    throw new WrongSs58PrefixError(`SS58 address "${address}" has network prefix ${prefix}, expected ${expectedPrefix}`)
  }
  return { prefix, publicKey: raw.slice(prefixLength, prefixLength + 32) }
}

/** True if `address` is a valid SS58 address (optionally with the given prefix). */
export function isSs58 (address: string, expectedPrefix?: number): boolean {
  try {
    decodeSs58(address, expectedPrefix)
    return true
  } catch {
    return false
  }
}

/** The exact bytes a signer signs for `message`: polkadot-js `u8aWrapBytes`. */
export function wrapBytes (message: Uint8Array): Uint8Array {
  return u8aWrapBytes(message)
}

/**
 * Strict verification: `sr25519Verify(u8aWrapBytes(message), signature, publicKey)`.
 * Unlike polkadot's lenient `signatureVerify`, it accepts neither unwrapped messages
 * nor other key types. Throws {@link InvalidSignatureError}.
 */
export function verifyHotkeySignature (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): void {
  let ok = false
  if (signature.byteLength === 64 && publicKey.byteLength === 32) {
    try {
      ok = sr25519Verify(u8aWrapBytes(message), signature, publicKey)
    } catch {
      ok = false
    }
  }
  if (!ok) throw new InvalidSignatureError()
}

/** A 32-byte secret as held by a {@link Signer}; prints as `SecretKey(..)` so it never reaches logs. */
export class SecretKey {
  readonly #bytes: Uint8Array
  constructor (bytes: Uint8Array) {
    this.#bytes = bytes
  }

  /** The raw secret bytes. */
  expose (): Uint8Array {
    return this.#bytes
  }

  toString (): string {
    return 'SecretKey(..)'
  }

  toJSON (): string {
    return 'SecretKey(..)'
  }

  [Symbol.for('nodejs.util.inspect.custom')] (): string {
    return 'SecretKey(..)'
  }
}

/** A local sr25519 key pair. */
export interface Sr25519Keypair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

/**
 * A {@link Signer} over a local sr25519 key pair (64-byte schnorrkel secret). Used for
 * key files on servers and dev keys in the browser.
 */
export function keypairSigner (pair: Sr25519Keypair, prefix = BITTENSOR_SS58_PREFIX): Signer {
  const secret = new SecretKey(pair.secretKey)
  const publicKey = pair.publicKey
  return {
    ss58: encodeSs58(publicKey, prefix),
    publicKey,
    async sign (message, options = {}) {
      throwIfAborted(options.signal)
      return sr25519Sign(u8aWrapBytes(message), { publicKey, secretKey: secret.expose() })
    },
    toString () {
      return `Signer(${encodeSs58(publicKey, prefix)})`
    }
  } as Signer
}

/** A {@link Signer} from a 32-byte sr25519 mini-secret seed. Requires {@link cryptoReady}. */
export function seedSigner (seed: Uint8Array, prefix = BITTENSOR_SS58_PREFIX): Signer {
  return keypairSigner(sr25519PairFromSeed(seed), prefix)
}

/**
 * A {@link Signer} backed by a callback, e.g. a wallet extension's `signRaw`. The
 * callback must return a signature over `u8aWrapBytes(message)`; it is verified once
 * here so a misbehaving signer fails loudly, not at the remote.
 */
export function callbackSigner (ss58: string, sign: (message: Uint8Array, options: AbortOptions) => Promise<Uint8Array>): Signer {
  const { publicKey } = decodeSs58(ss58)
  return {
    ss58,
    publicKey,
    async sign (message, options = {}) {
      throwIfAborted(options.signal)
      const signature = await sign(message, options)
      verifyHotkeySignature(message, signature, publicKey)
      return signature
    }
  }
}

/**
 * A {@link Signer} from a secret URI as polkadot-js understands it: a dev URI
 * (`//Alice`), a mnemonic with optional derivation path (`word … word//hard/soft`), or a
 * 0x-prefixed 32-byte hex seed. Requires {@link cryptoReady}. The secret stays inside
 * the keyring pair.
 */
export function uriSigner (uri: string, prefix = BITTENSOR_SS58_PREFIX): Signer {
  let pair: ReturnType<Keyring['addFromUri']>
  try {
    // polkadot-js would take any short string as a raw seed; a typo must not become a key
    const phrase = uri.startsWith('//') ? '' : keyExtractSuri(uri).phrase
    if (phrase !== '' && !isHex(phrase, 256) && !mnemonicValidate(phrase)) {
      throw new Error('neither a BIP39 mnemonic, a 0x 32-byte seed nor a //dev URI')
    }
    pair = new Keyring({ type: 'sr25519', ss58Format: prefix }).addFromUri(uri)
  } catch (err) {
    throw new HotkeyLoadError(`Not a valid secret URI, mnemonic or seed: ${(err as Error).message}`, { cause: err })
  }
  const publicKey = pair.publicKey
  const ss58 = encodeSs58(publicKey, prefix)
  return {
    ss58,
    publicKey,
    async sign (message, options = {}) {
      throwIfAborted(options.signal)
      return pair.sign(u8aWrapBytes(message))
    },
    toString () {
      return `Signer(${ss58})`
    }
  } as Signer
}
