/**
 * WebTransport listening for the Node peer's package, run under Deno: the stock
 * `@libp2p/webtransport` dialer in a browser reaches the same peer (one PeerId, one
 * handshake, ACL and protocols) that serves QUIC, TCP, WebRTC-Direct and WebSockets.
 *
 * @packageDocumentation
 */
import { createWebTransportListenerTransport } from './transport.ts'
import type { WebTransportListenerComponents, WebTransportListenerInit } from './transport.ts'
import type { Transport } from '@libp2p/interface'

export { certificateSet, certhashString, fileCertificateStore, generateCertificate, memoryCertificateStore, reportedCerthashes } from './certificates.ts'
export type { CertificateSet, CertificateSetOptions, CertificateStore, WebTransportCert } from './certificates.ts'
export { denoQuic } from './deno.ts'
export type { DenoFfi, DenoQuicApi } from './deno.ts'
export { growUdpBuffers, udpSocketInodes } from './socket-buffers.ts'
export type { UdpBufferResult } from './socket-buffers.ts'
export { authenticateSession, checkSessionUrl, webTransportSuffix } from './transport.ts'
export type { WebTransportListenerComponents, WebTransportListenerInit } from './transport.ts'
export { WebTransportProtocolError, WebTransportUnavailableError } from './errors.ts'
export { decodeVarint, encodeVarint, parseStreamHeader } from './stream-header.ts'
export { HandshakeMessageStream } from './handshake-stream.ts'
export type { SessionStream } from './session.ts'

/**
 * A libp2p transport that listens for WebTransport (Deno with `--unstable-net` only;
 * elsewhere creating its listener throws `WebTransportUnavailableError`). It never dials.
 */
export function webTransportListener (init: WebTransportListenerInit): (components: WebTransportListenerComponents) => Transport {
  return createWebTransportListenerTransport(init)
}
