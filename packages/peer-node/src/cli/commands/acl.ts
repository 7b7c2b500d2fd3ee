/**
 * `subwire acl`: the allow and block lists and the subnet firewall in `<home>/acl.json`
 * (a running listener applies a change at once).
 *
 * @packageDocumentation
 */
import { logger } from '@libp2p/logger'
import { ChainUnavailableError, isSs58, parseAclEntry, toError } from '@subwire/shared'
import { MetagraphSource } from '../../metagraph.ts'
import { readConfig } from '../../home.ts'
import { readAclFile, writeAclFile } from '../../acl-file.ts'
import { parseNetuid, UsageError } from '../args.ts'
import type { Command } from 'commander'
import type { AclFile } from '../../acl-file.ts'
import type { CliContext } from '../context.ts'

/** Applies `change` to acl.json and prints what it says it did. */
async function editAcl (ctx: CliContext, change: (file: AclFile) => string): Promise<void> {
  await readConfig(ctx.home())
  const file = await readAclFile(ctx.home())
  const what = change(file)
  await writeAclFile(ctx.home(), file)
  ctx.emit({ event: 'acl', change: what, allow: file.allow, block: file.block, firewall: file.firewall }, what)
}

/** The entries in their canonical text (a bad one throws). */
const entries = (list: string[]): string[] => list.map((e) => parseAclEntry(e).text)

/** `acl allow`: onto the allow list, or with a netuid onto that subnet's firewall list. */
function allow (f: AclFile, list: string[], netuid: number | undefined): string {
  if (netuid !== undefined) {
    for (const e of list) if (!isSs58(e)) throw new UsageError(`the firewall admits hotkeys: "${e}" is not an SS58 address`)
    const key = String(netuid)
    f.firewall.admitted[key] = [...new Set([...(f.firewall.admitted[key] ?? []), ...list])]
    return `admitted ${list.join(', ')} to subnet ${netuid}${f.firewall.netuids.includes(netuid) ? '' : ' (the firewall is off there: subwire acl firewall on ' + netuid + ')'}`
  }
  f.allow = [...new Set([...f.allow, ...entries(list)])]
  return `allowed ${list.join(', ')}`
}

/** `acl remove`: out of the allow and block lists and every firewall list. */
function remove (f: AclFile, list: string[]): string {
  const drop = new Set(list.map((e) => e.trim()))
  let removed = 0
  const keep = (l: string[]): string[] => l.filter((e) => drop.has(e) ? (removed++, false) : true)
  f.allow = keep(f.allow)
  f.block = keep(f.block)
  for (const [k, l] of Object.entries(f.firewall.admitted)) f.firewall.admitted[k] = keep(l)
  if (removed === 0) throw new UsageError(`none of ${list.join(', ')} is in acl.json`)
  return `removed ${removed} entr${removed === 1 ? 'y' : 'ies'}`
}

/** `acl firewall on|off <netuid>`. */
function firewall (f: AclFile, state: 'on' | 'off', netuid: number): string {
  f.firewall.netuids = state === 'on' ? [...new Set([...f.firewall.netuids, netuid])] : f.firewall.netuids.filter((n) => n !== netuid)
  const admitted = f.firewall.admitted[String(netuid)]?.length ?? 0
  return `firewall ${state} for subnet ${netuid}` + (state === 'on' ? ` (${admitted} hotkey(s) admitted${admitted === 0 ? ': nobody gets in' : ''})` : '')
}

/** `--min-stake` in whole units (up to 9 decimals) as the chain's smallest unit. */
function parseStake (v: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v)
  if (m === null) throw new UsageError(`--min-stake ${v}: a non-negative number with at most 9 decimals`)
  return BigInt(m[1] as string) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))
}

/** `acl firewall from-metagraph N`: admit the subnet's hotkeys (by stake and permit) as the chain says now; nobody if it cannot be read. */
async function fromMetagraph (ctx: CliContext, netuid: number, opts: { minStake?: bigint, validatorsOnly?: boolean, subtensor?: string }): Promise<void> {
  const config = await readConfig(ctx.home())
  const url = opts.subtensor ?? config.subtensor
  if (url === undefined) throw new UsageError('no subtensor node: give --subtensor ws://… (or run listen --subtensor once)')
  const source = new MetagraphSource({ log: logger('subwire:metagraph') }, { url, netuids: [netuid], refreshMs: 0 })
  let admitted: string[]
  try {
    const neurons = await source.neurons(netuid)
    admitted = neurons.filter((n) => n.stake >= (opts.minStake ?? 0n) && (opts.validatorsOnly !== true || n.validatorPermit)).map((n) => n.ss58)
  } catch (err) {
    if (toError(err).name !== ChainUnavailableError.name) throw err
    await editAcl(ctx, (f) => {
      f.firewall.netuids = [...new Set([...f.firewall.netuids, netuid])]
      f.firewall.admitted[String(netuid)] = []
      return `firewall on for subnet ${netuid} admitting nobody: the chain could not be read`
    })
    throw err
  } finally {
    await source.stop()
  }
  await editAcl(ctx, (f) => {
    f.firewall.netuids = [...new Set([...f.firewall.netuids, netuid])]
    f.firewall.admitted[String(netuid)] = admitted
    return `firewall on for subnet ${netuid}: ${admitted.length} hotkey(s) admitted from the metagraph${admitted.length === 0 ? ': nobody gets in' : ''}`
  })
}

