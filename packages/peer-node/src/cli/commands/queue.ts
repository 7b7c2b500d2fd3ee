/**
 * `subwire queue`: the durable outbox and its dead-letter list.
 *
 * @packageDocumentation
 */
import { errorFromWire } from '@subwire/shared'
import { readConfig } from '../../home.ts'
import { controlRequest, viewToJson } from '../../control.ts'
import { UsageError } from '../args.ts'
import { formatBytes } from '../format.ts'
import type { Command } from 'commander'
import type { ControlEvent } from '../../control.ts'
import type { NodePeer } from '../../node-peer.ts'
import type { CliContext } from '../context.ts'

type Outbox = NonNullable<NodePeer['outbox']>

/** Runs an outbox operation in the running listener (over the control socket), else on a peer of our own. */
async function queueOp (ctx: CliContext, request: Record<string, unknown>, local: (peer: NodePeer) => Promise<ControlEvent>): Promise<ControlEvent> {
  await readConfig(ctx.home())
  let answer: ControlEvent | undefined
  const viaListener = await controlRequest(ctx.home(), request, (e) => { answer = e })
  if (!viaListener) await ctx.withPeer(async (peer) => { answer = await local(peer) }, [], undefined, undefined, { start: false })
  if (answer === undefined) throw new Error('the listener closed the control connection without an answer')
  if (answer.event === 'error') throw errorFromWire({ name: String(answer.error), message: String(answer.message) })
  return answer
}

/** Prints outbox (or dead-letter) items: one JSON line each, or two or three lines for a person. */
function printItems (ctx: CliContext, items: Array<Record<string, unknown>>, dead: boolean): void {
  if (ctx.globals().json === true) {
    for (const i of items) ctx.io.stdout(JSON.stringify(i))
    return
  }
  if (items.length === 0) {
    ctx.io.stdout(dead ? 'the dead-letter list is empty' : 'the outbox is empty')
    return
  }
  const when = (t: number): string => t <= Date.now() ? 'now' : `in ${Math.ceil((t - Date.now()) / 1000)} s`
  // delivery is FIFO per destination (a message sent after a file arrives after it): an
  // item behind an earlier one for the same destination waits for it, whatever its own schedule
  const head = new Map<string, string>()
  for (const i of items) {
    const err = i.lastError as { name: string, message: string } | undefined
    const ahead = dead ? undefined : head.get(String(i.dest))
    if (!head.has(String(i.dest))) head.set(String(i.dest), String(i.id))
    ctx.io.stdout(`${String(i.id)}  ${String(i.kind)} "${String(i.label)}"  ${formatBytes(i.size as number)}  to ${String(i.dest)}\n` +
      `    attempts ${String(i.attempts)}` + (dead ? '' : ahead === undefined ? `, next ${when(i.nextAttemptAt as number)}` : `, waits behind ${ahead} (FIFO per destination)`) +
      (i.kind === 'file' && (i.progress as number) > 0 ? `, ${formatBytes(i.progress as number)} acknowledged` : '') +
      (err === undefined ? '' : `\n    last error ${err.name}: ${err.message}`))
  }
}

/** Registers `queue` and its subcommands `list`, `dead`, `retry` and `drop`. */
export function registerQueue (program: Command, ctx: CliContext): void {
  const queue = program.command('queue')
    .description('the durable outbox: what waits for delivery, and the dead-letter list')
  queue.command('list')
    .description('items waiting for delivery: destination, kind, size, attempts, next attempt, last error')
    .action(async () => {
      const a = await queueOp(ctx, { op: 'list' }, async (peer) => ({ event: 'list', items: (await (peer.outbox as Outbox).list()).map(viewToJson) }))
      printItems(ctx, a.items as Array<Record<string, unknown>>, false)
    })
  queue.command('dead')
    .description('the dead-letter list: items given up, with their last error')
    .action(async () => {
      const a = await queueOp(ctx, { op: 'dead' }, async (peer) => ({ event: 'dead', items: (await (peer.outbox as Outbox).dead()).map(viewToJson) }))
      printItems(ctx, a.items as Array<Record<string, unknown>>, true)
    })
  queue.command('retry')
    .description('retry an item now (a dead one returns to the outbox with fresh attempts), or every item with --all')
    .argument('[id]', 'item id')
    .option('--all', 'every pending and dead item')
    .action(async (id: string | undefined, opts: { all?: boolean }) => {
      if ((id === undefined) === (opts.all !== true)) throw new UsageError('give an item id or --all')
      const target = opts.all === true ? 'all' : id as string
      const a = await queueOp(ctx, { op: 'retry', id: target }, async (peer) => ({ event: 'retried', count: await (peer.outbox as Outbox).retry(target) }))
      ctx.emit(a, `retrying ${String(a.count)} item(s)`)
    })
  queue.command('drop')
    .description('remove an item without delivering it')
    .argument('<id>', 'item id')
    .action(async (id: string) => {
      const a = await queueOp(ctx, { op: 'drop', id }, async (peer) => { await (peer.outbox as Outbox).drop(id); return { event: 'dropped', id } })
      ctx.emit(a, `dropped ${id}`)
    })
}
