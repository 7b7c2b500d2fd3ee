/**
 * The interfaces of discovery: where records are stored ({@link RecordRouting}, a DHT the
 * peer package injects), other sources of addresses ({@link HotkeySource}, e.g. the
 * metagraph) and what a resolution returns.
 *
 * @packageDocumentation
 */
import type { AbortOptions } from '../abort.ts'
import type { HotkeyRecord } from './record.ts'

/** Where a resolved address came from. */
export type ResolutionSource = 'connected' | 'address-book' | 'cache' | 'dht' | 'metagraph' | (string & {})

/** A hotkey and where to dial it. */
export interface ResolvedHotkey {
  /** The hotkey. */
  ss58: string
  /** Its PeerId, when the source knows it (the metagraph does not: the handshake proves the hotkey). */
  peerId?: string | undefined
  /** Addresses to dial, without `/p2p/<PeerId>`. */
  multiaddrs: string[]
  /** Which source answered. */
  source: ResolutionSource
  /** For a cached answer, the source it was first found in. */
  via?: ResolutionSource | undefined
  /** When the answer stops being valid (ms since the epoch), if it expires. */
  expiresAt?: number | undefined
  /** The verified record, for answers from the DHT. */
  record?: HotkeyRecord | undefined
  /** Subnets it serves, when known. */
  netuids?: number[] | undefined
  /** Extra facts of the source (the metagraph's stake, validator permit, uid). */
  details?: Record<string, unknown> | undefined
}

/**
 * A DHT (or any key-value routing) the discovery part publishes records in and reads
 * them from. The Node and browser peers inject one over `@libp2p/kad-dht`
 * ({@link kadRecordRouting}); tests can inject a memory one.
 */
export interface RecordRouting {
  /** Stores `value` under `key` at the closest peers; resolves with how many peers took it. */
  put: (key: Uint8Array, value: Uint8Array, options?: AbortOptions) => Promise<number>
  /** The best value under `key` (by the selector), or undefined if nobody has one. */
  get: (key: Uint8Array, options?: AbortOptions) => Promise<Uint8Array | undefined>
  /** Announces this peer as a provider of `key` (subnet membership). */
  provide: (key: Uint8Array, options?: AbortOptions) => Promise<void>
  /** The PeerIds that announced themselves as providers of `key`. */
  providers: (key: Uint8Array, options?: AbortOptions) => AsyncIterable<string>
  /** Peers in the routing table now, if known (discovery waits for the first after dialling the bootstrap peers). */
  readonly peers?: number | undefined
  /** True once `peerId` is in the routing table (discovery waits for its bootstrap peers, not for peers remembered from an earlier run). */
  knows?: (peerId: string) => Promise<boolean>
  /** Asks the routing table to take `peerId` (a bootstrap peer just dialled); it may check the peer first and refuse. */
  add?: (peerId: string, options?: AbortOptions) => Promise<void>
  /** Called once a connection is authenticated, so the routing table can learn the peer (e.g. runs identify on it). */
  authenticated?: (connectionId: string) => void
}

/** Another source of hotkey addresses, asked after the address book and the DHT (the metagraph). */
export interface HotkeySource {
  /** Its name, shown as the resolution's `source`. */
  readonly name: string
  /** Where `ss58` is, or undefined if this source does not know it. */
  resolve: (ss58: string, options?: AbortOptions) => Promise<ResolvedHotkey | undefined>
  /** The members of a subnet this source knows. */
  members?: (netuid: number, options?: AbortOptions) => Promise<ResolvedHotkey[]>
  /** Starts refreshing (if it does). */
  start?: () => void | Promise<void>
  /** Stops refreshing and releases its connections. */
  stop?: () => void | Promise<void>
}
