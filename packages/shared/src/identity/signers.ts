/**
 * Hotkey identity: the {@link Signer} interface and strict sr25519 verification over
 * polkadot-js wrapped bytes (`<Bytes>…</Bytes>`), so that a key file and a browser wallet
 * extension produce signatures that verify the same way; signers from a keypair, a seed,
 * a callback (a wallet) or a secret URI.
 *
 * @packageDocumentation
 */
import * as sr25519 from '@scure/sr25519'
import { BITTENSOR_SS58_PREFIX } from '../constants.ts'
import { HotkeyLoadError, InvalidSignatureError } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import type { AbortOptions } from '../abort.ts'
import { concatBytes, equalBytes, hexToBytes, isHex } from '../bytes.ts'
import { mnemonicToMiniSecret, mnemonicValidate } from './mnemonic.ts'
import { decodeSs58, encodeSs58 } from './ss58.ts'
import { extractSuri } from './suri.ts'


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


const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const WRAP_PREFIX = utf8('<Bytes>')
const WRAP_POSTFIX = utf8('</Bytes>')
const WRAP_ETHEREUM = utf8('\x19Ethereum Signed Message:\n')


/** polkadot-js `u8aIsWrapped(bytes, true)`: already `<Bytes>…</Bytes>`, or an Ethereum-style message. */
function isWrapped (bytes: Uint8Array): boolean {
  const starts = (head: Uint8Array): boolean => bytes.length >= head.length && equalBytes(bytes.subarray(0, head.length), head)
  return (bytes.length >= WRAP_PREFIX.length + WRAP_POSTFIX.length && starts(WRAP_PREFIX) &&
    equalBytes(bytes.subarray(bytes.length - WRAP_POSTFIX.length), WRAP_POSTFIX)) || starts(WRAP_ETHEREUM)
}


/**
 * The exact bytes a signer signs for `message`: polkadot-js `u8aWrapBytes`, i.e.
 * `<Bytes>` ‖ message ‖ `</Bytes>`, or `message` itself when it is wrapped already (or
 * starts with the Ethereum signed-message prefix).
 */
export function wrapBytes (message: Uint8Array): Uint8Array {
  return isWrapped(message) ? message : concatBytes(concatBytes(WRAP_PREFIX, message), WRAP_POSTFIX)
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
      ok = sr25519.verify(wrapBytes(message), signature, publicKey)
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


/** A local sr25519 key pair in polkadot-js layout (64-byte secret: key ‖ nonce). */
export interface Sr25519Keypair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}


/** A {@link Signer} over a secret in @scure/sr25519's layout; the secret never leaves the closure. */
function secretSigner (secretKey: Uint8Array, prefix: number): Signer {
  const secret = new SecretKey(secretKey)
  const publicKey = sr25519.getPublicKey(secretKey)
  const ss58 = encodeSs58(publicKey, prefix)
  return {
    ss58,
    publicKey,
    async sign (message, options = {}) {
      throwIfAborted(options.signal)
      return sr25519.sign(secret.expose(), wrapBytes(message))
    },
    toString () {
      return `Signer(${ss58})`
    }
  } as Signer
}


/**
 * A {@link Signer} over a local sr25519 key pair as polkadot-js and btcli store it.
 * Throws {@link HotkeyLoadError} if the secret is not the public key's.
 */
export function keypairSigner (pair: Sr25519Keypair, prefix = BITTENSOR_SS58_PREFIX): Signer {
  let secret: Uint8Array
  try {
    // fromKeypair checks the pair and returns key ‖ nonce ‖ public key in scure's layout
    secret = sr25519.fromKeypair(concatBytes(pair.secretKey, pair.publicKey)).subarray(0, 64)
  } catch (err) {
    throw new HotkeyLoadError(`Not an sr25519 key pair: ${(err as Error).message}`, { cause: err })
  }
  const signer = secretSigner(secret, prefix)
  if (encodeSs58(signer.publicKey) !== encodeSs58(pair.publicKey)) throw new HotkeyLoadError('The secret key does not belong to the public key')
  return signer
}


/** A {@link Signer} from a 32-byte sr25519 mini-secret seed (as btcli's `secretSeed`). */
export function seedSigner (seed: Uint8Array, prefix = BITTENSOR_SS58_PREFIX): Signer {
  if (seed.byteLength !== 32) throw new HotkeyLoadError('A seed must be 32 bytes')
  return secretSigner(sr25519.secretFromSeed(seed), prefix)
}


/** The well-known development mnemonic behind `//Alice`, `//Bob`, … (as in polkadot-js). */
const DEV_PHRASE = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk'


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
 * (`//Alice`), a BIP39 mnemonic with optional derivation path and password
 * (`word … word//hard/soft///password`), or a 0x-prefixed 32-byte hex seed. Derivation
 * follows substrate's HDKD, so the keys equal polkadot-js keyring's.
 */
export function uriSigner (uri: string, prefix = BITTENSOR_SS58_PREFIX): Signer {
  try {
    const { password, path, phrase } = extractSuri(uri.startsWith('//') ? `${DEV_PHRASE}${uri}` : uri)
    let seed: Uint8Array
    if (isHex(phrase, 256)) {
      seed = hexToBytes(phrase)
    } else if (mnemonicValidate(phrase)) {
      seed = mnemonicToMiniSecret(phrase, password)
    } else {
      // polkadot-js would take any short string as a raw seed; a typo must not become a key
      throw new Error('neither a BIP39 mnemonic, a 0x 32-byte seed nor a //dev URI')
    }
    let secret: Uint8Array = sr25519.secretFromSeed(seed)
    for (const junction of path) {
      secret = junction.isHard ? sr25519.HDKD.secretHard(secret, junction.chainCode) : sr25519.HDKD.secretSoft(secret, junction.chainCode)
    }
    return secretSigner(secret, prefix)
  } catch (err) {
    throw new HotkeyLoadError(`Not a valid secret URI, mnemonic or seed: ${(err as Error).message}`, { cause: err })
  }
}
