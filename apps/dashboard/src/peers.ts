/**
 * Known peers: remembered in this browser (hotkey and addresses) so a reload reconnects
 * them, shown with the state of their connection. The state follows the connection: a
 * peer that stops answering pings (while no file moves to or from it) is shown as not
 * answering within seconds, and its connection is closed after a quiet spell, instead
 * of waiting for the transport to notice.
 */
import { orderByTransport, transportOfAddr } from '@subwire/peer-web'
import { button, el, short } from './ui.ts'
import type { WebPeer } from '@subwire/peer-web'

export interface KnownPeer { ss58: string, peerId: string, addrs: string[] }

/** What this page encrypts end to end (given to the engine; shown per peer). */
export const ENCRYPTION = { messages: true, files: true, requests: false } as const

/** The encryption cell of a connected peer: from its session (does its attestation carry a key?) and {@link ENCRYPTION}. */
export function encryptionOf (e2e: boolean): { text: string, title: string } {
  const what = (['messages', 'files', 'requests'] as const).filter((k) => ENCRYPTION[k])
  return e2e
    ? { text: 'end-to-end', title: `${what.join(' and ')} are end-to-end encrypted to its hotkey's key (above Noise); ${(['messages', 'files', 'requests'] as const).filter((k) => !ENCRYPTION[k]).join(', ') || 'nothing'} over Noise only` }
    : { text: 'not end-to-end', title: 'it publishes no encryption key: everything goes over the Noise channel only (encrypted hop by hop, not to the hotkey)' }
}

/** The block list the rows consult and change (Settings). */
export interface BlockList { isBlocked: (ss58: string) => boolean, block: (ss58: string) => void }
export type PeerState = 'connected' | 'connecting' | 'not answering' | 'disconnected'

const KEY = 'subwire.knownPeers'
const PROBE_MS = 4_000
/** Failed probes in a row before the connection is closed (about 12 s of silence). */
const CLOSE_AFTER = 3

