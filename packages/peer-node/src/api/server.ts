/**
 * The local API server of a running peer: by default on the owner-only Unix socket
 * `<home>/api.sock` (0600, in the 0700 home), and on a TCP address only when asked for,
 * then with the bearer token of `<home>/api.token`. Both carry the framed protocol
 * (length-prefixed MessagePack, many operations in flight per connection) and, on the
 * same socket, the HTTP/JSON surface for one-shot operations.
 *
 * @packageDocumentation
 */
import { chmod, unlink } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { join } from 'node:path'
import { InvalidConfigError } from '@subwire/shared'
import { API_SOCKET_FILE, API_TOKEN_FILE, API_VERSION } from './constants.ts'
import { ApiConnection } from './connection.ts'
import { EventHub } from './events.ts'
import { HandlerRegistry } from './handlers.ts'
import { createHttpSurface } from './http.ts'
import { clientOperations, identityOperations, rpcOperations } from './operations.ts'
import { transferOperations } from './transfers.ts'
import { aclOperations } from './acl.ts'
import { loadOrCreateApiToken } from './tokens.ts'
import type { Operation } from './connection.ts'
import type { NodePeer } from '../node-peer.ts'
import type { Server, Socket } from 'node:net'

/** Where the API listens. */
export interface ApiServerInit {
  /** The peer's home: the socket and the token live there. */
  home: string
  /** Serve `<home>/api.sock` (default true). */
  socket?: boolean
  /** Also serve TCP here (`127.0.0.1:PORT`; port 0: any), with the token. */
  tcp?: { host: string, port: number } | undefined
}

/** A running API server. */
export interface ApiServer {
  /** The Unix socket, if served. */
  readonly socketPath: string | undefined
  /** The TCP address, if served (the port as bound). */
  readonly tcp: { host: string, port: number } | undefined
  /** The token file, when TCP is served. */
  readonly tokenPath: string | undefined
  /** Set when TCP listens on an address that is not loopback: say it to the user. */
  readonly warning: string | undefined
  /** Stops accepting, ends every connection (their handlers are unregistered) and removes the socket. */
  close(): Promise<void>
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** Parses `--api HOST:PORT` (`[::1]:PORT` for IPv6). */
export function parseApiAddress (value: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value.trim())
  const port = Number(m?.[3])
  if (m === null || !Number.isInteger(port) || port > 65535) throw new InvalidConfigError(`--api wants HOST:PORT, e.g. 127.0.0.1:4790 (got "${value}")`)
  return { host: (m[1] ?? m[2]) as string, port }
}

async function socketAnswers (path: string): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const s = createConnection(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

async function listen (server: Server, where: string | { host: string, port: number }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const done = (): void => { server.off('error', reject); resolve() }
    if (typeof where === 'string') server.listen(where, done)
    else server.listen(where.port, where.host, done)
  })
}

/** The operations by name; `unary` are those the HTTP surface serves. */
function operationTables (components: Parameters<typeof identityOperations>[0]): { all: Map<string, Operation>, unary: Map<string, Operation> } {
  const unary = new Map<string, Operation>([...identityOperations(components), ...rpcOperations(components), ...transferOperations(components), ...aclOperations(components)])
  unary.delete('request_stream')
  const all = new Map<string, Operation>([...unary, ...rpcOperations(components).filter(([n]) => n === 'request_stream'), ...clientOperations(components)])
  return { all, unary }
}

/** Serves the local API of `peer`. Refuses to start if another listener answers on the socket. */
export async function serveApi (peer: NodePeer, init: ApiServerInit): Promise<ApiServer> {
  const log = peer.libp2p.logger.forComponent('subwire:api')
  const handlers = new HandlerRegistry({ peer, log })
  const events = new EventHub({ peer })
  const { all, unary } = operationTables({ peer, home: init.home, handlers, events })
  const notices = handlers.notices()
  const token = init.tcp === undefined ? undefined : await loadOrCreateApiToken(init.home)
  const connections = new Set<ApiConnection>()
  const sockets = new Set<Socket>()
  const hello = (): Record<string, unknown> => ({ server: 'subwire', ss58: peer.ss58, peerId: peer.peerId, netuids: peer.subwire.netuids })
  const tcpToken = new WeakSet<Socket>()
  const http = createHttpSurface(unary, (req) => tcpToken.has(req.socket) ? token : undefined)

  const accept = (needsToken: boolean) => (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    if (needsToken) tcpToken.add(socket)
    socket.once('data', (first: Buffer) => {
      socket.pause()
      socket.unshift(first)
      const b = first[0] ?? 0
      if ((b >= 0x41 && b <= 0x5a)) { // an ASCII capital: an HTTP method
        http.emit('connection', socket)
        socket.resume()
        return
      }
      const conn = new ApiConnection(socket, { operations: all, notices, token: needsToken ? token : undefined, hello, log })
      connections.add(conn)
      conn.onClose(() => { connections.delete(conn); handlers.release(conn) })
      socket.resume()
    })
  }

  handlers.start()
  events.start()
  const servers: Server[] = []
  let socketPath: string | undefined
  let tcp: { host: string, port: number } | undefined
  try {
    if (init.socket !== false) {
      socketPath = join(init.home, API_SOCKET_FILE)
      if (await socketAnswers(socketPath)) throw new InvalidConfigError(`Another subwire listener serves the API in ${init.home} (${socketPath})`)
      await unlink(socketPath).catch(() => {})
      const server = createServer(accept(false))
      await listen(server, socketPath)
      await chmod(socketPath, 0o600)
      servers.push(server)
    }
    if (init.tcp !== undefined) {
      const server = createServer(accept(true))
      await listen(server, init.tcp)
      servers.push(server)
      const a = server.address()
      tcp = { host: init.tcp.host, port: typeof a === 'object' && a !== null ? a.port : init.tcp.port }
    }
  } catch (err) {
    for (const s of servers) s.close()
    handlers.stop()
    events.stop()
    throw err
  }
  log('api v%d on %s%s', API_VERSION, socketPath ?? '(no socket)', tcp === undefined ? '' : ` and tcp ${tcp.host}:${tcp.port}`)
  return {
    socketPath,
    tcp,
    tokenPath: tcp === undefined ? undefined : join(init.home, API_TOKEN_FILE),
    warning: tcp !== undefined && !isLoopbackHost(tcp.host) ? `the API listens on ${tcp.host}:${tcp.port}, which is not a loopback address: anyone who can reach it and has the token in ${join(init.home, API_TOKEN_FILE)} controls this peer` : undefined,
    close: async () => {
      handlers.stop()
      events.stop()
      for (const c of connections) c.close()
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map(async (s) => { await new Promise<void>((resolve) => { s.close(() => { resolve() }) }) }))
      if (socketPath !== undefined) await unlink(socketPath).catch(() => {})
    }
  }
}
