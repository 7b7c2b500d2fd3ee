/**
 * A subnet's members, as the Node peers this browser is connected to know them: the
 * browser's DHT client (client mode, over its connections) asks them for the subnet's
 * providers and each member's signed hotkey record, and verifies every record itself
 * (signature, expiry, PeerId). Each member is shown with its state here:
 * - `connected`: in session with this browser now (the handshake proved the hotkey);
 * - `reachable`: a verified record names an address a browser can dial;
 * - `unknown`: known (e.g. from the metagraph) but with no address a browser can dial.
 */
import { transportOfAddr } from '@subwire/peer-web'
import { button, el, short } from './ui.ts'
import type { WebPeer } from '@subwire/peer-web'
import type { ResolvedHotkey } from '@subwire/shared'

export type MemberState = 'connected' | 'reachable' | 'unknown'

/** How long one listing may take (the DHT answers within its grace time once a peer answered). */
const LIST_TIMEOUT_MS = 15_000

/** The addresses of a resolved hotkey a browser can dial, each ending in /p2p/<PeerId>. */
export function browserAddrs (found: ResolvedHotkey): string[] {
  return found.multiaddrs
    .filter((a) => transportOfAddr(a) !== 'unknown')
    .map((a) => a.includes('/p2p/') || found.peerId === undefined ? a : `${a}/p2p/${found.peerId}`)
}

export class Members {
  #netuid: number | undefined
  #list: ResolvedHotkey[] = []
  readonly #connect: (m: ResolvedHotkey) => void
  readonly #isBlocked: (ss58: string) => boolean

  constructor (connect: (m: ResolvedHotkey) => void, isBlocked: (ss58: string) => boolean) {
    this.#connect = connect
    this.#isBlocked = isBlocked
  }

  /** Lists `netuid`'s members through the connected Node peers. */
  async load (peer: WebPeer, netuid: number): Promise<void> {
    const found = await peer.members(netuid, { signal: AbortSignal.timeout(LIST_TIMEOUT_MS) })
    // peers in session whose verified attestation names the subnet are members too
    for (const r of peer.peers()) {
      if (r.netuids.includes(netuid) && !found.some((m) => m.ss58 === r.ss58)) found.push({ ss58: r.ss58, peerId: r.peerId, multiaddrs: [], source: 'connected', netuids: r.netuids })
    }
    this.#netuid = netuid
    this.#list = found.sort((a, b) => a.ss58.localeCompare(b.ss58))
  }

  state (peer: WebPeer | undefined, m: ResolvedHotkey): MemberState {
    if (peer?.peers().some((r) => r.ss58 === m.ss58) === true) return 'connected'
    return browserAddrs(m).length > 0 ? 'reachable' : 'unknown'
  }

  render (peer: WebPeer | undefined, tbody: HTMLElement, caption: HTMLElement): void {
    caption.textContent = this.#netuid === undefined ? '' : `${this.#list.length} member(s) of subnet ${this.#netuid}, as the connected Node peers know them (records verified here).`
    tbody.replaceChildren(...this.#list.map((m) => {
      const state = this.state(peer, m)
      const tr = el('tr')
      Object.assign(tr.dataset, { ss58: m.ss58, state })
      const blocked = this.#isBlocked(m.ss58)
      if (blocked) tr.dataset['blocked'] = 'true'
      const source = m.source === 'cache' ? `${m.via ?? 'cache'} (cached)` : m.source
      tr.append(
        el('td', { className: 'mono' }, m.ss58),
        el('td', { className: 'mono', title: m.peerId ?? '' }, m.peerId === undefined ? '' : short(m.peerId)),
        el('td', {}, source),
        el('td', {}, el('span', { className: `state state-${state}` }, state), blocked ? el('span', { className: 'state state-blocked' }, ' · blocked') : ''))
      const actions = el('td')
      if (state === 'reachable' && !blocked) {
        const b = button('Connect', 'member-connect', () => { this.#connect(m) })
        b.setAttribute('aria-label', `Connect to ${m.ss58}`)
        actions.append(b)
      }
      tr.append(actions)
      return tr
    }))
  }
}
