/**
 * Files and the outbox through the local API. A file never travels through the API: the
 * client names a path the peer reads (an absolute path, readable by the peer's user), and
 * a received file is reported by its path in the inbox.
 *
 * - `send_file`: direct (resolves on the receiver's verified ack, `progress` frames
 *   meanwhile) or `queue: true` (stored in the outbox; with `wait: true` followed to
 *   delivery, its attempts and progress as frames).
 * - `outbox.list`, `outbox.dead`, `outbox.retry`, `outbox.drop`, `outbox.wait`.
 *
 * @packageDocumentation
 */
import { isAbsolute } from 'node:path'
import { QueueNotEnabledError } from '@subwire/shared'
import { enqueueOrJoin, viewToJson, watchItem } from '../control.ts'
import { API_PROGRESS_INTERVAL_MS } from './constants.ts'
import { ApiProtocolError } from './errors.ts'
import type { Args } from './args.ts'
import type { OpContext, Operation } from './connection.ts'
import type { OperationComponents } from './operations.ts'
import type { NodePeer } from '../node-peer.ts'
import type { Outbox, TransferProgressEvent } from '@subwire/shared'

const outboxOf = (peer: NodePeer): Outbox => {
  if (peer.outbox === undefined) throw new QueueNotEnabledError('This peer has no outbox')
  return peer.outbox
}

/** Progress frames for `ctx`, at most every {@link API_PROGRESS_INTERVAL_MS} (the last one always). */
function progressTo (ctx: OpContext): (e: TransferProgressEvent) => void {
  let last = 0
  return (e) => {
    const now = performance.now()
    if (now - last < API_PROGRESS_INTERVAL_MS && e.detail.bytes !== e.detail.total) return
    last = now
    ctx.emit({ t: 'progress', phase: e.type === 'transfer:hashing' ? 'hashing' : 'bytes', transfer: e.detail.id, bytes: e.detail.bytes, total: e.detail.total, rate: Math.round(e.detail.rate) })
  }
}

async function sendFile (peer: NodePeer, a: Args, ctx: OpContext): Promise<unknown> {
  const path = a.str('path')
  if (!isAbsolute(path)) throw new ApiProtocolError('send_file: path must be absolute (the peer resolves nothing against the client\'s directory)')
  const dest = a.str('dest')
  const transferId = a.optStr('transferId')
  const name = a.optStr('name')
  const common = { netuid: a.optInt('netuid'), encrypt: a.optBool('encrypt'), hashFirst: a.optBool('hashFirst'), signal: ctx.signal, ...(transferId === undefined ? {} : { id: transferId }) }
  const onProgress = a.optBool('progress') === false ? undefined : progressTo(ctx)
  if (a.optBool('queue') !== true) {
    const r = await peer.sendFile(dest, path, { ...common, ...(name === undefined ? {} : { name }), ...(onProgress === undefined ? {} : { onProgress }) })
    return { ...r, queued: false }
  }
  const outbox = outboxOf(peer)
  // with the outboard: its kept hashes, or (none kept) a streamed manifest
  const source = await peer.openFile(path, name)
  const queuing = (async () => {
    try {
      return await enqueueOrJoin(outbox, async () => await outbox.enqueueFile(dest, source, { ...common, ...(onProgress === undefined ? {} : { onProgress }) }))
    } finally {
      await source.close()
    }
  })()
  if (a.optBool('wait') !== true) {
    const queued = await queuing
    return { id: queued.id, queued: true, joined: queued.joined }
  }
  // followed from before the item exists: its first attempt can start before enqueue returns
  let result: Record<string, unknown> = {}
  const watching = watchItem(peer, outbox, queuing.then((q) => q.id), (e) => {
    if (e.event === 'progress') ctx.emit({ t: 'progress', phase: 'bytes', transfer: e.id, bytes: e.bytes, total: e.total, rate: e.rate })
    else if (e.event === 'delivered' || e.event === 'dead') result = e
    else ctx.emit({ t: 'progress', phase: e.event, ...e })
  }, { signal: ctx.signal })
  const queued = await queuing.catch(async (err: unknown) => { await watching.catch(() => 'dead'); throw err })
  const end = await watching
  if (end === 'dead') {
    const err = new Error(String(result.message))
    err.name = String(result.error)
    throw err
  }
  const { event: _e, ...delivered } = result
  return { ...delivered, queued: true, joined: queued.joined }
}

/** `send_file` and the `outbox.*` operations. */
export function transferOperations ({ peer }: OperationComponents): Array<[string, Operation]> {
  return [
    ['send_file', async (a, ctx) => await sendFile(peer, a, ctx)],
    ['cancel_transfer', async (a) => ({ cancelled: peer.cancelTransfer(a.str('transfer'), a.optStr('reason')) })],
    ['outbox.list', async (_a, ctx) => (await outboxOf(peer).list({ signal: ctx.signal })).map(viewToJson)],
    ['outbox.dead', async (_a, ctx) => (await outboxOf(peer).dead({ signal: ctx.signal })).map(viewToJson)],
    ['outbox.retry', async (a, ctx) => ({ count: await outboxOf(peer).retry(a.str('item'), { signal: ctx.signal }) })],
    ['outbox.drop', async (a, ctx) => { await outboxOf(peer).drop(a.str('item'), { signal: ctx.signal }); return { dropped: a.str('item') } }],
    ['outbox.wait', async (a, ctx) => {
      const done = await outboxOf(peer).waitFor(a.str('item'), { signal: ctx.signal })
      return { id: done.id, dest: done.dest, ...(done.result === undefined ? {} : { result: { ...done.result } }) }
    }]
  ]
}
