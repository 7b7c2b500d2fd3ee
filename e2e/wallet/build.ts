// Builds the test wallet extension into a directory: manifest, the bundled page script,
// and a config.js holding the accounts (derived here with polkadot-js' own functions).
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { keyExtractSuri, keyFromPath, mnemonicToMiniSecret, sr25519PairFromSeed, encodeAddress } from '@polkadot/util-crypto'
import { u8aToHex } from '@polkadot/util'
import { build } from 'vite'

const DEV_PHRASE = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk'
const here = import.meta.dirname

/** A keypair from a secret URI, exactly as polkadot-js' keyring derives it. */
export function pairFromUri (uri: string): { address: string, publicKey: string, secretKey: string } {
  const { derivePath, password, path, phrase } = keyExtractSuri(uri.startsWith('//') ? `${DEV_PHRASE}${uri}` : uri)
  void derivePath
  const seed = mnemonicToMiniSecret(phrase, password, undefined, true)
  const pair = keyFromPath(sr25519PairFromSeed(seed), path, 'sr25519')
  return { address: encodeAddress(pair.publicKey, 42), publicKey: u8aToHex(pair.publicKey), secretKey: u8aToHex(pair.secretKey) }
}

let bundled: Promise<void> | undefined

/** Builds the extension for these accounts into `dir`; returns `dir`. */
export async function buildTestWallet (dir: string, init: { accounts: Array<{ uri: string, name: string }>, reject?: boolean }): Promise<string> {
  bundled ??= build({
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir: join(here, 'dist'),
      emptyOutDir: true,
      lib: { entry: join(here, 'src', 'inject.ts'), formats: ['iife'], name: 'subwireTestWallet', fileName: () => 'inject.js' },
      minify: false
    }
  }).then(() => {})
  await bundled
  await mkdir(dir, { recursive: true })
  const accounts = init.accounts.map((a) => ({ ...pairFromUri(a.uri), name: a.name }))
  const config = { name: 'polkadot-js', accounts, reject: init.reject === true }
  await writeFile(join(dir, 'config.js'), `globalThis.__subwireTestWallet = ${JSON.stringify(config)};\n`)
  await copyFile(join(here, 'manifest.json'), join(dir, 'manifest.json'))
  await copyFile(join(here, 'dist', 'inject.js'), join(dir, 'inject.js'))
  return dir
}
