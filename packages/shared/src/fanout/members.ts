/**
 * A subnet's members as the fan-out sees them: what discovery lists (the DHT's providers
 * with their verified records, the metagraph), and the peers in session here whose verified
 * attestation names the subnet, known at once even when the DHT is slow. Never this peer.
 *
 * @packageDocumentation
 */
import type { AbortOptions } from '../abort.ts'
import type { Discovery } from '../discovery/discovery.ts'
import type { ResolvedHotkey } from '../discovery/types.ts'
import type { RemotePeer } from '../types.ts'

/** What {@link SubnetMembers} is given. */
export interface SubnetMembersComponents {
  /** This peer's hotkey, never listed. */
  self: string
  /** The peers with an authenticated connection now. */
  peers: () => RemotePeer[]
  /** Discovery's listing. */
  discovery: Pick<Discovery, 'members' | 'listMembers'>
}

/** A subnet's members, all at once or as they are found. */
export class SubnetMembers {
  readonly #c: SubnetMembersComponents

  constructor (components: SubnetMembersComponents) {
    this.#c = components
  }

  /** Discovery's members, then the peers in session that serve `netuid`. */
  async all (netuid: number, options: AbortOptions): Promise<ResolvedHotkey[]> {
    const found = await this.#c.discovery.members(netuid, options)
    const known = new Set(found.map((m) => m.ss58))
    for (const m of this.#connected(netuid)) {
      if (known.has(m.ss58)) continue
      known.add(m.ss58)
      found.push(m)
    }
    return found
  }

  /** The same as they are found: the peers in session first (known now), then what discovery lists. */
  async * list (netuid: number, options: AbortOptions): AsyncGenerator<ResolvedHotkey> {
    const seen = new Set<string>()
    for (const m of this.#connected(netuid)) {
      if (seen.has(m.ss58)) continue
      seen.add(m.ss58)
      yield m
    }
    for await (const m of this.#c.discovery.listMembers(netuid, options)) {
      if (m.ss58 !== this.#c.self && !seen.has(m.ss58)) { seen.add(m.ss58); yield m }
    }
  }

  #connected (netuid: number): ResolvedHotkey[] {
    return this.#c.peers()
      .filter((p) => p.ss58 !== this.#c.self && p.netuids.includes(netuid))
      .map((p) => ({ ss58: p.ss58, peerId: p.peerId, multiaddrs: [], source: 'connected', netuids: [...p.netuids] }))
  }
}
