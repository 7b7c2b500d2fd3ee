/**
 * The Node peer's transports, in a module of their own so that the CLI can name them
 * without loading libp2p.
 *
 * @packageDocumentation
 */

/**
 * Transports a Node peer can use: QUIC and TCP between servers; WebRTC-Direct and
 * WebSockets are listened on for browsers. `webtransport` listens for browsers too, but
 * only when the peer runs under Deno (Node has no HTTP/3 server).
 */
export type NodeTransport = 'quic' | 'tcp' | 'webrtc-direct' | 'ws' | 'webtransport'

/** The transports on by default, in order of preference (WebTransport is asked for explicitly). */
export const NODE_TRANSPORTS: readonly NodeTransport[] = ['quic', 'tcp', 'webrtc-direct', 'ws']
