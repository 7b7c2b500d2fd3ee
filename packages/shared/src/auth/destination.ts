/**
 * The one parser of destinations, shared by the engine and the outbox: a multiaddr that
 * ends in `/p2p/<PeerId>`, or an SS58 address.
 *
 * @packageDocumentation
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidDestinationError } from '../errors/index.ts'
import { isSs58 } from '../identity/ss58.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A parsed destination. */
export type Destination =
  | { kind: 'multiaddr', multiaddr: Multiaddr, peerId: string }
  | { kind: 'ss58', ss58: string }

/** Parses a destination, or throws `InvalidDestinationError` saying what is wrong with it. */
export function parseDestination (dest: string): Destination {
  // a request loop names the same destination each time: parsing its multiaddr and PeerId
  // again was about a tenth of the local API's peer in a profile (1 KiB calls, 32 in flight)
  const known = parsed.get(dest)
  if (known !== undefined) return known
  const result = Object.freeze(parseAnew(dest))
  if (parsed.size >= PARSED_CACHE_SIZE) parsed.delete(parsed.keys().next().value as string)
  parsed.set(dest, result)
  return result
}

/** Destinations parsed lately (only valid ones: a bad one throws every time). */
const parsed = new Map<string, Destination>()

/** How many parsed destinations {@link parseDestination} keeps. */
const PARSED_CACHE_SIZE = 1024

function parseAnew (dest: string): Destination {
  if (dest.startsWith('/')) {
    let ma: Multiaddr
    try {
      ma = multiaddr(dest)
    } catch (err) {
      throw new InvalidDestinationError(`"${dest}" is not a valid multiaddr: ${(err as Error).message}`)
    }
    const peerId = peerIdOf(ma)
    if (peerId === undefined) throw new InvalidDestinationError(`Multiaddr "${dest}" must end in /p2p/<PeerId>`)
    try {
      peerIdFromString(peerId)
    } catch (err) {
      throw new InvalidDestinationError(`"${peerId}" in "${dest}" is not a valid PeerId (truncated?): ${(err as Error).message}`)
    }
    return { kind: 'multiaddr', multiaddr: ma, peerId }
  }
  if (isSs58(dest)) return { kind: 'ss58', ss58: dest }
  throw new InvalidDestinationError(`"${dest}" is neither a multiaddr ending in /p2p/<PeerId> nor an SS58 address`)
}

/** True if `dest` (already parsed once) names this authenticated peer. */
export function destinationIs (dest: string, peer: { ss58: string, peerId: string }): boolean {
  return dest === peer.ss58 || dest.endsWith(`/p2p/${peer.peerId}`)
}

/** The PeerId of the last `/p2p/` component of a multiaddr. */
export function peerIdOf (ma: Multiaddr): string | undefined {
  const components = ma.getComponents()
  for (let i = components.length - 1; i >= 0; i--) {
    const c = components[i]
    if (c?.name === 'p2p') return c.value
  }
  return undefined
}

/** The multiaddr without its `/p2p/` components. */
export function stripPeerId (ma: Multiaddr): Multiaddr {
  const components = ma.getComponents().filter((c) => c.name !== 'p2p')
  return multiaddr(components.map((c) => c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`).join(''))
}

/** False for wildcard and relayed addresses, which are not worth remembering. */
export function isDialable (addr: string): boolean {
  return !addr.includes('/ip4/0.0.0.0/') && !addr.includes('/ip6/::/') && !addr.includes('/p2p-circuit')
}
