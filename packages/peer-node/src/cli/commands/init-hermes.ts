/**
 * `subwire init --from-hermes hermes_config.json`: a home from a Hippius Hermes config
 * (see `../../hermes/config.ts` for the mapping), with what could not be mapped printed
 * with the reason.
 *
 * @packageDocumentation
 */
import { mkdir } from 'node:fs/promises'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BITTENSOR_SS58_PREFIX, decodeSs58 } from '@subwire/shared'
import { defaultConfig, importPeerKey, loadOrCreatePeerKey, writeConfig } from '../../home.ts'
import { loadHotkey } from '../../keys.ts'
import { readAclFile, writeAclFile } from '../../acl-file.ts'
import { readHermesConfig } from '../../hermes/config.ts'
import { HermesHotkeyRequiredError, HotkeyMismatchError } from '../../hermes/errors.ts'
import { printable } from '../format.ts'
import type { HotkeySource } from '../../keys.ts'
import type { HermesField, HermesImport } from '../../hermes/config.ts'
import type { CliContext } from '../context.ts'

/** What `init` passes on: the hotkey given on the command line (if any), and the other options. */
export interface HermesInitOptions {
  /** A hotkey given with --wallet/--hotkey, --mnemonic-file or --hotkey-uri; wins over the config's. */
  source: HotkeySource | undefined
  netuids: number[] | undefined
  listen: string[]
}

/** Same account: the two addresses' public keys (their network prefixes may differ). */
function sameAccount (a: string, b: string): boolean {
  return Buffer.from(decodeSs58(a).publicKey).equals(Buffer.from(decodeSs58(b).publicKey))
}

/** The hotkey to use: the command line's, else the config's; it must be `ss58_address`. */
async function checkedHotkey (imp: HermesImport, given: HotkeySource | undefined, ss58Prefix: number): Promise<{ source: HotkeySource, ss58: string }> {
  const source = given ?? imp.hotkey
  if (source === undefined) {
    throw new HermesHotkeyRequiredError(`${imp.path}: node_secret_key_path is Hermes's Iroh node key, not a hotkey; give the hotkey of ${imp.ss58} with --wallet NAME --hotkey NAME, --mnemonic-file FILE or --hotkey-uri URI`)
  }
  const signer = await loadHotkey(source, ss58Prefix)
  if (!sameAccount(signer.ss58, imp.ss58)) {
    throw new HotkeyMismatchError(`${imp.path}: ss58_address ${imp.ss58} is not the hotkey's address ${signer.ss58} (${given === undefined ? 'from node_secret_key_path' : 'given on the command line'}); nothing was written`)
  }
  return { source, ss58: signer.ss58 }
}

/** The firewall in acl.json: on for the served subnets if Hermes had it on, the whitelist admitted there. */
async function applyFirewall (home: string, netuids: number[], fw: { on: boolean, admitted: string[] }): Promise<void> {
  const acl = await readAclFile(home)
  if (fw.on) acl.firewall.netuids = [...new Set([...acl.firewall.netuids, ...netuids])]
  for (const n of netuids) acl.firewall.admitted[String(n)] = [...new Set([...(acl.firewall.admitted[String(n)] ?? []), ...fw.admitted])]
  await writeAclFile(home, acl)
}

const column = (fields: HermesField[]): string => fields.map((f) => `  ${f.field.padEnd(28)} ${printable(f.note)}`).join('\n')

/** Writes the home from the Hermes config at `file` and prints what was and was not mapped. */
export async function initFromHermes (ctx: CliContext, file: string, opts: HermesInitOptions): Promise<void> {
  const dir = ctx.home()
  const imp = await readHermesConfig(file)
  const netuids = opts.netuids ?? imp.netuids ?? [42]
  const hotkey = await checkedHotkey(imp, opts.source, BITTENSOR_SS58_PREFIX)
  const config = { ...defaultConfig(hotkey.source, netuids, opts.listen), storage: imp.storage }
  const mapped = [...imp.mapped]
  const unmapped = [...imp.unmapped]
  if (opts.netuids !== undefined && imp.netuids !== undefined) {
    mapped.splice(mapped.findIndex((f) => f.field === 'subnet_ids'), 1)
    unmapped.push({ field: 'subnet_ids', note: `${imp.netuids.join(', ')}: replaced by --netuid ${opts.netuids.join(', ')}` })
  }

  await mkdir(imp.storage, { recursive: true })
  await writeConfig(dir, config)
  if (imp.nodeKey !== undefined && await importPeerKey(dir, imp.nodeKey) === 'kept') {
    mapped.splice(mapped.findIndex((f) => f.field === 'node_secret_key_path'), 1)
    unmapped.push({ field: 'node_secret_key_path', note: 'this home already has another peer.key; it is kept (peers know its PeerId): remove it and run again to take Hermes\'s node key' })
  }
  if (imp.firewall !== undefined) await applyFirewall(dir, netuids, imp.firewall)
  const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(dir)).toString()
  await ctx.emit(
    { event: 'initialized', home: dir, ss58: hotkey.ss58, peerId, netuids, listen: config.listen, storage: imp.storage, hermes: { config: imp.path, mapped, unmapped } },
    `initialised ${dir} from ${imp.path}\n  hotkey  ${hotkey.ss58}\n  peer id ${peerId}\n  subnets ${netuids.join(', ')}\n  storage ${imp.storage}\n` +
    `imported:\n${column(mapped)}\n` +
    (unmapped.length === 0 ? 'nothing left out' : `not imported:\n${column(unmapped)}`)
  )
}
