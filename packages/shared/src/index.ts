/**
 * `@subwire/shared`: the subwire protocol, isomorphic (Web APIs only, no `node:*`, no DOM).
 *
 * - Identity: the {@link Signer} interface, SS58, strict sr25519 over `u8aWrapBytes`.
 * - Attestation: a hotkey's signature binding it to a libp2p PeerId, in one canonical layout.
 * - Handshake `/subwire/auth/1.0.0`: once per connection, both sides verified.
 * - Framing: length-prefixed MessagePack with the size checked at the header.
 * - RPC `/subwire/sn/<netuid>/rpc/1.0.0` and messages `/subwire/sn/<netuid>/msg/1.0.0`,
 *   multiplexed over one long-lived stream per connection and subnet.
 * - {@link Subwire}: the engine that runs all of it on a libp2p node.
 *
 * @example
 * ```ts
 * import { createSubwire, seedSigner } from '@subwire/shared'
 * const subwire = createSubwire({ libp2p, signer: seedSigner(seed) }, { netuids: [42] })
 * await subwire.start()
 * subwire.handle('score', async (body, { caller }) => ({ ok: true, for: caller.ss58 }))
 * const reply = await subwire.request('/ip4/127.0.0.1/udp/4701/quic-v1/p2p/12D3Koo…', 'echo', { x: 1 })
 * ```
 *
 * @packageDocumentation
 */
import { Subwire } from './subwire.ts'
import type { SubwireComponents, SubwireInit } from './types.ts'

export * from './constants.ts'
export * from './errors/index.ts'
export * from './abort.ts'
export * from './identity/ss58.ts'
export * from './identity/signers.ts'
export * from './wire/codec.ts'
export * from './wire/fields.ts'
export * from './identity/attestation.ts'
export * from './auth/handshake.ts'
export * from './wire/framed-stream.ts'
export { FrameKind, refuseChannel } from './rpc/frames.ts'
export * from './rpc/types.ts'
export * from './rpc/client.ts'
export * from './rpc/server.ts'
export * from './auth/address-book.ts'
export { parseDestination } from './auth/destination.ts'
export type { Destination } from './auth/destination.ts'
export * from './files/types.ts'
export { bytesToHex } from './bytes.ts'
export { blake3 } from './files/hash.ts'
export { chunkCount, chunkLength, createManifest, fileRoot, manifestFromWire, manifestToWire, transferKey, verifyChunksOnDisk } from './files/manifest.ts'
export { sanitizeFileName } from './files/names.ts'
export { DiskReservations } from './files/reservations.ts'
export { sendFileOverStream } from './files/sender.ts'
export { receiveFileOverStream } from './files/receiver.ts'
export type { ReceiveFileInit } from './files/receiver.ts'
export * from './encryption/backends.ts'
export * from './encryption/envelope.ts'
export * from './encryption/keyring.ts'
export * from './auth/acl.ts'
export * from './outbox/store.ts'
export * from './outbox/backoff.ts'
export * from './outbox/cipher.ts'
export { Outbox } from './outbox/outbox.ts'
export type * from './outbox/types.ts'
export { verifyingSource } from './outbox/sources.ts'
export { Subwire } from './subwire.ts'
export { SubwirePeer } from './peer.ts'
export type { QueuedItem } from './peer.ts'
export type {
  SubwireComponents,
  SubwireInit,
  SubwireEvents,
  SubwireMessage,
  RemotePeer,
  SendOptions,
  MessageOptions,
  HandleOptions,
  SubwireSendFileOptions,
  EncryptionInit
} from './types.ts'
export type { FloodLimits } from './auth/access.ts'

/** Creates the protocol engine on a libp2p node. Call `start()` after libp2p has started. */
export function createSubwire (components: SubwireComponents, init: SubwireInit): Subwire {
  return new Subwire(components, init)
}
