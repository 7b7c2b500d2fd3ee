/**
 * `subwire query`: one RPC request and its reply, or (`--subnet N`) the same request to
 * every member of a subnet, one line per member as it answers and a summary line.
 *
 * @packageDocumentation
 */
import { controlRequest } from '../../control.ts'
import { DEFAULT_FANOUT_TIMEOUT_MS } from '@subwire/shared'
import { parseNetuid, parseTimeout, readJsonPayload, UsageError } from '../args.ts'
import { checkDestination, connectWithin, DEFAULT_DIAL_TIMEOUT_MS } from '../destination.ts'
import { elapsedMs, jsonSafe } from '../format.ts'
import type { FanOutSummary } from '@subwire/shared'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

interface QueryOptions { netuid?: number, timeout?: number, encrypt?: boolean, subnet?: number, concurrency?: number }

/** The summary as one line a person reads. */
function summaryLine (s: FanOutSummary): string {
  const failed = Object.entries(s.failed).filter(([, n]) => n > 0).map(([r, n]) => `${n} ${r}`).join(', ')
  const ms = (n: number): string => Number.isNaN(n) ? '-' : `${Math.round(n)} ms`
  return `subnet ${s.netuid}: ${s.answered}/${s.members} answered${failed === '' ? '' : `, failed: ${failed}`}; p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)}; ${s.ms} ms`
}

/** The members of `netuid` the home's running listener knows, if one runs (asked for at most `ms`). */
async function listenerMembers (ctx: CliContext, netuid: number, ms: number): Promise<string[] | undefined> {
  let members: string[] | undefined
  try {
    await controlRequest(ctx.home(), { op: 'members', netuid, timeout: ms }, (e) => { if (e.event === 'members') members = e.members as string[] }, { signal: AbortSignal.timeout(ms + 500) })
  } catch {
    return undefined // no answer in time: discover them here
  }
  return members
}

/** `query --subnet N TYPE [BODY]`. */
async function querySubnet (ctx: CliContext, netuid: number, type: string, jsonBody: string, opts: QueryOptions): Promise<void> {
  const body = await readJsonPayload(jsonBody, 'request body')
  const timeout = opts.timeout ?? DEFAULT_FANOUT_TIMEOUT_MS
  // a running listener of this home knows the subnet already (its DHT, cache and sessions);
  // this one-shot peer starts with an empty routing table
  const known = await listenerMembers(ctx, netuid, timeout / 2)
  await ctx.withPeer(async (peer) => {
    const run = peer.querySubnet(netuid, type, body, { timeout, concurrency: opts.concurrency, encrypt: opts.encrypt === true, ...(known === undefined || known.length === 0 ? {} : { members: known }) })
    for await (const r of run) {
      if (r.ok) await ctx.emit({ ss58: r.ss58, ok: true, body: r.body, ms: r.ms }, `${r.ss58}  ${Math.round(r.ms)} ms  ${JSON.stringify(jsonSafe(r.body))}`)
      else await ctx.emit({ ss58: r.ss58, ok: false, reason: r.reason, error: r.error.name, message: r.error.message, ms: r.ms }, `${r.ss58}  ${r.reason}: ${r.error.name}: ${r.error.message}`)
    }
    const s = await run.summary
    await ctx.emit({ summary: true, ...s }, summaryLine(s))
    if (s.answered === 0) ctx.code = 1
  })
}

/** Registers `query`. */
export function registerQuery (program: Command, ctx: CliContext): void {
  program.command('query')
    .description('send an RPC request and print the reply; with --subnet, to every member of a subnet')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 (address book, DHT); with --subnet: the request type')
    .argument('[type]', 'request type, e.g. echo; with --subnet: the request body')
    .argument('[json_body]', 'request body: JSON, @FILE to read it from a file, or - for stdin', 'null')
    .option('--netuid <n>', 'subnet (default the first in the config)', parseNetuid)
    .option('--subnet <n>', 'ask every member of this subnet (found in the DHT); one line per member, then a summary', parseNetuid)
    .option('--concurrency <n>', 'members dialled at once with --subnet (default 32)', parseNetuid)
    .option('--timeout <ms>', `reply deadline in ms or with a unit (2s), also the dial's (default ${DEFAULT_DIAL_TIMEOUT_MS} ms for the dial; with --subnet the whole fan-out's, default ${DEFAULT_FANOUT_TIMEOUT_MS} ms)`, parseTimeout)
    .option('--encrypt', 'encrypt the request and its reply end to end')
    .addHelpText('after', `
Examples:
  subwire query /ip4/127.0.0.1/udp/4801/quic-v1/p2p/12D3Koo… echo '{"x":1}' --json
  subwire query 5FHneW46… score @request.json --timeout 5000
  subwire query --subnet 42 echo '{}' --timeout 2s --json`)
    .action(async (dest: string, type: string | undefined, jsonBody: string, opts: QueryOptions) => {
      if (opts.subnet !== undefined) {
        if (jsonBody !== 'null' && type !== undefined) throw new UsageError('with --subnet, give TYPE and BODY only (no destination)')
        await querySubnet(ctx, opts.subnet, dest, type ?? 'null', opts)
        return
      }
      if (type === undefined) throw new UsageError('missing the request type (subwire query DEST TYPE [BODY])')
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
