/**
 * Hotkeys in the browser: from a Polkadot wallet extension (polkadot-js, Talisman,
 * SubWallet) through `@polkadot/extension-dapp`, or a locally generated development key.
 *
 * The extension signs with `signRaw({ type: 'bytes' })`, which signs
 * `u8aWrapBytes(data)`: exactly what the protocol verifies, so one extension signature over
 * the attestation authenticates this browser's PeerId for the session.
 *
 * @packageDocumentation
 */
import { hexToU8a, u8aToHex } from '@polkadot/util'
import {
  OperationAbortedError,
  callbackSigner,
  decodeSs58,
  encodeSs58,
  seedSigner,
  BITTENSOR_SS58_PREFIX
} from '@subwire/shared'
import { SignatureRejectedError, WalletAccountNotFoundError, WalletUnavailableError } from './errors.ts'
import { DEFAULT_APP_NAME, DEV_KEY_STORAGE_KEY } from './constants.ts'
import type { AbortOptions, Signer } from '@subwire/shared'

/** An account offered by a wallet extension. */
export interface WalletAccount {
  /** The address re-encoded with the Bittensor prefix (42). */
  ss58: string
  /** Name the user gave it, if any. */
  name: string | undefined
  /** Which extension holds it (e.g. `polkadot-js`, `talisman`, `subwallet-js`). */
  source: string
  /** Key type; only `sr25519` accounts can be hotkeys. */
  type: string | undefined
}

/** Options of {@link walletAccounts}. */
export interface WalletOptions extends AbortOptions {
  /** Name the extension shows when asking to authorise the site. */
  appName?: string
}

/**
 * `@polkadot/extension-dapp`, loaded when a wallet is first asked for: its module reads
 * `window` when it is evaluated, so a static import made this package fail to import
 * anywhere but a page (Node, a worker, server-side rendering).
 */
async function extensionDapp (): Promise<typeof import('@polkadot/extension-dapp')> {
  return await import('@polkadot/extension-dapp')
}

async function enable (appName: string): Promise<void> {
  const { web3Enable } = await extensionDapp()
  const extensions = await web3Enable(appName)
  if (extensions.length === 0) {
    throw new WalletUnavailableError('No Polkadot wallet extension is installed, or it did not authorise this site. Install polkadot-js, Talisman or SubWallet, or use a development key.')
  }
}

/** Asks the installed extensions for their sr25519 accounts. */
export async function walletAccounts (options: WalletOptions = {}): Promise<WalletAccount[]> {
  await enable(options.appName ?? DEFAULT_APP_NAME)
  if (options.signal?.aborted === true) throw new OperationAbortedError()
  const { web3Accounts } = await extensionDapp()
  const accounts = await web3Accounts({ accountType: ['sr25519'] })
  return accounts.map((a) => ({
    ss58: encodeSs58(decodeSs58(a.address).publicKey, BITTENSOR_SS58_PREFIX),
    name: a.meta.name,
    source: a.meta.source,
    type: a.type
  }))
}

const REJECTED = /cancel|reject|denied|declined/i

/**
 * A {@link Signer} for one extension account. Every `sign` opens the extension's
 * signature prompt; subwire calls it once per session, for the attestation.
 */
export async function walletSigner (ss58: string, options: WalletOptions = {}): Promise<Signer> {
  await enable(options.appName ?? DEFAULT_APP_NAME)
  const { publicKey } = decodeSs58(ss58)
  const { web3Accounts, web3FromAddress } = await extensionDapp()
  const accounts = await web3Accounts({ accountType: ['sr25519'] })
  const account = accounts.find((a) => {
    try { return u8aToHex(decodeSs58(a.address).publicKey) === u8aToHex(publicKey) } catch { return false }
  })
  if (account === undefined) throw new WalletAccountNotFoundError(`The wallet has no sr25519 account ${ss58}`)
  const injector = await web3FromAddress(account.address)
  const signRaw = injector.signer.signRaw
  if (signRaw === undefined) throw new WalletUnavailableError(`The ${injector.name} extension cannot sign raw bytes`)
  return callbackSigner(encodeSs58(publicKey, BITTENSOR_SS58_PREFIX), async (message, opts) => {
    if (opts.signal?.aborted === true) throw new OperationAbortedError()
    let result: { signature: string }
    try {
      result = await signRaw({ address: account.address, data: u8aToHex(message), type: 'bytes' })
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err)
      if (REJECTED.test(text)) throw new SignatureRejectedError(`The wallet refused to sign: ${text}`)
      throw new WalletUnavailableError(`The wallet failed to sign: ${text}`, { cause: err })
    }
    return hexToU8a(result.signature)
  })
}

/** Where the development key is kept (`localStorage` in a page). */
export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
}

/**
 * A locally generated development hotkey, kept in `storage` so the same SS58 comes back
 * after a reload (which is what lets a partial download resume). Not for real funds.
 */
export function devSigner (storage: KeyValueStorage | undefined = globalThis.localStorage): Signer {
  let hex = storage?.getItem(DEV_KEY_STORAGE_KEY) ?? null
  if (hex === null || !/^0x[0-9a-f]{64}$/.test(hex)) {
    hex = u8aToHex(crypto.getRandomValues(new Uint8Array(32)))
    storage?.setItem(DEV_KEY_STORAGE_KEY, hex)
  }
  return seedSigner(hexToU8a(hex))
}
