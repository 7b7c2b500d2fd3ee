/**
 * A send through the durable outbox, as `message` and `send` do it by default.
 *
 * @packageDocumentation
 */
import { DeadLetterError, errorFromWire } from '@subwire/shared'
import { controlRequest, enqueueOrJoin, watchItem } from '../control.ts'
import { printable, progressLine } from './format.ts'
import type { ControlEvent } from '../control.ts'
import type { NodePeer } from '../node-peer.ts'
import type { CliContext } from './context.ts'

/** Socket errors of a control connection whose listener died while we talked to it. */
const LOST_LISTENER_CODES = new Set(['ECONNRESET', 'EPIPE'])

/** How a queued send runs: `detach` returns once it is queued; `netuids` for a transient peer. */
export interface QueuedSendOptions {
  detach: boolean
  netuids?: number[] | undefined
}

/**
 * A queued send: handed to the running listener over the control socket, or else queued
 * here and (unless detached) delivered by a transient peer while this command runs.
 * Prints the item's events; the last one is `acked`/`sent`, or an error. A listener that
 * dies before it confirmed the item is treated as no listener: the item is queued here.
 */
export async function queuedSend (ctx: CliContext, request: Record<string, unknown>, local: (peer: NodePeer) => Promise<string>, opts: QueuedSendOptions, done: (e: ControlEvent) => void): Promise<void> {
  const { io } = ctx
  const tty = ctx.globals().json !== true && process.stderr.isTTY
  let lastJson = 0
  let final: ControlEvent | undefined
  let id: string | undefined
  const onEvent = (e: ControlEvent): void => {
    if (e.event === 'hashing' || e.event === 'progress') {
      const { bytes, total, rate } = e as unknown as { bytes: number, total: number, rate: number }
      if (ctx.globals().json === true) {
        const now = Date.now()
        if (now - lastJson >= 250 || bytes === total) { lastJson = now; io.stdout(JSON.stringify(e)) }
      } else if (tty) {
        process.stderr.write(`\r${progressLine(e.event === 'hashing' ? 'hashing' : 'sending', bytes, total, rate)}\x1b[K`)
      }
      return
    }
    if (tty) process.stderr.write('\r\x1b[K')
    // queued/joined/attempt/retry are JSON lines for scripts; a person sees all but attempts on stderr
    if (e.event === 'queued' || e.event === 'joined' || e.event === 'attempt' || e.event === 'retry') {
      void ctx.emit(e)
      if (e.event === 'queued' || e.event === 'joined') id = e.id as string
      if (ctx.globals().json === true || e.event === 'attempt') return
      io.stderr(e.event === 'queued'
        ? `queued ${String(e.id)}`
        : e.event === 'joined'
          ? `joined ${String(e.id)}: the same send is already in the outbox, waiting for it`
          : `attempt ${String(e.attempt)} failed: ${String(e.error)}: ${printable(String(e.message))}; next in ${((e.delayMs as number) / 1000).toFixed(1)} s`)
    } else {
      final = e
    }
  }
  const stop = new AbortController()
  // Ctrl-C stops waiting; the item stays queued
  void io.shutdown().then(() => { stop.abort() })
  const viaListener = await controlRequest(ctx.home(), { ...request, watch: !opts.detach }, onEvent, { signal: stop.signal })
    .catch((err: unknown) => {
      // interrupted, or the listener's end of the connection went away (it was killed)
      if (stop.signal.aborted || LOST_LISTENER_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return true
      throw err
    })
  // a listener killed before it confirmed the item (no queued or joined line) may or may not
  // have stored it: queue it here as well, where the same source (a file) or the same message
  // id (chosen by the command, not by the listener) joins what it stored
  const unconfirmed = viaListener && !stop.signal.aborted && id === undefined && final === undefined
  if (!viaListener || unconfirmed) {
    await ctx.withPeer(async (peer) => {
      const outbox = peer.outbox
      if (outbox === undefined) throw new Error('this peer has no outbox')
      const enqueue = async (): Promise<string> => {
        const { id: i, joined } = await enqueueOrJoin(outbox, async () => await local(peer))
        onEvent({ event: joined ? 'joined' : 'queued', id: i })
        return i
      }
      if (opts.detach) {
        await enqueue()
        return
      }
      await peer.start()
      const itemId = enqueue()
      await watchItem(peer, outbox, itemId, onEvent, { signal: stop.signal }).catch((err: unknown) => { if (!stop.signal.aborted) throw err })
    }, [], opts.netuids, undefined, { start: false })
  }
  if (opts.detach) {
    if (ctx.globals().json !== true) io.stdout(`queued ${id ?? ''}${viaListener ? ' (the listener delivers it)' : ' (no listener running: `subwire listen` delivers it)'}`)
    return
  }
  if (final === undefined) {
    if (stop.signal.aborted) {
      const human = `interrupted: ${id ?? 'the item'} stays queued; ${viaListener ? 'the listener keeps delivering it' : '`subwire listen` delivers it'} (subwire queue list)`
      // where "queued" went (stderr for a person), on a line of its own after the progress bar
      if (ctx.globals().json === true) await ctx.emit({ event: 'interrupted', id })
      else { if (tty) process.stderr.write('\r\x1b[K'); io.stderr(human) }
      ctx.code = 3
      return
    }
    throw new Error('the listener closed the control connection without an answer')
  }
  if (final.event === 'error') throw errorFromWire({ name: String(final.error), message: String(final.message) })
  if (final.event === 'dead') {
    throw new DeadLetterError(`not delivered, moved to the dead-letter list (subwire queue dead): ${String(final.error)}: ${String(final.message)}`)
  }
  done(final)
}
