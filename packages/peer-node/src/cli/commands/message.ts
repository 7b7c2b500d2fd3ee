/**
 * `subwire message`: a control message, through the durable outbox unless `--no-queue`.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto'
import { parseNetuid, parseTimeout, readJsonPayload, readPayloadText } from '../args.ts'
import { checkDestination, connectWithin, DEFAULT_DIAL_TIMEOUT_MS } from '../destination.ts'
import { elapsedMs } from '../format.ts'
import { queuedSend } from '../queued-send.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

interface MessageOptions { netuid?: number, timeout?: number, encrypt: boolean, queue: boolean, detach?: boolean, string?: boolean, id?: string }

/** The payload argument: JSON (or with `--string`, the text as it is), from the argument, `@FILE` or `-` (stdin); `null` when absent. */
async function parsePayload (payloadArg: string | undefined, asString: boolean): Promise<unknown> {
  if (payloadArg === undefined) return null
  return asString ? await readPayloadText(payloadArg) : await readJsonPayload(payloadArg, 'payload')
}

/** Registers `message`. */
export function registerMessage (program: Command, ctx: CliContext): void {
  program.command('message')
    .description('send a control message through the durable outbox and wait for its ack')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<action>', 'what the message asks for')
    .argument('[payload]', 'payload: JSON, @FILE to read it from a file, or - for stdin (at most 16 MiB: send bulk data with `send`)')
    .option('--string', 'take the payload as a string, not JSON')
    .option('--netuid <n>', 'subnet (default the first in the config)', parseNetuid)
    .option('--timeout <ms>', `ack deadline of each attempt in ms; with --no-queue also the dial's (default ${DEFAULT_DIAL_TIMEOUT_MS} ms)`, parseTimeout)
    .option('--no-encrypt', 'send without end-to-end encryption (a trusted link)')
    .option('--no-queue', 'send directly and fail fast if the receiver is not reachable (nothing is queued)')
    .option('--detach', 'queue it and return at once; the listener (or the next `subwire listen`) delivers it')
    .option('--id <id>', 'message id (default a random UUID): run the command again with the same id and the message is queued and delivered once')
    .addHelpText('after', `
Examples:
  subwire message 5FHneW46… weights:ready '{"epoch":7}'
  subwire message 5FHneW46… weights:ready @payload.json
  echo '{"epoch":7}' | subwire message 5FHneW46… weights:ready -
  subwire message 5FHneW46… note 'plain text' --string`)
    .action(async (dest: string, action: string, payloadArg: string | undefined, opts: MessageOptions) => {
      const payload = await parsePayload(payloadArg, opts.string === true)
      await checkDestination(ctx, dest)
      const started = performance.now()
      // chosen here, not by the listener: if the listener dies before it confirms, the message
      // is queued here under the same id, which joins (or, delivered, is de-duplicated by) its copy
      const id = opts.id ?? randomUUID()
      if (opts.queue) {
        await queuedSend(ctx, { op: 'message', dest, action, payload, netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt, id },
          async (peer) => await peer.message(dest, action, payload, { queue: true, netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt, id }),
          { detach: opts.detach === true }, (e) => {
            const ms = elapsedMs(started)
            const to = typeof e.to === 'string' ? e.to : dest
            ctx.emit({ event: 'acked', to, id: e.id, action, ms }, `delivered "${action}" to ${to} (${ms} ms)`)
          })
        return
      }
      await ctx.withPeer(async (peer) => {
        const remote = await connectWithin(peer, dest, opts.timeout ?? DEFAULT_DIAL_TIMEOUT_MS)
        await peer.message(dest, action, payload, { netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt, id })
        const ms = elapsedMs(started)
        ctx.emit({ event: 'acked', to: remote.ss58, id, action, ms }, `delivered "${action}" to ${remote.ss58} (${ms} ms)`)
      })
    })
}
