/**
 * Reads a Hippius Hermes `hermes_config.json` (the `Config` struct of
 * `thenervelab/hermes`, `crates/core/src/config.rs`) and maps each field to subwire's
 * home: what it becomes (`mapped`) and, for what has no equivalent, why (`unmapped`).
 * Secret values (`api_token`, the S3 keys, `pullweights_api_key`) are never copied or
 * repeated: only the field names appear in what this returns.
 *
 * Relative paths are taken from the config file's directory (Hermes takes them from its
 * working directory, which is where its CLI looks for `hermes_config.json` by default).
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { isSs58, MAX_NETUID } from '@subwire/shared'
import { HermesConfigNotFoundError, InvalidHermesConfigError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { HotkeySource } from '../keys.ts'

/** One field of the Hermes config and what became of it. */
export interface HermesField {
  /** The Hermes field name (`s3`, `subnet_ids`, …). */
  field: string
  /** Mapped: what it became in subwire. Unmapped: why it was not imported. */
  note: string
}

/** What a Hermes config gives a subwire home. */
export interface HermesImport {
  /** The config file read (absolute). */
  path: string
  /** `ss58_address`: the hotkey the home must sign with (checked by the caller). */
  ss58: string
  /** `subnet_ids`, when it names any. */
  netuids: number[] | undefined
  /** `storage_directory` (absolute): where received files go. */
  storage: string
  /** The hotkey, when `node_secret_key_path` holds one (a bittensor keyfile, mnemonic, URI or seed). */
  hotkey: HotkeySource | undefined
  /** Hermes's Iroh node key, when `node_secret_key_path` holds one (32 raw bytes, Ed25519). */
  nodeKey: PrivateKey | undefined
  /** `enable_firewall` and the hotkeys it admits (`firewall_whitelist`, if the file has one); undefined if neither. */
  firewall: { on: boolean, admitted: string[] } | undefined
  /** Fields imported, with what each became. */
  mapped: HermesField[]
  /** Fields not imported, with the reason. */
  unmapped: HermesField[]
}

/** Why each Hermes field without a subwire equivalent is left out. */
const UNMAPPED_REASONS: Record<string, string> = {
  api_token: 'Hippius Sync-Engine token: subwire has no hosted data plane, peers move data directly (the token is not copied)',
  s3: 'S3 upload credentials: subwire sends files peer to peer (subwire send) and has no S3 data plane (the keys are not copied)',
  pullweights_api_key: 'PullWeights model-registry key: subwire has no model registry (the key is not copied)',
  rpc_url: 'Hippius chain RPC, where Hermes looks up node ids (AccountProfile): subwire peers prove their hotkey in the handshake; for axon addresses give a subtensor node with subwire listen --subtensor',
  encryption_key_path: 'Hermes\'s X25519 key registered on the Hippius chain: subwire encrypts end to end with keys agreed in its own handshake, so no key file is needed',
  skip_identity_verification: 'subwire always verifies the sender\'s hotkey signature; it cannot be turned off'
}

/** The fields a Hermes config may have (Hermes's `Config`, plus `firewall_whitelist`). */
const KNOWN = new Set(['node_secret_key_path', 'ss58_address', 'api_token', 'storage_directory', 'rpc_url', 'subnet_ids', 's3', 'enable_firewall', 'pullweights_api_key', 'skip_identity_verification', 'enable_queue', 'encryption_key_path', 'firewall_whitelist'])

type Raw = Record<string, unknown>

function bad (path: string, message: string): InvalidHermesConfigError {
  return new InvalidHermesConfigError(`${path}: ${message}`)
}

/** Reads and parses the file; a typed error for a missing file or one that is not a JSON object. */
async function readRaw (path: string): Promise<Raw> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new HermesConfigNotFoundError(`${path}: ${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message}`, { cause: err })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw bad(path, `not valid JSON (${(err as Error).message})`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad(path, 'not a Hermes config (a JSON object with ss58_address and node_secret_key_path)')
  return raw as Raw
}

function requireString (raw: Raw, field: string, path: string): string {
  const v = raw[field]
  if (typeof v !== 'string' || v.trim() === '') throw bad(path, `"${field}" is missing or not a string (Hermes requires it)`)
  return v
}

function optionalBool (raw: Raw, field: string, path: string): boolean {
  const v = raw[field]
  if (v === undefined || v === null) return false
  if (typeof v !== 'boolean') throw bad(path, `"${field}" must be true or false`)
  return v
}

function netuidsOf (raw: Raw, path: string): number[] {
  const v = raw.subnet_ids ?? []
  if (!Array.isArray(v) || v.some((n) => !Number.isInteger(n) || n < 0 || n > MAX_NETUID)) throw bad(path, `"subnet_ids" must be a list of netuids from 0 to ${MAX_NETUID}`)
  return [...new Set(v as number[])]
}

function whitelistOf (raw: Raw, path: string): string[] {
  const v = raw.firewall_whitelist ?? []
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !isSs58(s))) throw bad(path, '"firewall_whitelist" must be a list of SS58 addresses')
  return [...new Set(v as string[])]
}

