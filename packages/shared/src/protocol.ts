/**
 * `@subwire/shared/protocol`: the protocol's machinery, for the peer packages, tools and
 * tests that speak the wire directly. What an application needs is in `@subwire/shared`;
 * this entry point follows the protocol (docs/PROTOCOL.md) and may change with it.
 *
 * - Framing: the MessagePack codec, the frame decoder, the field readers of decoded frames
 *   and {@link FramedStream}.
 * - RPC: {@link RpcClient}, {@link RpcServer}, the frame kinds and the channel refusal.
 * - The handshake frames, the attestation layout and the hotkey record layout.
 * - The discovery and fan-out parts ({@link Discovery}, {@link FanOut}).
 * - Files: {@link FileSender}, {@link FileReceiver}, manifests on the wire, roots,
 *   resume keys and the on-disk check.
 * - Encryption: envelopes, the stream cipher and its derivations, the keyring.
 *
 * @packageDocumentation
 */
export { encodeValue, decodeValue, encodeFrame, FrameDecoder } from './wire/codec.ts'
export { asRecord, uintField, stringField, bytesField } from './wire/fields.ts'
export { FramedStream } from './wire/framed-stream.ts'
export type { FramedStreamInit } from './wire/framed-stream.ts'

export { FrameKind, refuseChannel } from './rpc/frames.ts'
export { RpcClient } from './rpc/client.ts'
export { RpcServer } from './rpc/server.ts'
export type { RpcServerInit } from './rpc/server.ts'
export type { RequestSealer, RequestOpener, RequestLimiter } from './rpc/types.ts'
export type { ServedRequest } from './rpc/server.ts'

export { initiateHandshake, respondHandshake } from './auth/handshake.ts'
export type { Hello, HandshakeResult, AttestationVerifier } from './auth/handshake.ts'
export { encodeAttestation, decodeAttestation, SignatureCache } from './identity/attestation.ts'
export { encodeHotkeyRecord, decodeHotkeyRecord, hotkeyRecordFromValue } from './discovery/record.ts'
export { providerCid } from './discovery/kad.ts'
export { Discovery } from './discovery/discovery.ts'
export type { DiscoveryComponents, DiscoveryInit } from './discovery/discovery.ts'
export { FanOut, classifyFailure, quantile } from './fanout/fanout.ts'
export type { FanOutComponents, MemberCall } from './fanout/fanout.ts'
export { mergeAddrs } from './auth/address-book.ts'
export { ipOfMultiaddr } from './auth/acl.ts'
export { parseDestination } from './auth/destination.ts'
export type { Destination } from './auth/destination.ts'

export { FileSender, sendFileOverStream } from './files/sender.ts'
export { FileReceiver, receiveFileOverStream } from './files/receiver.ts'
export type { ReceiveFileInit } from './files/receiver.ts'
export { FolderReceiver, FolderRegistry } from './files/folder-receiver.ts'
export type { FolderSession, ReceiveFolderInit } from './files/folder-receiver.ts'
export { FolderSender } from './files/folder-sender.ts'
export type { FolderSenderComponents } from './files/folder-sender.ts'
export { folderFromWire, folderKey, folderRoot, folderToWire, safeFolderPaths } from './files/folder.ts'
export { chunkCount, chunkLength, contentKey, fileRoot, manifestToWire, manifestFromWire, transferKey, verifyChunksOnDisk } from './files/manifest.ts'
export { bytesToHex } from './bytes.ts'
export { blake3BackendName, releaseHasher, takeHasher, useBlake3, wasmBlake3 } from './files/hash.ts'
export type { Blake3Backend, Blake3Hasher } from './files/hash.ts'

export { E2E_DOMAIN, X25519_BYTES, E2E_TAG_BYTES, E2ePurpose, e2eInfo, StreamCipher, deriveStreamCipher, envelopeFromWire, sealEnvelope, openEnvelope, replyCipher, fileDataCipher } from './encryption/envelope.ts'
export type { E2ePurposeValue, E2eContext, Envelope, SealState, KeyLookup } from './encryption/envelope.ts'
export { EncryptionKeyring } from './encryption/keyring.ts'

export { throwIfAborted } from './abort.ts'
export { markRemote, WIRE_NAMES } from './errors/index.ts'
export type { WireError } from './errors/index.ts'
export { verifyingSource } from './outbox/sources.ts'
export { readPayload } from './outbox/payload.ts'
export { sourceOfAddr } from './auth/upgrades.ts'
export { deliveryKey } from './outbox/store.ts'
export { backoffDelay, validateBackoff } from './outbox/backoff.ts'
