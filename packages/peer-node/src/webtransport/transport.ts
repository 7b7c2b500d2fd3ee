/**
 * The WebTransport listener transport (Deno): browsers running the stock
 * `@libp2p/webtransport` dialer connect to it unchanged.
 *
 * Per session, following the libp2p WebTransport spec: HTTP/3 CONNECT to
 * `/.well-known/libp2p-webtransport?type=noise`; the dialer opens the first bidirectional
 * stream and runs Noise XX on it as initiator; we answer as responder with our certhashes
 * in the Noise extensions (the dialer checks the ones it used are among them); the
 * stream is then closed and every further bidirectional stream is one libp2p stream.
 *
 * @packageDocumentation
 */
import { InvalidMultiaddrError, serviceCapabilities, transportSymbol, TypedEventEmitter } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { getThinWaistAddresses } from '@libp2p/utils'
import { raceSignal } from 'race-signal'
import { multiaddr } from '@multiformats/multiaddr'
import { WebTransport as WebTransportMatcher } from '@multiformats/multiaddr-matcher'
import { WebTransportProtocolError, WebTransportUnavailableError } from './errors.ts'
import { WEBTRANSPORT_HANDSHAKE_TIMEOUT_MS, WEBTRANSPORT_MAX_STREAMS, WEBTRANSPORT_PATH, WEBTRANSPORT_UDP_BUFFER_BYTES } from '../constants.ts'
import { certhashString, certificateSet, reportedCerthashes } from './certificates.ts'
import { denoQuic } from './deno.ts'
import { growUdpBuffers } from './socket-buffers.ts'
import { SessionMultiaddrConnection } from './connection.ts'
import { HandshakeMessageStream } from './handshake-stream.ts'
import { webTransportMuxer } from './muxer.ts'
import { WebTransportSession } from './session.ts'
import type { SessionStream } from './session.ts'
import type { CertificateSet, CertificateStore } from './certificates.ts'
import type { DenoQuicApi, DenoQuicConn, DenoQuicEndpoint, DenoQuicIncoming, DenoQuicListener } from './deno.ts'
import type { ComponentLogger, ConnectionGater, CreateListenerOptions, Listener, ListenerEvents, Logger, PeerId, PrivateKey, Transport, Upgrader, Connection, Metrics } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Components the transport takes from libp2p. */
export interface WebTransportListenerComponents {
  peerId: PeerId
  privateKey: PrivateKey
  logger: ComponentLogger
  connectionGater: ConnectionGater
  upgrader: Upgrader
  metrics?: Metrics
}

/** Options of {@link webTransportListener}. */
export interface WebTransportListenerInit {
  /** Where certificates are kept (the home's `webtransport-certs.json`, or memory). */
  certificates: CertificateStore
  /** Clock, for tests of rotation (default `Date.now`). */
  now?: () => number
  /** Certificate validity and rotation period (defaults: 12 and 6 days). */
  validityMs?: number
  rotateMs?: number
  /** Deno's QUIC API (default: `globalThis.Deno`). */
  deno?: DenoQuicApi
}

/** `/quic-v1/webtransport/certhash/<current>/certhash/<next>` for a set. */
export function webTransportSuffix (set: CertificateSet): string {
  return `/quic-v1/webtransport/certhash/${certhashString(set.current.hash)}/certhash/${certhashString(set.next.hash)}`
}

/** Throws unless `url` is the libp2p WebTransport endpoint with Noise. */
export function checkSessionUrl (url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new WebTransportProtocolError(`bad CONNECT URL ${JSON.stringify(url)}`, { cause: err })
  }
  if (parsed.pathname !== WEBTRANSPORT_PATH || parsed.searchParams.get('type') !== 'noise') {
    throw new WebTransportProtocolError(`CONNECT to ${parsed.pathname}${parsed.search}, expected ${WEBTRANSPORT_PATH}?type=noise`)
  }
}

