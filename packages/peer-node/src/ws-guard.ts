/**
 * The WebSockets listener's HTTP stage, bounded. `@libp2p/websockets` takes every TCP
 * socket into a raw `net.Server` and waits, with no deadline, for its first byte and then
 * its HTTP upgrade request; only an upgraded socket becomes a libp2p connection that the
 * connection gater and the upgrade limits see. A probe held ~20,000 half-finished upgrade
 * requests open and took the listener to its file-descriptor limit, after which every new
 * connection failed. Here each socket that has not finished its upgrade counts against its
 * source (IPv4 address, IPv6 /64) and against a total, is closed at once beyond either,
 * and is closed when it has not upgraded within a deadline; Node's own HTTP header and
 * request timeouts are set to the same deadline. New sockets over the per-IP connection
 * rate are reset before the listener reads them, as on the TCP listener (`tcp-guard.ts`).
 *
 * @packageDocumentation
 */
import { webSockets } from '@libp2p/websockets'
import { sourceOfAddr } from '@subwire/shared/protocol'
import { admitSocket, guardServer } from './tcp-guard.ts'
import type { SocketGuard } from './tcp-guard.ts'
import type { Logger } from '@libp2p/interface'
import type { Socket } from 'node:net'

/** Bounds on WebSockets sockets that have not finished their HTTP upgrade. */
export interface WebSocketGuardInit {
  /**
   * Such sockets from one source (IPv4 address, IPv6 /64); more are closed at once.
   *
   * @default 16
   */
  maxPendingPerIp?: number
  /**
   * Such sockets in all; more are closed at once.
   *
   * @default 512
   */
  maxPending?: number
  /**
   * A socket that has not finished its upgrade within this many ms is closed.
   *
   * @default 10000
   */
  upgradeTimeoutMs?: number
}

type WebSocketsFactory = ReturnType<typeof webSockets>
type Transport = ReturnType<WebSocketsFactory>
type Listener = ReturnType<Transport['createListener']>

/**
 * `@libp2p/websockets` with its HTTP stage bounded (see the module comment), and new
 * sockets over their source's connection rate (`guard`) reset at once. A listener that is not the
 * expected shape is logged and left as shipped.
 */
export function guardedWebSockets (init: WebSocketGuardInit = {}, log?: Logger, guard?: SocketGuard): WebSocketsFactory {
  const warned = { warned: -Infinity }
  const perIp = init.maxPendingPerIp ?? 16
  const total = init.maxPending ?? 512
  const deadline = init.upgradeTimeoutMs ?? 10_000
  let pending = 0
  const bySource = new Map<string, number>()
  const timers = new Map<Socket, ReturnType<typeof setTimeout>>()
  const sources = new Map<Socket, string>()

  const settle = (socket: Socket): void => {
    const source = sources.get(socket)
    if (source === undefined) return
    sources.delete(socket)
    clearTimeout(timers.get(socket))
    timers.delete(socket)
    pending--
    const n = (bySource.get(source) ?? 1) - 1
    if (n <= 0) bySource.delete(source); else bySource.set(source, n)
  }
  const close = (socket: Socket, why: string): void => {
    log?.('closing a WebSockets socket from %s: %s', socket.remoteAddress, why)
    socket.on('error', () => {}) // the listener's own handler may not be attached yet
    socket.destroy(new Error(why))
  }
  const onSocket = (socket: Socket): boolean => {
    if (guard !== undefined && !admitSocket(guard, socket, 'WebSockets', warned)) return false
    const source = sourceOfAddr(socket.remoteAddress, 'unknown')
    const mine = bySource.get(source) ?? 0
    if (mine >= perIp || pending >= total) {
      close(socket, mine >= perIp ? `${mine} sockets from ${source} are still in their WebSockets upgrade (at most ${perIp})` : `${pending} sockets are still in their WebSockets upgrade (at most ${total})`)
      return false
    }
    bySource.set(source, mine + 1)
    sources.set(socket, source)
    pending++
    const timer = setTimeout(() => {
      if (!sources.has(socket)) return
      settle(socket)
      close(socket, `no WebSockets upgrade within ${deadline} ms`)
    }, deadline)
    timer.unref()
    timers.set(socket, timer)
    socket.once('close', () => { settle(socket) })
    return true
  }
  const bounded = (listener: Listener): Listener => {
    guardServer(listener, onSocket, 'WebSockets', log)
    const listen = listener.listen.bind(listener)
    listener.listen = async (ma) => {
      await listen(ma)
      // an upgraded socket is a libp2p connection from here on: the gater and upgrade limits take over
      const http = (listener as unknown as { http?: { on: (e: 'upgrade', f: (req: unknown, socket: Socket) => void) => void } }).http
      http?.on('upgrade', (_req, socket) => { settle(socket) })
    }
    return listener
  }
  return (components) => {
    const t = webSockets({ http: { headersTimeout: deadline, requestTimeout: deadline, connectionsCheckingInterval: Math.min(1000, deadline) } })(components)
    const create = t.createListener.bind(t)
    t.createListener = (options) => bounded(create(options))
    return t
  }
}
