/**
 * What the engine knows of an authenticated connection: the facts the handshake
 * established, and nothing of the protocols that run over it.
 *
 * @packageDocumentation
 */
import type { Attestation } from '../identity/attestation.ts'
import type { RemotePeer } from '../types.ts'
import type { Connection } from '@libp2p/interface'

/** An authenticated connection. */
export interface Session {
  /** The libp2p connection. */
  readonly connection: Connection
  /** Subnets whose protocols this remote may open here (firewall). */
  readonly admitted: ReadonlySet<number>
  /** The remote as reported to the application. */
  readonly remote: RemotePeer
  /** The remote's verified attestation. */
  readonly attestation: Attestation
  /** Requests we may keep in flight at the remote: its announced limit, capped. */
  readonly maxConcurrent: number
  /** The addresses the remote announced in its hello (not yet dialled, so not trusted as reachable). */
  readonly addrs: readonly string[]
}
