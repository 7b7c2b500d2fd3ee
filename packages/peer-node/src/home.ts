/**
 * The peer's home directory: `subwire.json` (config, 0600), `peer.key` (libp2p key,
 * 0600) and `addressbook.json`.
 *
 * @packageDocumentation
 */
import { chmod, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { BITTENSOR_SS58_PREFIX, InvalidConfigError, MAX_NETUID } from '@subwire/shared'
import { CONFIG_FILE, DEFAULT_HOME, DEFAULT_LISTEN, HOME_ENV, PEER_KEY_FILE } from './constants.ts'
import type { HotkeySource } from './keys.ts'
import type { PrivateKey } from '@libp2p/interface'

/** Contents of `subwire.json`. */
export interface SubwireConfig {
  /** Config layout version. */
  version: 1
  /** Where the hotkey comes from. */
  hotkey: HotkeySource
  /** Subnets served. */
  netuids: number[]
  /** Listen multiaddrs. */
  listen: string[]
  /** SS58 network prefix (42). */
  ss58Prefix: number
  /** DHT peers (multiaddrs ending in /p2p/<PeerId>) dialled at start; `subwire listen --bootstrap` adds to it. */
  bootstrap?: string[] | undefined
  /** The subtensor node's RPC (`ws://…`) the metagraph is read from; `subwire listen --subtensor` sets it. */
  subtensor?: string | undefined
  /** Where `subwire listen` keeps received files (`<storage>/inbox/<sender>/`; default `<home>/files`); `listen --storage` overrides it. */
  storage?: string | undefined
}

/** Resolves the home directory: explicit, then `$SUBWIRE_HOME`, then `~/.subwire`. */
export function resolveHome (home?: string): string {
  return home ?? process.env[HOME_ENV] ?? DEFAULT_HOME
}

/** Writes a file atomically (temp file + rename) with the given mode. */
export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
  try {
    await writeFile(tmp, data, { mode })
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {}) // a full disk must not keep the half-written copy
    throw err
  }
}

function validateConfig (raw: unknown, path: string): SubwireConfig {
  const c = raw as Partial<SubwireConfig> | null
  if (c === null || typeof c !== 'object' || c.version !== 1) throw new InvalidConfigError(`${path}: not a subwire config (version 1)`)
  if (c.hotkey === undefined || typeof c.hotkey !== 'object') throw new InvalidConfigError(`${path}: "hotkey" is missing`)
  if (!Array.isArray(c.netuids) || c.netuids.some((n) => !Number.isInteger(n) || n < 0 || n > MAX_NETUID)) {
    throw new InvalidConfigError(`${path}: "netuids" must be a list of integers from 0 to ${MAX_NETUID}`)
  }
  if (!Array.isArray(c.listen) || c.listen.some((a) => typeof a !== 'string')) throw new InvalidConfigError(`${path}: "listen" must be a list of multiaddrs`)
  if (c.bootstrap !== undefined && (!Array.isArray(c.bootstrap) || c.bootstrap.some((a) => typeof a !== 'string' || !a.includes('/p2p/')))) {
    throw new InvalidConfigError(`${path}: "bootstrap" must be a list of multiaddrs ending in /p2p/<PeerId>`)
  }
  if (c.subtensor !== undefined && (typeof c.subtensor !== 'string' || !/^wss?:\/\//.test(c.subtensor))) throw new InvalidConfigError(`${path}: "subtensor" must be a ws:// or wss:// URL`)
  if (c.storage !== undefined && (typeof c.storage !== 'string' || c.storage === '')) throw new InvalidConfigError(`${path}: "storage" must be a directory path`)
  return {
    ...(c.bootstrap === undefined ? {} : { bootstrap: c.bootstrap }),
    ...(c.storage === undefined ? {} : { storage: c.storage }),
    ...(c.subtensor === undefined ? {} : { subtensor: c.subtensor }),
    version: 1,
    hotkey: c.hotkey,
    netuids: c.netuids,
    listen: c.listen,
    ss58Prefix: typeof c.ss58Prefix === 'number' ? c.ss58Prefix : BITTENSOR_SS58_PREFIX
  }
}

/**
 * Reads and parses a JSON file of the home: `undefined` if it does not exist, an
 * {@link InvalidConfigError} naming the file if it is not JSON.
 */
export async function readJsonFile (path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new InvalidConfigError(`${path} is not valid JSON: ${(err as Error).message}`)
  }
}

/** Reads `subwire.json`; a clear error if the home was never initialised. */
export async function readConfig (home: string): Promise<SubwireConfig> {
  const path = join(home, CONFIG_FILE)
  const raw = await readJsonFile(path)
  if (raw === undefined) throw new InvalidConfigError(`No subwire home at ${home}: run "subwire init" first (or pass --home)`)
  return validateConfig(raw, path)
}

/** Writes `subwire.json` (mode 0600: it may hold a secret URI). */
export async function writeConfig (home: string, config: SubwireConfig): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  await writeFileAtomic(join(home, CONFIG_FILE), JSON.stringify(validateConfig(config, CONFIG_FILE), null, 2) + '\n')
}

/** A default config for a hotkey source. */
export function defaultConfig (hotkey: HotkeySource, netuids: number[], listen: string[] = DEFAULT_LISTEN): SubwireConfig {
  return { version: 1, hotkey, netuids, listen, ss58Prefix: BITTENSOR_SS58_PREFIX }
}

/**
 * Loads the libp2p private key from the home, creating an Ed25519 key on first use, so
 * the PeerId is stable across restarts. The file is kept at mode 0600.
 */
export async function loadOrCreatePeerKey (home: string): Promise<PrivateKey> {
  const path = join(home, PEER_KEY_FILE)
  try {
    const bytes = await readFile(path)
    await chmod(path, 0o600)
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new InvalidConfigError(`${path} is not a libp2p private key: ${(err as Error).message}`)
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(home, { recursive: true, mode: 0o700 })
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(path, privateKeyToProtobuf(key))
  return key
}

/**
 * Makes `key` the home's libp2p key when the home has none (`'written'`); a home that has
 * one keeps it (`'same'` if it is this key, else `'kept'`: peers know its PeerId).
 */
export async function importPeerKey (home: string, key: PrivateKey): Promise<'written' | 'same' | 'kept'> {
  const path = join(home, PEER_KEY_FILE)
  let existing: Uint8Array | undefined
  try {
    existing = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const bytes = privateKeyToProtobuf(key)
  if (existing !== undefined) return Buffer.from(existing).equals(Buffer.from(bytes)) ? 'same' : 'kept'
  await mkdir(home, { recursive: true, mode: 0o700 })
  await writeFileAtomic(path, bytes)
  return 'written'
}