/** `acl list`: the lists and the firewall, as one JSON line or for a person. */
async function list (ctx: CliContext): Promise<void> {
  await readConfig(ctx.home())
  const f = await readAclFile(ctx.home())
  if (ctx.globals().json === true) {
    ctx.emit({ allow: f.allow, block: f.block, firewall: f.firewall })
    return
  }
  const lines = [
    `allow (${f.allow.length === 0 ? 'empty: everyone not blocked may connect' : 'only these may connect in'}):`, ...f.allow.map((e) => `  ${e}`),
    `block (${f.block.length}):`, ...f.block.map((e) => `  ${e}`),
    `firewall: ${f.firewall.netuids.length === 0 ? 'off' : `on for subnet(s) ${f.firewall.netuids.join(', ')}`}`,
    ...Object.entries(f.firewall.admitted).map(([n, l]) => `  subnet ${n}: ${l.length === 0 ? '(nobody)' : l.join(', ')}`)
  ]
  ctx.io.stdout(lines.join('\n'))
}

/** Registers `acl` and its subcommands `allow`, `block`, `remove`, `firewall` and `list`. */
export function registerAcl (program: Command, ctx: CliContext): void {
  const acl = program.command('acl')
    .description('access control: allow/block lists (SS58, PeerId, IP or CIDR) and the subnet firewall, in <home>/acl.json; a running listener applies changes at once')
  acl.command('allow')
    .description('admit these (when the allow list is non-empty, only matching peers connect in); with --netuid, admit SS58s through that subnet\'s firewall')
    .argument('<entry...>', 'SS58, PeerId, IP or CIDR')
    .option('--netuid <n>', 'admit to this subnet\'s firewall list instead', parseNetuid)
    .action(async (entryList: string[], opts: { netuid?: number }) => {
      await editAcl(ctx, (f) => allow(f, entryList, opts.netuid))
    })
  acl.command('block')
    .description('refuse these, in and out; the block list wins over every allow')
    .argument('<entry...>', 'SS58, PeerId, IP or CIDR')
    .action(async (entryList: string[]) => {
      await editAcl(ctx, (f) => {
        f.block = [...new Set([...f.block, ...entries(entryList)])]
        return `blocked ${entryList.join(', ')}`
      })
    })
  acl.command('remove')
    .description('remove entries from the allow and block lists (and from every firewall list)')
    .argument('<entry...>', 'as listed')
    .action(async (entryList: string[]) => {
      await editAcl(ctx, (f) => remove(f, entryList))
    })
  acl.command('firewall')
    .description('turn the fail-closed subnet firewall on or off for a subnet (on with nobody admitted: nobody gets in); from-metagraph: on, admitting the subnet\'s registered hotkeys read from the chain now')
    .argument('<state>', 'on, off or from-metagraph')
    .argument('<netuid>', 'subnet', parseNetuid)
    .option('--min-stake <n>', 'from-metagraph: only hotkeys with at least this stake on the subnet (alpha, in whole units: 9 decimals)', parseStake)
    .option('--validators-only', 'from-metagraph: only hotkeys with a validator permit')
    .option('--subtensor <url>', 'from-metagraph: the subtensor node (ws://…; default the one `listen --subtensor` remembered)')
    .addHelpText('after', `
Examples:
  subwire acl firewall on 42
  subwire acl firewall from-metagraph 42 --min-stake 1000 --validators-only --subtensor ws://127.0.0.1:9944
From the metagraph the admitted set is a snapshot: run it again (e.g. from cron) to follow the chain. If the
chain cannot be read, the firewall is turned on admitting nobody (fail-closed) and the command exits 1.`)
    .action(async (state: string, netuid: number, opts: { minStake?: bigint, validatorsOnly?: boolean, subtensor?: string }) => {
      if (state === 'from-metagraph') return await fromMetagraph(ctx, netuid, opts)
      if (state !== 'on' && state !== 'off') throw new UsageError('state must be "on", "off" or "from-metagraph"')
      await editAcl(ctx, (f) => firewall(f, state, netuid))
    })
  acl.command('list')
    .description('show the allow and block lists and the firewall')
    .action(async () => { await list(ctx) })
}