/**
 * The responder's side of the libp2p WebTransport handshake on the session's first
 * stream: Noise XX with `certhashes` in the extensions (the dialer checks the hashes it
 * dialled are among them), then our side of the stream is closed. Resolves with the
 * dialer's verified PeerId.
 */
export async function authenticateSession (first: SessionStream, components: Pick<WebTransportListenerComponents, 'privateKey' | 'peerId' | 'logger'>, certhashes: Uint8Array[], signal: AbortSignal): Promise<PeerId> {
  const messages = new HandshakeMessageStream(first, components.logger.forComponent('subwire:webtransport:noise'))
  const n = noise({ extensions: { webtransportCerthashes: certhashes } })(components as never)
  const { remotePeer } = await n.secureInbound(messages, { signal, skipStreamMuxerNegotiation: true })
  await messages.close({ signal })
  return remotePeer
}

class DenoWebTransportListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  readonly #components: WebTransportListenerComponents
  readonly #init: WebTransportListenerInit
  readonly #deno: DenoQuicApi
  readonly #upgrader: Upgrader
  readonly #log: Logger
  #endpoint: DenoQuicEndpoint | undefined
  #quic: DenoQuicListener | undefined
  #listenAddr: Multiaddr | undefined
  #set: CertificateSet | undefined
  #rotation: ReturnType<typeof setTimeout> | undefined
  readonly #sessions = new Set<WebTransportSession>()
  #closing = false

  constructor (components: WebTransportListenerComponents, init: WebTransportListenerInit, deno: DenoQuicApi, options: CreateListenerOptions) {
    super()
    this.#components = components
    this.#init = init
    this.#deno = deno
    this.#upgrader = options.upgrader
    this.#log = components.logger.forComponent('subwire:webtransport:listener')
  }

  async listen (ma: Multiaddr): Promise<void> {
    const { host, port } = hostPort(ma)
    this.#set = await this.#certificates()
    this.#endpoint = new this.#deno.QuicEndpoint({ hostname: host, port })
    this.#sizeSocketBuffers(this.#endpoint.addr.port)
    this.#listenAddr = ma
    this.#serve()
    this.#scheduleRotation()
    this.#log('listening on %s:%d', host, this.#endpoint.addr.port)
    this.safeDispatchEvent('listening')
  }

  /** Grows the UDP socket's kernel buffers (see socket-buffers.ts); says so when it cannot. */
  #sizeSocketBuffers (port: number): void {
    const wanted = WEBTRANSPORT_UDP_BUFFER_BYTES
    const result = growUdpBuffers(this.#deno, port, wanted)
    if (!result.ok) {
      this.#log.error('could not grow the UDP socket buffers (%s): fast uploads may lose datagrams; raise net.core.rmem_default instead', result.reason)
    } else if (result.receiveBytes < 2 * wanted) {
      // the kernel reports twice what it keeps of a request; less than twice `wanted` means it was capped
      this.#log.error('the UDP receive buffer is capped at %d bytes by net.core.rmem_max; fast uploads may lose datagrams (sysctl -w net.core.rmem_max=%d)', result.receiveBytes / 2, wanted)
    } else {
      this.#log('UDP socket buffers: receive %d, send %d bytes', result.receiveBytes, result.sendBytes)
    }
  }

  async #certificates (): Promise<CertificateSet> {
    const { now, validityMs, rotateMs } = this.#init
    return await certificateSet(this.#init.certificates, {
      ...(now === undefined ? {} : { now }),
      ...(validityMs === undefined ? {} : { validityMs }),
      ...(rotateMs === undefined ? {} : { rotateMs })
    })
  }

  /** (Re)starts accepting with the current certificate; live sessions are kept. */
  #serve (): void {
    const endpoint = this.#endpoint
    const set = this.#set
    if (endpoint === undefined || set === undefined) return
    this.#quic?.stop()
    const quic = endpoint.listen({
      cert: set.current.cert,
      key: set.current.key,
      alpnProtocols: ['h3'],
      maxConcurrentBidirectionalStreams: WEBTRANSPORT_MAX_STREAMS,
      // no server keep-alive: a connection the browser left (see #replaceOlderSessions)
      // then ends after 30 s idle; live sessions carry libp2p's 10 s pings
      maxIdleTimeout: 30_000
    })
    this.#quic = quic
    void (async () => {
      for (;;) {
        let incoming: DenoQuicIncoming
        try {
          incoming = await quic.incoming()
        } catch (err) {
          if (this.#quic === quic && !this.#closing) this.#log.error('accept failed: %e', err)
          return
        }
        void this.#onIncoming(incoming)
      }
    })()
  }

  #scheduleRotation (): void {
    clearTimeout(this.#rotation)
    const set = this.#set
    if (set === undefined || this.#closing) return
    const now = (this.#init.now ?? Date.now)()
    const delay = Math.min(Math.max(0, set.rotateAt - now), 2 ** 31 - 1)
    this.#rotation = setTimeout(() => { void this.rotate() }, delay)
    // never keeps the process alive on its own
    ;(this.#rotation as { unref?: () => void }).unref?.()
  }

  /**
   * Moves to the next certificate when it is due: serves it, announces it with a new next
   * one, and tells libp2p the addresses changed. Live sessions are not touched.
   */
  async rotate (): Promise<void> {
    if (this.#closing) return
    const before = this.#set
    this.#set = await this.#certificates()
    if (before === undefined || before.current.cert !== this.#set.current.cert) {
      this.#log('serving a new certificate %s', certhashString(this.#set.current.hash))
      this.#serve()
      this.safeDispatchEvent('listening')
    }
    this.#scheduleRotation()
  }

  async #onIncoming (incoming: DenoQuicIncoming): Promise<void> {
    // Deno 2.9.6: reading QuicIncoming.remoteAddr consumes the incoming connection (accept
    // then fails with BadResource), so the IP gate runs right after the QUIC handshake, on
    // the connection's address, before HTTP/3 and Noise cost anything
    let conn: DenoQuicConn
    try {
      conn = await incoming.accept()
    } catch (err) {
      this.#log('QUIC handshake failed: %e', err)
      return
    }
    const refuse = (): void => { try { conn.close({ closeCode: 0, reason: 'refused' }) } catch {} }
    const { hostname, port } = conn.remoteAddr
    const remoteAddr = multiaddr(`/${hostname.includes(':') ? 'ip6' : 'ip4'}/${hostname}/udp/${port}/quic-v1/webtransport`)
    if (await this.#denied(remoteAddr)) {
      refuse()
      return
    }
    const signal = AbortSignal.timeout(WEBTRANSPORT_HANDSHAKE_TIMEOUT_MS)
    let session: WebTransportSession | undefined
    try {
      const wt = await raceSignal(this.#deno.upgradeWebTransport(conn), signal)
      // it rejects when the connection ends with an error (idle timeout): not a crash
      wt.closed.catch(() => {})
      session = new WebTransportSession(conn, wt, this.#log)
      checkSessionUrl(wt.url)
      this.#sessions.add(session)
      const s = session
      void session.closed.then(() => { this.#sessions.delete(s) })
      const remotePeer = await this.#authenticate(session, signal)
      const maConn = new SessionMultiaddrConnection(session, {
        remoteAddr,
        direction: 'inbound',
        log: this.#components.logger.forComponent('subwire:webtransport:connection')
      })
      await this.#upgrader.upgradeInbound(maConn, {
        skipEncryption: true,
        skipProtection: true,
        remotePeer,
        muxerFactory: webTransportMuxer(session),
        signal
      })
      this.#replaceOlderSessions(session, remotePeer)
    } catch (err) {
      this.#log('session from %s refused: %e', remoteAddr, err)
      if (session !== undefined) session.close('refused')
      else refuse()
    }
  }

  /** The connection gater's IP verdict; a gater that throws denies (fail closed). */
  async #denied (remoteAddr: Multiaddr): Promise<boolean> {
    try {
      return await this.#components.connectionGater.denyInboundConnection?.({ remoteAddr } as never) === true
    } catch (err) {
      this.#log.error('gater failed: %e', err)
      return true
    }
  }

  /**
   * A browser that closes a WebTransport session and dials again keeps the old QUIC
   * connection open, and Deno 2.9.6 does not read the CONNECT stream, so the close never
   * reaches us: libp2p would go on opening streams on a session the browser has left
   * (they hang until the idle timeout). A new session from the same PeerId therefore
   * replaces the older ones: one browser page, one session.
   */
  #replaceOlderSessions (session: WebTransportSession, remotePeer: PeerId): void {
    session.remotePeer = remotePeer.toString()
    for (const other of this.#sessions) {
      if (other !== session && other.remotePeer === session.remotePeer) {
        this.#log('a new session from %p replaces an older one', remotePeer)
        other.close('replaced by a newer session')
      }
    }
  }

  /** Noise XX as responder on the first stream, our certhashes in the extensions. */
  async #authenticate (session: WebTransportSession, signal: AbortSignal): Promise<PeerId> {
    const set = this.#set
    if (set === undefined) throw new WebTransportProtocolError('listener is not running')
    const first = await session.nextStream({ signal })
    return await authenticateSession(first, this.#components, reportedCerthashes(set), signal)
  }

  getAddrs (): Multiaddr[] {
    if (this.#endpoint === undefined || this.#set === undefined || this.#listenAddr === undefined) return []
    const suffix = webTransportSuffix(this.#set)
    const base = multiaddr(this.#listenAddr.toString().replace(/\/quic-v1\/webtransport.*$/, ''))
    return getThinWaistAddresses(base, this.#endpoint.addr.port).map((ma) => ma.encapsulate(suffix))
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    this.#closing = true
    clearTimeout(this.#rotation)
    this.#quic?.stop()
    for (const s of this.#sessions) s.close('shutdown')
    this.#sessions.clear()
    try { this.#endpoint?.close() } catch {}
    this.#endpoint = undefined
    this.safeDispatchEvent('close')
  }
}

class DenoWebTransportTransport implements Transport {
  readonly #components: WebTransportListenerComponents
  readonly #init: WebTransportListenerInit

  constructor (components: WebTransportListenerComponents, init: WebTransportListenerInit) {
    this.#components = components
    this.#init = init
  }

  readonly [Symbol.toStringTag] = '@subwire/webtransport-listener'
  readonly [transportSymbol] = true
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']

  async dial (): Promise<Connection> {
    // dialFilter returns nothing, so libp2p never calls this
    throw new WebTransportUnavailableError('This transport only listens; servers reach each other over QUIC')
  }

  createListener (options: CreateListenerOptions): Listener {
    const deno = this.#init.deno ?? denoQuic()
    if (deno === undefined) throw new WebTransportUnavailableError()
    return new DenoWebTransportListener(this.#components, this.#init, deno, options)
  }

  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter((ma) => WebTransportMatcher.exactMatch(ma) && !ma.toString().includes('/certhash/'))
  }

  dialFilter (): Multiaddr[] { return [] }
}

/** The libp2p transport factory. */
export function createWebTransportListenerTransport (init: WebTransportListenerInit): (components: WebTransportListenerComponents) => Transport {
  return (components) => new DenoWebTransportTransport(components, init)
}

function hostPort (ma: Multiaddr): { host: string, port: number } {
  const parts = ma.getComponents()
  const ip = parts.find((c) => c.name === 'ip4' || c.name === 'ip6')
  const udp = parts.find((c) => c.name === 'udp')
  if (ip?.value === undefined || udp?.value === undefined) throw new InvalidMultiaddrError(`${ma.toString()} is not /ip4|ip6/…/udp/…/quic-v1/webtransport`)
  return { host: ip.value, port: Number(udp.value) }
}
