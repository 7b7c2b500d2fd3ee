/**
 * Inbound TCP sockets over their source's connection rate, refused before libp2p sees them.
 *
 * libp2p applies its per-host inbound rate (`inboundConnectionThreshold`) only after the
 * TCP listener has wrapped the socket as a connection (a stream adapter, a logger, an
 * upgrade with its abort signals and timers) and handed it to the upgrader, which then
 * builds an error to refuse it with. Under a flood of garbage connections from one IP
 * (about 2,200 a second here) that work was the listener's largest cost and raised an
 * authenticated client's p99 about 5x. Here the raw `net.Server`'s sockets are counted
 * per source (IPv4 address, IPv6 /64) in a {@link ConnectionRate}, and a socket over it
 * is reset at once, with no wrapping and no error object; a socket within it goes on to
 * libp2p unchanged, and the connection gater does not count it again (`ratedBelow`).
 *
 * @packageDocumentation
 */
import { Server } from 'node:net'
import { tcp } from '@libp2p/tcp'
import { sourceOfAddr } from '@subwire/shared/protocol'
import type { ConnectionRate } from '@subwire/shared'
import type { Logger } from '@libp2p/interface'
import type { Socket } from 'node:net'

/** Counts what the socket guards refused below libp2p. */
export interface SocketRefusals {
  /** Sockets reset because their source was over its connection rate. */
  overRate: number
}

/** Resets a refused socket: an RST, no FIN handshake and no TIME_WAIT on this side. */
export function refuseSocket (socket: Socket): void {
  socket.on('error', () => {}) // nobody else listens on it
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy() // not a TCP handle (a Unix socket): closed without an RST
  }
}

type TcpFactory = ReturnType<typeof tcp>
type Transport = ReturnType<TcpFactory>
type Listener = ReturnType<Transport['createListener']>

/**
 * Puts `admit` in front of a listener's raw `net.Server`: its `connection` handlers run
 * only for sockets it admits. A listener that is not the expected shape is logged and
 * left as shipped.
 */
export function guardServer<L> (listener: L, admit: (socket: Socket) => boolean, what: string, log?: Logger): L {
  const server = (listener as unknown as { server?: unknown }).server
  if (!(server instanceof Server)) {
    log?.error('the %s listener has no net.Server where expected: its sockets are not guarded (the per-IP rate, and for WebSockets the HTTP stage\'s bounds)', what)
    return listener
  }
  const handlers = server.listeners('connection') as Array<(socket: Socket) => void>
  server.removeAllListeners('connection')
  const guarded = (socket: Socket): void => {
    if (!admit(socket)) return
    for (const h of handlers) h.call(server, socket)
  }
  server.on('connection', guarded)
  // the libraries add their handler when the listener is made; one added later would bypass the guard
  server.once('listening', () => {
    if (server.listenerCount('connection') !== 1) log?.error('the %s listener has %d connection handlers after listen: sockets may bypass the guard', what, server.listenerCount('connection'))
  })
  return listener
}

/** What the socket guards share: the rate, the count of refusals, a logger. */
export interface SocketGuard {
  /** New sockets let in per source. */
  rate: ConnectionRate
  /** Counted here. */
  refusals: SocketRefusals
  /** Told at most once a second. */
  log?: Logger
}

/** True to let the socket in; otherwise it has been reset and counted. */
export function admitSocket (guard: SocketGuard, socket: Socket, what: string, state: { warned: number }): boolean {
  // a socket with no remote IP (a Unix socket, a local listener) is not rated: it comes from this host
  if (socket.remoteAddress === undefined) return true
  if (guard.rate.admit(sourceOfAddr(socket.remoteAddress, 'unknown'))) return true
  guard.refusals.overRate++
  const now = Date.now()
  if (guard.log !== undefined && now - state.warned >= 1000) {
    state.warned = now
    guard.log('resetting %s sockets from %s: over their connection rate (%d refused so far)', what, socket.remoteAddress, guard.refusals.overRate)
  }
  refuseSocket(socket)
  return false
}

/**
 * `@libp2p/tcp` with inbound sockets over their source's rate reset before libp2p wraps
 * them (see the module comment).
 */
export function guardedTcp (guard: SocketGuard): TcpFactory {
  const state = { warned: -Infinity }
  const admit = (socket: Socket): boolean => admitSocket(guard, socket, 'TCP', state)
  const log = guard.log
  return (components) => {
    const t = tcp()(components)
    const create = t.createListener.bind(t)
    t.createListener = (options): Listener => guardServer(create(options), admit, 'TCP', log)
    return t
  }
}
