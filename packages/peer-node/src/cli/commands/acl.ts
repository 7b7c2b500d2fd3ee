/**
 * `subwire acl`: the allow and block lists and the subnet firewall in `<home>/acl.json`
 * (a running listener applies a change at once).
 *
 * @packageDocumentation
 */
import { isSs58, parseAclEntry } from '@subwire/shared'
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
    .description('turn the fail-closed subnet firewall on or off for a subnet (on with nobody admitted: nobody gets in)')
    .argument('<state>', 'on or off')
    .argument('<netuid>', 'subnet', parseNetuid)
    .action(async (state: string, netuid: number) => {
      if (state !== 'on' && state !== 'off') throw new UsageError('state must be "on" or "off"')
      await editAcl(ctx, (f) => firewall(f, state, netuid))
    })
  acl.command('list')
    .description('show the allow and block lists and the firewall')
    .action(async () => { await list(ctx) })
}
