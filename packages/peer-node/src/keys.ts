/**
 * Hotkey sources on servers: a secret URI (`//Alice`, a mnemonic, a hex seed), a file
 * holding one, or a bittensor wallet hotkey file as btcli writes it
 * (`~/.bittensor/wallets/<wallet>/hotkeys/<hotkey>`, or such a file at any path).
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hexToU8a } from '@polkadot/util/hex/toU8a'
import { isHex } from '@polkadot/util/is/hex'
import {
  BITTENSOR_SS58_PREFIX,
  decodeSs58,
  encodeSs58,
  HotkeyLoadError,
  keypairSigner,
  seedSigner,
  uriSigner,
  verifyHotkeySignature
} from '@subwire/shared'
import { DEFAULT_BITTENSOR_WALLET_PATH } from './constants.ts'
import type { Signer } from '@subwire/shared'

/** Where a hotkey comes from. */
export type HotkeySource =
  | { uri: string }
  | { mnemonicFile: string }
  | { wallet: string, hotkey: string, walletPath?: string | undefined }
  /** A bittensor hotkey file (btcli's JSON) at any path, e.g. one another tool's config names. */
  | { keyFile: string }

/** The JSON btcli writes for an unencrypted hotkey. */
interface BittensorKeyfile {
  secretPhrase?: string
  secretSeed?: string
  privateKey?: string
  publicKey?: string
  accountId?: string
  ss58Address?: string
}

/** Path of a bittensor wallet hotkey file. */
export function bittensorHotkeyPath (wallet: string, hotkey: string, walletPath = DEFAULT_BITTENSOR_WALLET_PATH): string {
  for (const part of [wallet, hotkey]) {
    if (part.length === 0 || part.includes('/') || part.includes('\\') || part === '.' || part === '..') {
      throw new HotkeyLoadError(`Invalid wallet or hotkey name "${part}"`)
    }
  }
  return join(walletPath, wallet, 'hotkeys', hotkey)
}

async function readSecretFile (path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    throw new HotkeyLoadError(`Cannot read hotkey file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
}

/** Parses a bittensor hotkey file's contents into a signer, checking that its parts agree. */
export async function signerFromBittensorKeyfile (text: string, path: string, prefix = BITTENSOR_SS58_PREFIX): Promise<Signer> {
  if (/^\$(NACL|ANSIBLE)/.test(text) || text.startsWith('gAAAAA')) {
    throw new HotkeyLoadError(`${path} is encrypted; subwire needs an unencrypted hotkey (btcli writes hotkeys unencrypted by default)`)
  }
  let data: BittensorKeyfile
  try {
    data = JSON.parse(text) as BittensorKeyfile
  } catch {
    throw new HotkeyLoadError(`${path} is not a bittensor keyfile (expected JSON with secretSeed or secretPhrase)`)
  }
  let signer: Signer
  if (typeof data.secretSeed === 'string' && isHex(data.secretSeed) && hexToU8a(data.secretSeed).byteLength === 32) {
    signer = seedSigner(hexToU8a(data.secretSeed), prefix)
  } else if (typeof data.secretPhrase === 'string' && data.secretPhrase.trim().length > 0) {
    signer = uriSigner(data.secretPhrase.trim(), prefix)
  } else if (typeof data.privateKey === 'string' && typeof data.publicKey === 'string' && isHex(data.privateKey) && isHex(data.publicKey)) {
    const secretKey = hexToU8a(data.privateKey)
    const publicKey = hexToU8a(data.publicKey)
    if (secretKey.byteLength !== 64 || publicKey.byteLength !== 32) throw new HotkeyLoadError(`${path}: privateKey must be 64 bytes and publicKey 32`)
    signer = keypairSigner({ publicKey, secretKey }, prefix)
    const probe = new TextEncoder().encode('subwire keyfile self-test')
    try {
      verifyHotkeySignature(probe, await signer.sign(probe), publicKey)
    } catch {
      throw new HotkeyLoadError(`${path}: privateKey does not sign for publicKey`)
    }
  } else {
    throw new HotkeyLoadError(`${path} has no secretSeed, secretPhrase or privateKey`)
  }
  const claimedKey = data.publicKey ?? data.accountId
  if (typeof claimedKey === 'string' && isHex(claimedKey) && encodeSs58(hexToU8a(claimedKey), prefix) !== signer.ss58) {
    throw new HotkeyLoadError(`${path}: the secret does not match its publicKey`)
  }
  if (typeof data.ss58Address === 'string' && encodeSs58(decodeSs58(data.ss58Address).publicKey, prefix) !== signer.ss58) {
    throw new HotkeyLoadError(`${path}: the secret does not match its ss58Address ${data.ss58Address}`)
  }
  return signer
}

/** Loads a hotkey signer from its source. */
export async function loadHotkey (source: HotkeySource, prefix = BITTENSOR_SS58_PREFIX): Promise<Signer> {
  if ('uri' in source) return uriSigner(source.uri, prefix)
  if ('mnemonicFile' in source) return uriSigner(await readSecretFile(source.mnemonicFile), prefix)
  if ('keyFile' in source) return await signerFromBittensorKeyfile(await readSecretFile(source.keyFile), source.keyFile, prefix)
  if ('wallet' in source) {
    const path = bittensorHotkeyPath(source.wallet, source.hotkey, source.walletPath)
    return await signerFromBittensorKeyfile(await readSecretFile(path), path, prefix)
  }
  throw new HotkeyLoadError('Unknown hotkey source: give a uri, a mnemonicFile or a wallet and hotkey')
}
