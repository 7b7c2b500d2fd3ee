/**
 * `subwire query`: one RPC request and its reply.
 *
 * @packageDocumentation
 */
import { parseNetuid, parseTimeout, readJsonPayload } from '../args.ts'
import { checkDestination, connectWithin, DEFAULT_DIAL_TIMEOUT_MS } from '../destination.ts'
import { elapsedMs, jsonSafe } from '../format.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

/** Registers `query`. */
export function registerQuery (program: Command, ctx: CliContext): void {
  program.command('query')
    .description('send an RPC request and print the reply')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<type>', 'request type, e.g. echo')
    .argument('[json_body]', 'request body: JSON, @FILE to read it from a file, or - for stdin', 'null')
    .option('--netuid <n>', 'subnet (default the first in the config)', parseNetuid)
    .option('--timeout <ms>', `reply deadline in ms, also the dial's (default ${DEFAULT_DIAL_TIMEOUT_MS} ms for the dial)`, parseTimeout)
    .option('--encrypt', 'encrypt the request and its reply end to end')
    .addHelpText('after', `
Examples:
  subwire query /ip4/127.0.0.1/udp/4801/quic-v1/p2p/12D3Koo… echo '{"x":1}' --json
  subwire query 5FHneW46… score @request.json --timeout 5000`)
    .action(async (dest: string, type: string, jsonBody: string, opts: { netuid?: number, timeout?: number, encrypt?: boolean }) => {
      const body = await readJsonPayload(jsonBody, 'request body')
      await checkDestination(ctx, dest)
      await ctx.withPeer(async (peer) => {
        const started = performance.now()
        const remote = await connectWithin(peer, dest, opts.timeout ?? DEFAULT_DIAL_TIMEOUT_MS)
        const reply = await peer.request(dest, type, body, { netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt === true })
        const ms = elapsedMs(started)
        ctx.emit({ from: remote.ss58, body: reply, ms }, JSON.stringify(jsonSafe(reply), null, 2))
      })
    })
}
