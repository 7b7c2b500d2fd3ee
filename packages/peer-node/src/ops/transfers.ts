/**
 * Transfers in flight on a running peer, for `subwire status` and the metrics: incoming
 * files from the engine's `file:*` events, outgoing ones from the outbox's `queue:*`
 * events (a file the CLI sends goes through the listener's outbox).
 *
 * @packageDocumentation
 */
import type { NodePeer } from '../node-peer.ts'

/** One transfer in flight. */
export interface TransferInFlight {
  /** Transfer id (incoming) or outbox item id (outgoing). */
  id: string
  /** `in`: a file being received; `out`: a file being sent. */
  direction: 'in' | 'out'
  /** The other end: the sender's hotkey, or the destination as queued. */
  peer: string
  /** File name. */
  name: string
  /** Bytes done (including what was resumed). */
  bytes: number
  /** Total bytes. */
  total: number
  /** Bytes per second over the current phase. */
  rate: number
  /** When it started (ms since epoch). */
  startedAt: number
}

/** What happened to a transfer, as {@link Transfers} reports it to its listener. */
export type TransferChange =
  | { type: 'started', transfer: TransferInFlight }
  | { type: 'bytes', transfer: TransferInFlight, delta: number }
  | { type: 'ended', transfer: TransferInFlight, outcome: 'completed' | 'failed', resumed: boolean }

/** Follows a peer's transfers while started. */
export class Transfers {
  readonly #peer: NodePeer
  readonly #onChange: ((change: TransferChange) => void) | undefined
  readonly #inFlight = new Map<string, TransferInFlight>()
  #offs: Array<() => void> = []

  /** `onChange` hears of every start, byte delta and end. */
  constructor (components: { peer: NodePeer }, init: { onChange?: (change: TransferChange) => void } = {}) {
    this.#peer = components.peer
    this.#onChange = init.onChange
  }

  /** The transfers in flight now, oldest first. */
  list (): TransferInFlight[] {
    return [...this.#inFlight.values()].map((t) => ({ ...t }))
  }

  /** Starts listening to the peer's and its outbox's events. */
  start (): void {
    if (this.#offs.length > 0) return
    const peer = this.#peer
    this.#offs.push(
      peer.on('file:accepted', (o) => { this.#start(`in:${o.id}`, { id: o.id, direction: 'in', peer: o.from.ss58, name: o.name, bytes: 0, total: o.size, rate: 0, startedAt: Date.now() }) }),
      peer.on('file:progress', (p) => { if (p.type === 'transfer:bytes') this.#bytes(`in:${p.detail.id}`, p.detail.bytes, p.detail.rate) }),
      peer.on('file:received', (f) => { this.#end(`in:${f.id}`, 'completed', f.resumedFrom > 0) }),
      peer.on('file:failed', (f) => { if (f.id !== undefined) this.#end(`in:${f.id}`, 'failed', false) })
    )
    const outbox = peer.outbox
    if (outbox !== undefined) {
      this.#offs.push(
        outbox.on('queue:attempt', (i) => {
          if (i.kind !== 'file') return
          this.#start(`out:${i.id}`, { id: i.id, direction: 'out', peer: i.dest, name: i.label, bytes: i.progress, total: i.size, rate: 0, startedAt: Date.now() })
        }),
        outbox.on('queue:progress', (p) => { this.#bytes(`out:${p.id}`, p.bytes, p.rate) }),
        outbox.on('queue:delivered', ({ item, result }) => { this.#end(`out:${item.id}`, 'completed', (result?.resumedFrom ?? 0) > 0) }),
        outbox.on('queue:retry', ({ item }) => { this.#end(`out:${item.id}`, 'failed', false) }),
        outbox.on('queue:dead', ({ item }) => { this.#end(`out:${item.id}`, 'failed', false) })
      )
    }
  }

  /** Stops listening and forgets what was in flight. */
  stop (): void {
    for (const off of this.#offs) off()
    this.#offs = []
    this.#inFlight.clear()
  }

  #start (key: string, t: TransferInFlight): void {
    this.#inFlight.set(key, t)
    this.#onChange?.({ type: 'started', transfer: { ...t } })
  }

  #bytes (key: string, bytes: number, rate: number): void {
    const t = this.#inFlight.get(key)
    if (t === undefined) return
    const delta = Math.max(0, bytes - t.bytes)
    t.bytes = bytes
    t.rate = Math.round(rate)
    if (delta > 0) this.#onChange?.({ type: 'bytes', transfer: { ...t }, delta })
  }

  #end (key: string, outcome: 'completed' | 'failed', resumed: boolean): void {
    const t = this.#inFlight.get(key)
    if (t === undefined) return
    this.#inFlight.delete(key)
    this.#onChange?.({ type: 'ended', transfer: { ...t }, outcome, resumed })
  }
}
