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
 * The events of one queued send as a person or a script sees them: progress on stderr
 * (or throttled JSON lines), queued/joined/retry lines, and the last event kept as `final`.
 */
class SendEvents {
  /** The outbox item, once queued or joined. */
  id: string | undefined
  /** The event that ended the send (`acked`, `sent`, `dead`, `error`), once it came. */
  final: ControlEvent | undefined
  readonly #ctx: CliContext
  readonly #tty: boolean
  #lastJson = 0

  constructor (ctx: CliContext, tty: boolean) {
    this.#ctx = ctx
    this.#tty = tty
  }

  /** Prints or records `e`. */
  readonly onEvent = (e: ControlEvent): void => {
    if (e.event === 'hashing' || e.event === 'progress') {
      this.#progress(e)
      return
    }
    if (this.#tty) process.stderr.write('\r\x1b[K')
    // queued/joined/attempt/retry are JSON lines for scripts; a person sees all but attempts on stderr
    if (e.event === 'queued' || e.event === 'joined' || e.event === 'attempt' || e.event === 'retry') {
      void this.#ctx.emit(e)
      if (e.event === 'queued' || e.event === 'joined') this.id = e.id as string
      if (this.#ctx.globals().json === true || e.event === 'attempt') return
      this.#ctx.io.stderr(e.event === 'queued'
        ? `queued ${String(e.id)}`
        : e.event === 'joined'
          ? `joined ${String(e.id)}: the same send is already in the outbox, waiting for it`
          : `attempt ${String(e.attempt)} failed: ${String(e.error)}: ${printable(String(e.message))}; next in ${((e.delayMs as number) / 1000).toFixed(1)} s`)
    } else {
      this.final = e
    }
  }

  #progress (e: ControlEvent): void {
    const { bytes, total, rate } = e as unknown as { bytes: number, total: number, rate: number }
    if (this.#ctx.globals().json === true) {
      const now = Date.now()
      if (now - this.#lastJson >= 250 || bytes === total) { this.#lastJson = now; this.#ctx.io.stdout(JSON.stringify(e)) }
    } else if (this.#tty) {
      process.stderr.write(`\r${progressLine(e.event === 'hashing' ? 'hashing' : 'sending', bytes, total, rate)}\x1b[K`)
    }
  }
}

/**
 * A queued send: handed to the running listener over the control socket, or else queued
 * here and (unless detached) delivered by a transient peer while this command runs.
 * Prints the item's events; the last one is `acked`/`sent`, or an error. A listener that
 * dies before it confirmed the item is treated as no listener: the item is queued here.
 */
export async function queuedSend (ctx: CliContext, request: Record<string, unknown>, local: (peer: NodePeer) => Promise<string>, opts: QueuedSendOptions, done: (e: ControlEvent) => void): Promise<void> {
  const tty = ctx.globals().json !== true && process.stderr.isTTY
  const events = new SendEvents(ctx, tty)
  const stop = new AbortController()
  // Ctrl-C stops waiting; the item stays queued
  void ctx.io.shutdown().then(() => { stop.abort() })
  const viaListener = await controlRequest(ctx.home(), { ...request, watch: !opts.detach }, events.onEvent, { signal: stop.signal })
    .catch((err: unknown) => {
      // interrupted, or the listener's end of the connection went away (it was killed)
      if (stop.signal.aborted || LOST_LISTENER_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return true
      throw err
    })
  // a listener killed before it confirmed the item (no queued or joined line) may or may not
  // have stored it: queue it here as well, where the same source (a file) or the same message
  // id (chosen by the command, not by the listener) joins what it stored
  const unconfirmed = viaListener && !stop.signal.aborted && events.id === undefined && events.final === undefined
  if (!viaListener || unconfirmed) await queueHere(ctx, local, opts, events, stop.signal)
  await finish(ctx, events, { viaListener, detach: opts.detach, interrupted: stop.signal.aborted, tty }, done)
}

/** Queues the item in this process's outbox and, unless detached, delivers it with a transient peer. */
async function queueHere (ctx: CliContext, local: (peer: NodePeer) => Promise<string>, opts: QueuedSendOptions, events: SendEvents, signal: AbortSignal): Promise<void> {
  await ctx.withPeer(async (peer) => {
    const outbox = peer.outbox
    if (outbox === undefined) throw new Error('this peer has no outbox')
    const enqueue = async (): Promise<string> => {
      const { id: i, joined } = await enqueueOrJoin(outbox, async () => await local(peer))
      events.onEvent({ event: joined ? 'joined' : 'queued', id: i })
      return i
    }
    if (opts.detach) {
      await enqueue()
      return
    }
    await peer.start()
    const itemId = enqueue()
    await watchItem(peer, outbox, itemId, events.onEvent, { signal }).catch((err: unknown) => { if (!signal.aborted) throw err })
  }, [], opts.netuids, undefined, { start: false })
}

/** How a send went, for {@link finish}. */
interface SendOutcome {
  /** The listener took the request (else it was queued here). */
  viaListener: boolean
  detach: boolean
  /** Ctrl-C stopped the wait. */
  interrupted: boolean
  tty: boolean
}

/** Says how the send ended: queued (detached), interrupted (exit code 3), delivered (`done`) or failed (throws). */
async function finish (ctx: CliContext, events: SendEvents, outcome: SendOutcome, done: (e: ControlEvent) => void): Promise<void> {
  const { io } = ctx
  const { id, final } = events
  const { viaListener } = outcome
  if (outcome.detach) {
    if (ctx.globals().json !== true) io.stdout(`queued ${id ?? ''}${viaListener ? ' (the listener delivers it)' : ' (no listener running: `subwire listen` delivers it)'}`)
    return
  }
  if (final === undefined) {
    if (outcome.interrupted) {
      const human = `interrupted: ${id ?? 'the item'} stays queued; ${viaListener ? 'the listener keeps delivering it' : '`subwire listen` delivers it'} (subwire queue list)`
      // where "queued" went (stderr for a person), on a line of its own after the progress bar
      if (ctx.globals().json === true) await ctx.emit({ event: 'interrupted', id })
      else { if (outcome.tty) process.stderr.write('\r\x1b[K'); io.stderr(human) }
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
