/**
 * `subwire id`: this home's identity.
 *
 * @packageDocumentation
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { readConfig, loadOrCreatePeerKey } from '../../home.ts'
import { loadHotkey } from '../../keys.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

/** Registers `id`. */
export function registerId (program: Command, ctx: CliContext): void {
  program.command('id')
    .description('print this home\'s hotkey, PeerId and subnets')
    .action(async () => {
      const config = await readConfig(ctx.home())
      const signer = await loadHotkey(config.hotkey, config.ss58Prefix)
      const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(ctx.home())).toString()
      ctx.emit({ ss58: signer.ss58, peerId, netuids: config.netuids, listen: config.listen, home: ctx.home() },
        `hotkey  ${signer.ss58}\npeer id ${peerId}\nsubnets ${config.netuids.join(', ')}\nlisten  ${config.listen.join(' ')}\nhome    ${ctx.home()}`)
    })
}
