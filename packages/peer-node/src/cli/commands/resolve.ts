/**
 * `subwire resolve SS58`: where a hotkey can be reached and which source said so (the
 * address book, the DHT, the metagraph); asked of the home's running listener when there
 * is one, else of a peer started for the command.
 *
 * @packageDocumentation
 */
import { errorFromWire, InvalidDestinationError, isSs58 } from '@subwire/shared'
import { controlRequest } from '../../control.ts'
import { parseTimeout } from '../args.ts'
import { DEFAULT_DIAL_TIMEOUT_MS } from '../destination.ts'
import type { Command } from 'commander'
import type { ResolvedHotkey } from '@subwire/shared'
import type { ControlEvent } from '../../control.ts'
import type { CliContext } from '../context.ts'

type Shown = Pick<ResolvedHotkey, 'ss58' | 'source' | 'via' | 'peerId' | 'multiaddrs' | 'netuids' | 'expiresAt' | 'details'> & { seq?: number | undefined }

/** Prints one resolution. */
async function show (ctx: CliContext, r: Shown): Promise<void> {
  const expires = r.expiresAt === undefined ? undefined : new Date(r.expiresAt).toISOString()
  await ctx.emit({ ss58: r.ss58, source: r.source, via: r.via, peerId: r.peerId, multiaddrs: r.multiaddrs, netuids: r.netuids, seq: r.seq, expiresAt: expires, details: r.details },
    `${r.ss58}\n  source  ${r.source}${r.via === undefined ? '' : ` (found in ${r.via})`}\n  peer id ${r.peerId ?? '(not known: the handshake proves the hotkey)'}\n` +
    r.multiaddrs.map((a) => `  ${a}`).join('\n') + (expires === undefined ? '' : `\n  expires ${expires}`))
}

/** Registers `resolve`. */
export function registerResolve (program: Command, ctx: CliContext): void {
  program.command('resolve')
    .description('show where a hotkey can be reached and where that came from (address book, DHT, metagraph)')
    .argument('<ss58>', 'the hotkey')
    .option('--timeout <ms>', `give up after this long (default ${DEFAULT_DIAL_TIMEOUT_MS} ms; units: 500ms, 2s)`, parseTimeout)
    .addHelpText('after', `
Example:
  subwire resolve 5FLSigC9H… --json`)
    .action(async (ss58: string, opts: { timeout?: number }) => {
      if (!isSs58(ss58)) throw new InvalidDestinationError(`"${ss58}" is not an SS58 address`)
      const timeout = opts.timeout ?? DEFAULT_DIAL_TIMEOUT_MS
      // the home's running listener answers if there is one: its DHT is joined and its cache warm
      let answer: ControlEvent | undefined
      if (await controlRequest(ctx.home(), { op: 'resolve', ss58, timeout }, (e) => { answer = e }, { signal: AbortSignal.timeout(timeout + 1000) })) {
        if (answer?.event === 'resolved') return await show(ctx, answer as unknown as Shown)
        throw errorFromWire({ name: String(answer?.error ?? 'Error'), message: String(answer?.message ?? 'the listener gave no answer') })
      }
      await ctx.withPeer(async (peer) => {
        const r = await peer.resolve(ss58, { signal: AbortSignal.timeout(timeout) })
        await show(ctx, { ...r, seq: r.record?.seq })
      })
    })
}
