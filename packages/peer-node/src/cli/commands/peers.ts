/**
 * `subwire peers`: the address book (hotkey → addresses).
 *
 * @packageDocumentation
 */
import { isSs58, toError, UnknownDestinationError } from '@subwire/shared'
import { parseDestination } from '@subwire/shared/protocol'
import { readConfig } from '../../home.ts'
import { UsageError } from '../args.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

/** Registers `peers` and its subcommands `list`, `add` and `remove`. */
export function registerPeers (program: Command, ctx: CliContext): void {
  const list = async (): Promise<void> => {
    await readConfig(ctx.home())
    await ctx.withBook(async (book) => {
      const entries = await book.list()
      if (ctx.globals().json === true) {
        for (const e of entries) void ctx.emit({ ...e })
      } else if (entries.length === 0) {
        void ctx.io.stdout('the address book is empty')
      } else {
        for (const e of entries) void ctx.io.stdout(`${e.ss58}  ${e.peerId}\n${e.addrs.map((a) => `    ${a}`).join('\n')}`)
      }
    })
  }
  const peers = program.command('peers')
    .description('list the address book (hotkey → addresses)')
    .action(list)
  peers.command('list')
    .description('list the address book (the same as `subwire peers`)')
    .action(list)
  peers.command('add')
    .description('add an address for a hotkey')
    .argument('<ss58>', 'hotkey')
    .argument('<multiaddr>', 'address ending in /p2p/<PeerId>')
    .action(async (ss58: string, addr: string) => {
      if (!isSs58(ss58)) throw new UsageError(`"${ss58}" is not an SS58 address`)
      try { parseDestination(addr) } catch (err) { throw new UsageError(toError(err).message) }
      const match = /^(\/.+)\/p2p\/([^/]+)$/.exec(addr)
      if (match === null) throw new UsageError('the multiaddr must end in /p2p/<PeerId>')
      await ctx.withBook(async (book) => {
        const old = await book.get(ss58)
        const addrs = [match[1] as string, ...(old !== undefined && old.peerId === match[2] ? old.addrs : [])]
        await book.put({ ss58, peerId: match[2] as string, addrs: [...new Set(addrs)], updatedAt: Date.now() })
        ctx.emit({ event: 'added', ss58, peerId: match[2], addrs }, `added ${ss58}`)
      })
    })
  peers.command('remove')
    .description('forget a hotkey')
    .argument('<ss58>', 'hotkey')
    .action(async (ss58: string) => {
      await ctx.withBook(async (book) => {
        if (!(await book.delete(ss58))) throw new UnknownDestinationError(`${ss58} is not in the address book`)
        ctx.emit({ event: 'removed', ss58 }, `removed ${ss58}`)
      })
    })
}
