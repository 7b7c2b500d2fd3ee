/**
 * `subwire message`: a control message, through the durable outbox unless `--no-queue`.
 *
 * @packageDocumentation
 */
import { parseNetuid, parseTimeout } from '../args.ts'
import { elapsedMs } from '../format.ts'
import { queuedSend } from '../queued-send.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

interface MessageOptions { netuid?: number, timeout?: number, encrypt: boolean, queue: boolean, detach?: boolean }

/** The payload argument: JSON if it parses, else the string itself; `null` when absent. */
function parsePayload (payloadArg: string | undefined): unknown {
  if (payloadArg === undefined) return null
  try { return JSON.parse(payloadArg) } catch { return payloadArg }
}

/** Registers `message`. */
export function registerMessage (program: Command, ctx: CliContext): void {
  program.command('message')
    .description('send a control message through the durable outbox and wait for its ack')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<action>', 'what the message asks for')
    .argument('[payload]', 'payload: JSON, or else taken as a string')
    .option('--netuid <n>', 'subnet (default the first in the config)', parseNetuid)
    .option('--timeout <ms>', 'ack deadline of each attempt in ms', parseTimeout)
    .option('--no-encrypt', 'send without end-to-end encryption (a trusted link)')
    .option('--no-queue', 'send directly and fail fast if the receiver is not reachable (nothing is queued)')
    .option('--detach', 'queue it and return at once; the listener (or the next `subwire listen`) delivers it')
    .action(async (dest: string, action: string, payloadArg: string | undefined, opts: MessageOptions) => {
      const payload = parsePayload(payloadArg)
      const started = performance.now()
      if (opts.queue) {
        await queuedSend(ctx, { op: 'message', dest, action, payload, netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt },
          async (peer) => await peer.message(dest, action, payload, { queue: true, netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt }),
          { detach: opts.detach === true }, (e) => {
            const ms = elapsedMs(started)
            const to = typeof e.to === 'string' ? e.to : dest
            ctx.emit({ event: 'acked', to, id: e.id, action, ms }, `delivered "${action}" to ${to} (${ms} ms)`)
          })
        return
      }
      await ctx.withPeer(async (peer) => {
        const remote = await peer.connect(dest)
        const id = await peer.message(dest, action, payload, { netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt })
        const ms = elapsedMs(started)
        ctx.emit({ event: 'acked', to: remote.ss58, id, action, ms }, `delivered "${action}" to ${remote.ss58} (${ms} ms)`)
      })
    })
}
