/**
 * Events for API clients: one set of listeners on the peer and its outbox, fanned out to
 * every subscription, in the order the peer emitted them. An event is one frame
 * `{ t: 'event', id, event: { type, … } }` on the subscription's id.
 *
 * @packageDocumentation
 */
import { viewToJson } from '../control.ts'
import type { NodePeer } from '../node-peer.ts'
import type { RemotePeer } from '@subwire/shared'

/** Every event type a client may subscribe to. */
export const API_EVENT_TYPES = [
  'message',
  'file:accepted',
  'file:progress',
  'file:received',
  'file:failed',
  'peer:connected',
  'peer:disconnected',
  'queue:added',
  'queue:attempt',
  'queue:retry',
  'queue:progress',
  'queue:delivered',
  'queue:dead',
  'queue:dropped'
] as const

/** One of {@link API_EVENT_TYPES}. */
export type ApiEventType = typeof API_EVENT_TYPES[number]

/** An event as a client receives it. */
export type ApiEvent = Record<string, unknown> & { type: ApiEventType }

type Sink = (event: ApiEvent) => void

const peerJson = (p: RemotePeer): Record<string, unknown> => ({ ss58: p.ss58, peerId: p.peerId, netuids: p.netuids, direction: p.direction, remoteAddr: p.remoteAddr })
const errJson = (e: Error): Record<string, unknown> => ({ error: e.name, message: e.message })

/** Fans the peer's events out to subscriptions. */
export class EventHub {
  readonly #peer: NodePeer
  readonly #subs = new Map<Sink, ReadonlySet<string> | undefined>()
  #offs: Array<() => void> = []

  constructor (components: { peer: NodePeer }) {
    this.#peer = components.peer
  }

  /** Listens to the peer (once, whatever the number of subscriptions). */
  start (): void {
    if (this.#offs.length > 0) return
    const p = this.#peer
    const out = (e: ApiEvent): void => { this.#publish(e) }
    this.#offs = [
      p.on('message', (m) => { out({ type: 'message', id: m.id ?? null, from: m.from, caller: m.caller, action: m.action, payload: m.payload ?? null }) }),
      p.on('file:accepted', (f) => { out({ type: 'file:accepted', id: f.id, from: f.from.ss58, caller: f.from, name: f.name, size: f.size, blake3: f.root }) }),
      p.on('file:progress', (f) => { out({ type: 'file:progress', id: f.detail.id, from: f.from, bytes: f.detail.bytes, total: f.detail.total, rate: Math.round(f.detail.rate) }) }),
      p.on('file:received', (f) => { out({ type: 'file:received', id: f.id, from: f.from, caller: f.caller, name: f.name, path: f.path, size: f.size, blake3: f.blake3, resumedFrom: f.resumedFrom }) }),
      p.on('file:failed', (f) => { out({ type: 'file:failed', id: f.id ?? null, from: f.from, ...errJson(f.error) }) }),
      p.on('peer:authenticated', (r) => { out({ type: 'peer:connected', ...peerJson(r) }) }),
      p.on('peer:disconnected', (r) => { out({ type: 'peer:disconnected', ...peerJson(r) }) })
    ]
    const o = p.outbox
    if (o !== undefined) {
      this.#offs.push(
        o.on('queue:added', (v) => { out({ type: 'queue:added', item: viewToJson(v) }) }),
        o.on('queue:attempt', (v) => { out({ type: 'queue:attempt', item: viewToJson(v) }) }),
        o.on('queue:retry', ({ item, error, delayMs }) => { out({ type: 'queue:retry', item: viewToJson(item), delayMs, ...errJson(error) }) }),
        o.on('queue:progress', (x) => { out({ type: 'queue:progress', id: x.id, bytes: x.bytes, total: x.total, rate: Math.round(x.rate) }) }),
        o.on('queue:delivered', ({ item, result }) => { out({ type: 'queue:delivered', item: viewToJson(item), ...(result === undefined ? {} : { result: { ...result } }) }) }),
        o.on('queue:dead', ({ item, error }) => { out({ type: 'queue:dead', item: viewToJson(item), ...errJson(error) }) }),
        o.on('queue:dropped', ({ id }) => { out({ type: 'queue:dropped', id }) })
      )
    }
  }

  /** Stops listening. */
  stop (): void {
    for (const off of this.#offs.splice(0)) off()
    this.#subs.clear()
  }

  /** Sends events (of `types`, or all) to `sink` until the returned function is called. */
  subscribe (sink: Sink, types?: readonly string[]): () => void {
    this.#subs.set(sink, types === undefined ? undefined : new Set(types))
    return () => { this.#subs.delete(sink) }
  }

  #publish (e: ApiEvent): void {
    for (const [sink, types] of this.#subs) if (types === undefined || types.has(e.type)) sink(e)
  }
}
