/**
 * What the CLI asks the running listener of its home, over the control socket.
 *
 * @packageDocumentation
 */
import { controlRequest } from '../control.ts'
import type { CliContext } from './context.ts'

/** The running listener's `status` (addresses, connected peers, outbox), if one runs in this home. */
export async function listenerStatus (ctx: CliContext): Promise<Record<string, unknown> | undefined> {
  let status: Record<string, unknown> | undefined
  await controlRequest(ctx.home(), { op: 'status' }, (e) => { if (e.event === 'status') status = e })
  return status
}
