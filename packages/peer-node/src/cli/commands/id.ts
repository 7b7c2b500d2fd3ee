/**
 * `subwire id`: this home's identity.
 *
 * @packageDocumentation
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { readConfig, loadOrCreatePeerKey } from '../../home.ts'
import { loadHotkey } from '../../keys.ts'
import { listenerStatus } from '../listener.ts'
import { formatBytes, printable } from '../format.ts'
import type { TransferInFlight } from '../../ops/transfers.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

/** A transfer in flight as `status` prints it. */
function transferLine (t: TransferInFlight): string {
  const pct = t.total > 0 ? `${Math.floor(100 * t.bytes / t.total)}%` : '?'
  return `${t.direction === 'in' ? 'from' : 'to'} ${t.peer}: ${printable(t.name)} ${formatBytes(t.bytes)} / ${formatBytes(t.total)} (${pct}, ${formatBytes(t.rate)}/s)`
}

/** Registers `id` and `status`. */
export function registerId (program: Command, ctx: CliContext): void {
  program.command('id')
    .description('print this home\'s hotkey, PeerId and subnets, and the addresses a running listener uses')
    .action(async () => {
      const config = await readConfig(ctx.home())
      const signer = await loadHotkey(config.hotkey, config.ss58Prefix)
      const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(ctx.home())).toString()
      const running = await listenerStatus(ctx)
      const addrs = running?.multiaddrs as string[] | undefined
      await ctx.emit({ ss58: signer.ss58, peerId, netuids: config.netuids, listen: config.listen, ...(addrs === undefined ? {} : { multiaddrs: addrs }), home: ctx.home() },
        `hotkey  ${signer.ss58}\npeer id ${peerId}\nsubnets ${config.netuids.join(', ')}\nlisten  ${config.listen.join(' ')}\n` +
        (addrs === undefined ? 'running no listener in this home\n' : `listening on\n${addrs.map((a) => `  ${a}`).join('\n')}\n`) +
        `home    ${ctx.home()}`)
    })
  program.command('status')
    .description('ask the running listener for its addresses, connected peers, transfers in flight and outbox')
    .action(async () => {
      const s = await listenerStatus(ctx)
      if (s === undefined) throw new Error(`no listener runs in ${ctx.home()} (start one with "subwire listen")`)
      const peers = s.peers as Array<{ ss58: string, direction: string, remoteAddr: string }>
      const outbox = s.outbox as { pending: number, dead: number }
      const transfers = (s.transfers ?? []) as TransferInFlight[]
      await ctx.emit(s, `hotkey  ${String(s.ss58)}\npeer id ${String(s.peerId)}\nlistening on\n${(s.multiaddrs as string[]).map((a) => `  ${a}`).join('\n')}\n` +
        `peers   ${peers.length}${peers.map((p) => `\n  ${p.ss58} ${p.direction} ${p.remoteAddr}`).join('')}\n` +
        `transfers ${transfers.length}${transfers.map((t) => `\n  ${transferLine(t)}`).join('')}\n` +
        `outbox  ${outbox.pending} waiting, ${outbox.dead} dead`)
    })
}
