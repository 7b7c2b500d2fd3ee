/**
 * `@libp2p/webrtc`'s WebRTC-Direct transport with its UDP mux listener taken from
 * {@link UdpMuxPool}, so that stopping a peer cannot leave libjuice calling into a freed
 * native listener (the SIGSEGV / `std::system_error` crash; see udp-mux-pool.ts).
 *
 * Written against `@libp2p/webrtc` 6.0.x: it replaces the listener's
 * `startUDPMuxServer(host, port, family)` and throws at `createListener` if that method
 * is gone, rather than silently running the stock (crashing) one.
 *
 * @packageDocumentation
 */
import { isIPv4 } from 'node:net'
import { webRTCDirect } from '@libp2p/webrtc'
import { udpMuxPool } from './udp-mux-pool.ts'
import type { UdpMuxPool } from './udp-mux-pool.ts'
import type { ComponentLogger, Listener, Logger, Transport } from '@libp2p/interface'
import type { WebRTCDirectTransportComponents, WebRTCTransportDirectInit } from '@libp2p/webrtc'

/** ICE ufrag/password: the native stack aborts the process on anything else (as `@libp2p/webrtc` checks). */
const ICE_CREDENTIAL = /^[a-zA-Z0-9+/]{22,256}$/

/** What the stock listener exposes to this module (private in its typings). */
interface StockListener {
  startUDPMuxServer: (host: string, port: number, family: 4 | 6) => MuxServerEntry
  incomingConnection: (ufrag: string, host: string, port: number, signal: AbortSignal & { clear: () => void }) => Promise<void>
  components: { peerId: unknown, upgrader: { createInboundAbortSignal: (signal: AbortSignal) => AbortSignal & { clear: () => void } } }
  shutdownController: AbortController
  log: Logger
}

/** The stock listener's record of a running mux server. */
interface MuxServerEntry {
  peerId: unknown
  owner: unknown
  port: number
  isIPv4: boolean
  isIPv6: boolean
  server: Promise<{ close: () => Promise<void>, address: () => { address: string, family: 'IPv4' | 'IPv6', port: number } }>
}

/** Options of {@link webRTCDirectTransport}: the stock ones, and the pool (default: the process's). */
export interface WebRTCDirectTransportInit extends Partial<WebRTCTransportDirectInit> {
  pool?: UdpMuxPool
}

/** Makes `listener` take its UDP mux from `pool`. */
function poolListener (listener: Listener, pool: UdpMuxPool): Listener {
  const stock = listener as unknown as StockListener
  if (typeof stock.startUDPMuxServer !== 'function' || typeof stock.incomingConnection !== 'function') {
    throw new Error('@libp2p/webrtc changed: its WebRTC-Direct listener has no startUDPMuxServer/incomingConnection to replace')
  }
  stock.startUDPMuxServer = (host, port, family) => {
    const onRequest = (ufrag: string, remoteHost: string, remotePort: number): void => {
      if (!ICE_CREDENTIAL.test(ufrag)) return
      const signal = stock.components.upgrader.createInboundAbortSignal(stock.shutdownController.signal)
      stock.incomingConnection(ufrag, remoteHost, remotePort, signal)
        .catch((err: unknown) => { stock.log.error('error processing incoming STUN request - %e', err) })
        .finally(() => { signal.clear() })
    }
    return {
      peerId: stock.components.peerId,
      owner: listener,
      port,
      isIPv4: family === 4,
      isIPv6: family === 6,
      server: pool.open(host, port, onRequest).then((lease) => ({
        close: async () => { await lease.close() },
        address: () => ({ address: host, family: isIPv4(host) ? 'IPv4' : 'IPv6', port: lease.port })
      }))
    }
  }
  return listener
}

/**
 * WebRTC-Direct (`@libp2p/webrtc`'s `webRTCDirect`) whose listeners survive being stopped
 * and started again in one process.
 */
export function webRTCDirectTransport (init: WebRTCDirectTransportInit = {}): (components: WebRTCDirectTransportComponents & { logger: ComponentLogger }) => Transport {
  const { pool, ...stockInit } = init
  const make = webRTCDirect(stockInit)
  return (components) => {
    const transport = make(components)
    const createListener = transport.createListener.bind(transport)
    transport.createListener = (options) => poolListener(createListener(options), pool ?? udpMuxPool())
    return transport
  }
}
