/**
 * `subwire query`: one RPC request and its reply.
 *
 * @packageDocumentation
 */
import { parseNetuid, parseTimeout, UsageError } from '../args.ts'
import { elapsedMs, jsonSafe } from '../format.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

/** Registers `query`. */
export function registerQuery (program: Command, ctx: CliContext): void {
  program.command('query')
    .description('send an RPC request and print the reply')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<type>', 'request type, e.g. echo')
    .argument('[json_body]', 'request body as JSON', 'null')
    .option('--netuid <n>', 'subnet (default the first in the config)', parseNetuid)
    .option('--timeout <ms>', 'reply deadline in ms', parseTimeout)
    .option('--encrypt', 'encrypt the request and its reply end to end')
    .action(async (dest: string, type: string, jsonBody: string, opts: { netuid?: number, timeout?: number, encrypt?: boolean }) => {
      let body: unknown
      try {
        body = JSON.parse(jsonBody)
      } catch {
        throw new UsageError(`request body is not valid JSON: ${jsonBody}`)
      }
      await ctx.withPeer(async (peer) => {
        const started = performance.now()
        const remote = await peer.connect(dest)
        const reply = await peer.request(dest, type, body, { netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt === true })
        const ms = elapsedMs(started)
        ctx.emit({ from: remote.ss58, body: reply, ms }, JSON.stringify(jsonSafe(reply), null, 2))
      })
    })
}