/** A secret file's text, if it is one subwire reads as a hotkey; otherwise undefined. */
function hotkeyOf (file: string, bytes: Uint8Array): HotkeySource | undefined {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes).trim()
  if (/^\$(NACL|ANSIBLE)/.test(text) || text.startsWith('gAAAAA')) return { keyFile: file } // encrypted btcli file: loading says so
  if (text.startsWith('{')) {
    try {
      const j = JSON.parse(text) as Record<string, unknown>
      if (['secretSeed', 'secretPhrase', 'privateKey'].some((k) => typeof j[k] === 'string')) return { keyFile: file }
    } catch {}
    return undefined
  }
  if (/^0x[0-9a-fA-F]{64}$/.test(text) || text.startsWith('//') || /^[a-z]+( [a-z]+){11,23}(\/\/?\S*)?$/.test(text)) return { mnemonicFile: file }
  return undefined
}

/** `node_secret_key_path`: Hermes's 32-byte Iroh node key, or (another layout) a hotkey. */
async function nodeSecret (file: string, path: string): Promise<{ nodeKey: PrivateKey } | { hotkey: HotkeySource }> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw bad(path, `"node_secret_key_path" ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message}`)
  }
  if (bytes.byteLength === 32) return { nodeKey: await generateKeyPairFromSeed('Ed25519', bytes) }
  const hotkey = hotkeyOf(file, bytes)
  if (hotkey === undefined) throw bad(path, `"node_secret_key_path" ${file} is neither Hermes's 32-byte Iroh node key nor a hotkey (a bittensor keyfile, mnemonic, secret URI or 0x seed)`)
  return { hotkey }
}

/**
 * Reads `hermes_config.json` at `file` and maps it. Throws
 * {@link HermesConfigNotFoundError} or {@link InvalidHermesConfigError}; checking the
 * hotkey against `ss58_address` is the caller's (it may come from the command line).
 */
export async function readHermesConfig (file: string): Promise<HermesImport> {
  const path = resolve(file)
  const base = dirname(path)
  const raw = await readRaw(path)
  const ss58 = requireString(raw, 'ss58_address', path)
  if (!isSs58(ss58)) throw bad(path, `"ss58_address" ${ss58} is not an SS58 address`)
  const secretFile = resolve(base, requireString(raw, 'node_secret_key_path', path))
  const storage = resolve(base, requireString(raw, 'storage_directory', path))
  const netuids = netuidsOf(raw, path)
  const whitelist = whitelistOf(raw, path)
  const firewallOn = optionalBool(raw, 'enable_firewall', path)
  const queue = optionalBool(raw, 'enable_queue', path)
  const skipVerify = optionalBool(raw, 'skip_identity_verification', path)
  const secret = await nodeSecret(secretFile, path)

  const mapped: HermesField[] = [
    { field: 'ss58_address', note: 'the hotkey this home signs with (checked against the hotkey)' },
    'nodeKey' in secret
      ? { field: 'node_secret_key_path', note: 'peer.key: Hermes\'s Iroh node key, the same Ed25519 key, becomes the libp2p key (the PeerId carries its public key)' }
      : { field: 'node_secret_key_path', note: `the hotkey source (${'keyFile' in secret.hotkey ? 'a bittensor keyfile' : 'a secret file'}, referenced, not copied)` },
    { field: 'storage_directory', note: `"storage": subwire listen keeps received files in ${storage}/inbox/<sender>/ (the outbox stays in the home's outbox.db; Hermes's sled queue is not converted)` },
    { field: 'enable_queue', note: queue ? 'the outbox: subwire\'s durable queue is always on for a listener' : 'nothing to turn off: subwire\'s outbox is always on for a listener' }
  ]
  if (netuids.length > 0) mapped.push({ field: 'subnet_ids', note: `"netuids": ${netuids.join(', ')}` })
  if (firewallOn) {
    mapped.push({ field: 'enable_firewall', note: `acl.json: the subnet firewall on for every subnet served (fail-closed, as in Hermes), admitting ${whitelist.length} hotkey(s)` })
  }
  if (whitelist.length > 0) mapped.push({ field: 'firewall_whitelist', note: `acl.json: ${whitelist.length} hotkey(s) admitted on every subnet served${firewallOn ? '' : ' (the firewall stays off: enable_firewall is false)'}` })

  const unmapped: HermesField[] = []
  if (netuids.length === 0 && raw.subnet_ids !== undefined) unmapped.push({ field: 'subnet_ids', note: 'empty: Hermes then serves only its cross-subnet protocol; subwire serves named subnets (default 42, or --netuid)' })
  if (firewallOn && whitelist.length === 0) unmapped.push({ field: 'enable_firewall', note: 'Hermes takes its whitelist at run time (set_firewall_whitelist); nobody is admitted until you add hotkeys: subwire acl allow --netuid N SS58, or subwire acl firewall from-metagraph N' })
  for (const [field, reason] of Object.entries(UNMAPPED_REASONS)) {
    const v = raw[field]
    if (v === undefined || v === null || v === false || v === '') continue
    if (field === 'skip_identity_verification' && !skipVerify) continue
    unmapped.push({ field, note: reason })
  }
  for (const field of Object.keys(raw)) if (!KNOWN.has(field)) unmapped.push({ field, note: 'not a Hermes config field subwire knows' })

  return {
    path,
    ss58,
    netuids: netuids.length > 0 ? netuids : undefined,
    storage,
    hotkey: 'hotkey' in secret ? secret.hotkey : undefined,
    nodeKey: 'nodeKey' in secret ? secret.nodeKey : undefined,
    firewall: firewallOn || whitelist.length > 0 ? { on: firewallOn, admitted: whitelist } : undefined,
    mapped,
    unmapped
  }
}