export class Peers {
  readonly #known: KnownPeer[] = JSON.parse(localStorage.getItem(KEY) ?? '[]') as KnownPeer[]
  readonly #state = new Map<string, PeerState>()
  readonly #misses = new Map<string, number>()
  /** Bytes moved with each peer, and what the last probe saw of it. */
  readonly #moved = new Map<string, number>()
  readonly #seen = new Map<string, number>()
  /** Why the last probe of each peer failed (shown in the row's title). */
  readonly #probeError = new Map<string, string>()
  /** Round-trip times the probes measured. */
  readonly #rtt = new Map<string, number>()
  readonly #onChange: () => void
  readonly #connect: (addrs: string[]) => void
  readonly #share: (ss58: string, addrs: string[]) => void
  readonly #blocks: BlockList
  #peer: WebPeer | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (onChange: () => void, connect: (addrs: string[]) => void, share: (ss58: string, addrs: string[]) => void, blocks: BlockList) {
    this.#onChange = onChange
    this.#connect = connect
    this.#share = share
    this.#blocks = blocks
  }

  get known (): readonly KnownPeer[] { return this.#known }

  state (ss58: string): PeerState {
    if (this.#peer?.peers().some((r) => r.ss58 === ss58) === true) return this.#state.get(ss58) === 'not answering' ? 'not answering' : 'connected'
    return this.#state.get(ss58) === 'connecting' ? 'connecting' : 'disconnected'
  }

  /** Hotkeys connected now (the destinations offered for files, messages and RPC). */
  connected (): string[] { return (this.#peer?.peers() ?? []).map((r) => r.ss58) }

  attach (peer: WebPeer): void {
    this.#peer = peer
    peer.on('peer:authenticated', (r) => { this.#state.set(r.ss58, 'connected'); this.#misses.set(r.ss58, 0); this.#onChange() })
    peer.on('peer:disconnected', () => { this.#onChange() })
    clearInterval(this.#timer)
    this.#timer = setInterval(() => { void this.#probe() }, PROBE_MS)
  }

  detach (): void { clearInterval(this.#timer); this.#peer = undefined }

  /** Marks `ss58` as being connected to (the row says so until the handshake ends). */
  connecting (ss58: string | undefined, on: boolean): void {
    if (ss58 === undefined) return
    if (on) this.#state.set(ss58, 'connecting')
    else if (this.#state.get(ss58) === 'connecting') this.#state.delete(ss58)
    this.#onChange()
  }

  remember (p: KnownPeer): void {
    const i = this.#known.findIndex((k) => k.ss58 === p.ss58)
    const merged = { ...p, addrs: [...new Set([...p.addrs, ...(this.#known[i]?.addrs ?? [])])].slice(0, 8) }
    if (i >= 0) this.#known.splice(i, 1)
    this.#known.unshift(merged)
    localStorage.setItem(KEY, JSON.stringify(this.#known.slice(0, 50)))
  }

  forget (ss58: string): void {
    const i = this.#known.findIndex((k) => k.ss58 === ss58)
    if (i >= 0) this.#known.splice(i, 1)
    localStorage.setItem(KEY, JSON.stringify(this.#known))
    this.#onChange()
  }

  /** Bytes moved with `ss58` so far (from the transfer list): a moving file proves the peer alive. */
  moved (ss58: string, total: number): void { this.#moved.set(ss58, total) }

  async #probe (): Promise<void> {
    const peer = this.#peer
    if (peer === undefined) return
    let changed = false
    await Promise.all(peer.peers().map(async (r) => {
      const now = this.#moved.get(r.ss58) ?? 0
      let ok = now !== (this.#seen.get(r.ss58) ?? 0)
      this.#seen.set(r.ss58, now)
      if (!ok) ok = await peer.ping(r.peerId, { signal: AbortSignal.timeout(PROBE_MS - 500) }).then((ms) => { if (Number.isFinite(ms)) this.#rtt.set(r.ss58, ms); return true }, (err: Error) => {
        // libp2p's connection monitor is pinging it at this moment: no verdict from us
        if (err.name === 'TooManyOutboundProtocolStreamsError') return true
        this.#probeError.set(r.ss58, `${err.name}: ${err.message}`)
        return false
      })
      if (ok) this.#probeError.delete(r.ss58)
      const misses = ok ? 0 : (this.#misses.get(r.ss58) ?? 0) + 1
      this.#misses.set(r.ss58, misses)
      const next: PeerState = misses === 0 ? 'connected' : 'not answering'
      if (this.#state.get(r.ss58) !== next) { this.#state.set(r.ss58, next); changed = true }
      if (misses >= CLOSE_AFTER) await peer.libp2p.hangUp(r.peerId as never).catch(() => {})
    }))
    if (changed) this.#onChange()
  }

  /** The peer table: connected peers first, then the known ones that are not. */
  render (tbody: HTMLElement): void {
    const peer = this.#peer
    const live = peer?.peers() ?? []
    const rows: Array<{ ss58: string, peerId: string, e2e?: boolean }> = [...live.map((r) => ({ ss58: r.ss58, peerId: r.peerId, e2e: r.e2e })), ...this.#known.filter((k) => !live.some((r) => r.ss58 === k.ss58))]
    tbody.replaceChildren(...rows.map((r) => {
      const state = this.state(r.ss58)
      const tr = el('tr')
      tr.dataset['ss58'] = r.ss58
      tr.dataset['state'] = state
      const why = this.#probeError.get(r.ss58)
      if (why !== undefined) tr.dataset['probeError'] = why
      const ms = peer?.rtt(r.peerId) ?? this.#rtt.get(r.ss58)
      const transport = state === 'disconnected' || state === 'connecting' ? '' : peer?.transportTo(r.peerId) ?? ''
      const enc = r.e2e === undefined ? undefined : encryptionOf(r.e2e)
      if (r.e2e !== undefined) tr.dataset['e2e'] = String(r.e2e)
      const blocked = this.#blocks.isBlocked(r.ss58)
      if (blocked) tr.dataset['blocked'] = 'true'
      tr.append(
        el('td', { className: 'mono' }, r.ss58),
        el('td', { className: 'mono', title: r.peerId }, short(r.peerId)),
        el('td', {}, transport),
        el('td', {}, state === 'connected' ? (ms === undefined ? '…' : `${ms.toFixed(1)} ms`) : ''),
        el('td', {}, el('span', { className: `state state-${state.replace(' ', '-')}` }, state), blocked ? el('span', { className: 'state state-blocked', title: 'blocked in Settings: what it sends is refused' }, ' · blocked') : ''),
        el('td', enc === undefined ? {} : { title: enc.title, className: r.e2e === true ? 'e2e-on' : 'e2e-off' }, enc?.text ?? ''))
      const actions = el('td')
      const k = this.#known.find((x) => x.ss58 === r.ss58)
      if (k !== undefined && state === 'disconnected') {
        actions.append(button('Reconnect', 'reconnect', () => { this.#connect(k.addrs) }), ' ',
          button('Forget', 'forget', () => { this.forget(k.ss58) }))
      }
      if (k !== undefined && state === 'connected') actions.append(button('Share', 'share', () => { this.#share(k.ss58, k.addrs) }))
      if (!blocked && state !== 'disconnected') actions.append(' ', button('Block', 'block', () => { this.#blocks.block(r.ss58) }))
      for (const b of actions.querySelectorAll('button')) b.setAttribute('aria-label', `${b.textContent ?? ''} ${r.ss58}`)
      tr.append(actions)
      return tr
    }))
  }
}

/** "connecting (webtransport, then webrtc-direct)…" */
export function connectingText (addrs: string[]): string {
  return `connecting (${orderByTransport(addrs).map(transportOfAddr).join(', then ')})…`
}
