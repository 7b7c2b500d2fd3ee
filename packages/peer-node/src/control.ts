/**
 * The control socket: `<home>/control.sock`, a Unix socket (owner-only, in the owner-only
 * home) through which `subwire send`, `message` and `queue` hand work to the running
 * listener, which is the delivery worker of its home's outbox.
 *
 * One request per connection, newline-delimited JSON both ways:
 * - `{ op: 'message', dest, action, payload, netuid?, encrypt?, timeout?, id?, watch? }`
 * - `{ op: 'file', dest, path, name?, netuid?, encrypt?, watch? }` (hashing progress lines first)
 * - `{ op: 'status' }`: addresses, connected peers, transfers in flight with progress, the outbox
 * - `{ op: 'watch', id }`, `{ op: 'list' }`, `{ op: 'dead' }`, `{ op: 'retry', id }` (`id: 'all'`), `{ op: 'drop', id }`
 * - `{ op: 'hello' }`: `{ event: 'hello', pid }`, answered also while the listener's peer starts
 * - `{ op: 'resolve', ss58, timeout? }`: the running peer resolves a hotkey (its DHT is warm,
 *   its cache holds what it found); answers `{ event: 'resolved', ss58, source, via?, peerId?, multiaddrs, netuids?, seq?, expiresAt?, details? }`
 *
 * The socket is bound before the peer starts ({@link claimControl}); other requests made
 * meanwhile are answered once it has.
 *
 * Answers are lines `{ event: … }`; the last one of a watch is `delivered` or `dead`,
 * and any failure is `{ event: 'error', error, message }`.
 *
 * @packageDocumentation
 */
import { chmod, unlink } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { isAbsolute, join } from 'node:path'
import { errorToWire, InvalidConfigError, PeerNotStartedError, SubwireError, toError, isAbortError } from '@subwire/shared'
import { CONTROL_SOCKET_FILE } from './constants.ts'
import { Transfers } from './ops/transfers.ts'
import type { Outbox, OutboxView } from '@subwire/shared'
import type { NodePeer } from './node-peer.ts'
import type { Server, Socket } from 'node:net'

/** A line of the control protocol (and of the CLI's `--json` output for queued sends). */
export type ControlEvent = Record<string, unknown> & { event: string }

/** How long a `resolve` request may take unless it says. */
const RESOLVE_TIMEOUT_MS = 10_000

/** Longest request line accepted. */
const MAX_REQUEST_BYTES = 1024 * 1024

/** The item as a line. */
export function viewToJson (v: OutboxView): Record<string, unknown> {
  return {
    id: v.id,
    dest: v.dest,
    kind: v.kind,
    label: v.label,
    netuid: v.netuid,
    size: v.size,
    attempts: v.attempts,
    nextAttemptAt: v.nextAttemptAt,
    createdAt: v.createdAt,
    expiresAt: v.expiresAt,
    progress: v.progress,
    state: v.state,
    ...(v.lastError === undefined ? {} : { lastError: v.lastError })
  }
}

/**
 * Runs `enqueue` and tells whether it joined an item already waiting (the same source or
 * message id to the same destination) instead of queueing a new one.
 */
export async function enqueueOrJoin (outbox: Outbox, enqueue: () => Promise<string>): Promise<{ id: string, joined: boolean }> {
  const joined = new Set<string>()
  const off = outbox.on('queue:joined', (v) => { joined.add(v.id) })
  try {
    const id = await enqueue()
    return { id, joined: joined.has(id) }
  } finally {
    off()
  }
}

/**
 * Follows one item: calls `send` for its attempts, retries, progress and its end
 * (`delivered` with the file result, or `dead` with the error). Resolves at the end.
 * `id` may be a promise (the item being queued): events are listened for from the start,
 * so an attempt that begins before the id is known is not missed.
 */
export async function watchItem (peer: NodePeer, outbox: Outbox, id: string | Promise<string>, send: (e: ControlEvent) => void, options: { signal?: AbortSignal } = {}): Promise<'delivered' | 'dead'> {
  let known: string | undefined
  const early: Array<{ id: string, e: ControlEvent }> = []
  const forward = (itemId: string, e: ControlEvent): void => {
    if (known === undefined) early.push({ id: itemId, e })
    else if (itemId === known) send(e)
  }
  const offs = [
    outbox.on('queue:attempt', (item) => { forward(item.id, { event: 'attempt', id: item.id, attempt: item.attempts }) }),
    outbox.on('queue:retry', ({ item, error, delayMs }) => {
      forward(item.id, { event: 'retry', id: item.id, attempt: item.attempts, error: error.name, message: error.message, delayMs, nextAttemptAt: item.nextAttemptAt })
    }),
    outbox.on('queue:progress', (p) => { forward(p.id, { event: 'progress', id: p.id, bytes: p.bytes, total: p.total, rate: Math.round(p.rate) }) })
  ]
  try {
    known = await id
    for (const x of early.splice(0)) if (x.id === known) send(x.e)
    const done = await outbox.waitFor(known, options)
    const r = done.result
    const to = peer.peers().find((p) => p.ss58 === done.dest || done.dest.endsWith(`/p2p/${p.peerId}`))?.ss58
    send({ event: 'delivered', id: known, ...(to === undefined ? {} : { to }), ...(r === undefined ? {} : { name: r.name, size: r.size, blake3: r.blake3, bytesSent: r.bytesSent, resumedFrom: r.resumedFrom, ms: r.ms }) })
    return 'delivered'
  } catch (err) {
    const e = toError(err)
    if (isAbortError(e)) throw e
    const cause = e.cause instanceof Error ? e.cause : e
    send({ event: 'dead', id: known, error: errorToWire(cause).name, message: cause.message })
    return 'dead'
  } finally {
    for (const off of offs) off()
  }
}

/** The listener's end of the control socket. */
export interface ControlServer {
  /** The socket path. */
  readonly path: string
  /** Stops accepting, ends open connections and removes the socket. */
  close(): Promise<void>
}

/** Another listener answers on this home's control socket: one home, one listener (its outbox worker). */
export class ListenerRunningError extends SubwireError {
  static override name = 'ListenerRunningError'
  static override code = 'ERR_LISTENER_RUNNING'
  static defaultMessage = 'another subwire listener is running in this home: stop it first, or use another --home'
}

/**
 * The control socket of a home, bound before the listener's peer starts (so that a second
 * listener in the same home is refused before it binds a port). Connections made before
 * {@link ControlClaim.serve} wait, unread, and are served once the peer is there.
 */
export interface ControlClaim {
  /** The socket path. */
  readonly path: string
  /** Serves the waiting and later connections for `peer` (once). */
  serve(peer: NodePeer): ControlServer
  /** Ends every connection and removes the socket; safe to call again. */
  close(): Promise<void>
}

/**
 * Binds the control socket of `home`. Throws {@link ListenerRunningError} (with the other
 * listener's pid) if a listener answers on it; removes a stale socket a killed listener left.
 */
export async function claimControl (home: string): Promise<ControlClaim> {
  const path = join(home, CONTROL_SOCKET_FILE)
  const sockets = new Set<Socket>()
  let served: ((parts: Served) => void) | undefined
  let unserved: ((err: Error) => void) | undefined
  const ready = new Promise<Served>((resolve, reject) => { served = resolve; unserved = reject })
  ready.catch(() => {}) // a claim closed before it served: its waiting connections are destroyed
  let transfers: Transfers | undefined
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    void handle(socket, ready)
  })
  await bind(server, path, home)
  await chmod(path, 0o600)
  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= (async () => {
      unserved?.(new PeerNotStartedError('The listener stopped'))
      transfers?.stop()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      await unlink(path).catch(() => {})
    })()
    await closed
  }
  return {
    path,
    close,
    serve: (peer) => {
      const outbox = peer.outbox
      if (outbox === undefined) throw new InvalidConfigError('The control socket needs a peer with an outbox')
      if (transfers !== undefined) throw new InvalidConfigError('The control socket is already served')
      transfers = new Transfers({ peer })
      transfers.start()
      served?.({ peer, outbox, transfers })
      return { path, close }
    }
  }
}

/**
 * Serves the control socket of `home` for `peer`. Refuses to start if another listener
 * answers on it; removes a stale socket a killed listener left.
 */
export async function serveControl (home: string, peer: NodePeer): Promise<ControlServer> {
  const claim = await claimControl(home)
  try {
    return claim.serve(peer)
  } catch (err) {
    await claim.close()
    throw err
  }
}

/** Listens on `path`; a socket file in the way is either another listener's (refused) or stale (removed). */
async function bind (server: Server, path: string, home: string): Promise<void> {
  const listen = async (): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => { server.off('error', reject); resolve() })
    })
  }
  try {
    await listen()
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
  }
  if (await isAlive(path)) {
    const pid = await listenerPid(home)
    throw new ListenerRunningError(`another subwire listener is running in this home (${pid === undefined ? `it answers on ${path}` : `pid ${pid}`}): stop it first, or use another --home`)
  }
  await unlink(path).catch(() => {})
  await listen()
}

/** How long a listener that is still starting is given to say its pid. */
const PID_TIMEOUT_MS = 2000

/** The pid of the listener answering on `home`'s control socket, if it says in time. */
async function listenerPid (home: string): Promise<number | undefined> {
  let pid: number | undefined
  await controlRequest(home, { op: 'hello' }, (e) => { if (typeof e.pid === 'number') pid = e.pid }, { signal: AbortSignal.timeout(PID_TIMEOUT_MS) })
    .catch(() => {})
  return pid
}

async function readRequest (socket: Socket): Promise<Record<string, unknown>> {
  // not `for await`: leaving that loop would destroy the socket we answer on
  return await new Promise((resolve, reject) => {
    let buf = ''
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8')
      const nl = buf.indexOf('\n')
      if (nl < 0) {
        if (buf.length > MAX_REQUEST_BYTES) finish(new InvalidConfigError('control request too long'))
        return
      }
      try {
        const value = JSON.parse(buf.slice(0, nl)) as unknown
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError('control request must be a JSON object')
        finish(undefined, value as Record<string, unknown>)
      } catch (err) {
        finish(err instanceof Error ? err : new InvalidConfigError(String(err)))
      }
    }
    const onEnd = (): void => { finish(new InvalidConfigError('control connection closed before a request')) }
    const finish = (err: Error | undefined, value?: Record<string, unknown>): void => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      if (err !== undefined) reject(err)
      else resolve(value as Record<string, unknown>)
    }
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('close', onEnd)
  })
}

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidConfigError(`control request: ${name} must be a non-empty string`)
  return v
}
const optNum = (v: unknown): number | undefined => typeof v === 'number' ? v : undefined
const optBool = (v: unknown): boolean | undefined => typeof v === 'boolean' ? v : undefined

/** What a served control socket works with. */
interface Served { peer: NodePeer, outbox: Outbox, transfers: Transfers }

async function handle (socket: Socket, ready: Promise<Served>): Promise<void> {
  const send = (e: ControlEvent): void => { if (!socket.destroyed) socket.write(JSON.stringify(e) + '\n') }
  const controller = new AbortController()
  socket.on('close', () => { controller.abort() })
  try {
    const req = await readRequest(socket)
    const op = req.op
    // answered while the peer is still starting too: who holds this home
    if (op === 'hello') {
      send({ event: 'hello', pid: process.pid })
      return
    }
    const { peer, outbox, transfers } = await ready
    if (op === 'message' || op === 'file') {
      const common = { netuid: optNum(req.netuid), encrypt: optBool(req.encrypt), ...(typeof req.id === 'string' ? { id: req.id } : {}) }
      let queued: { id: string, joined: boolean }
      if (op === 'message') {
        queued = await enqueueOrJoin(outbox, async () => await outbox.enqueueMessage(str(req.dest, 'dest'), str(req.action, 'action'), req.payload, { ...common, timeout: optNum(req.timeout) }))
      } else {
        const path = str(req.path, 'path')
        if (!isAbsolute(path)) throw new InvalidConfigError('control request: path must be absolute')
        const source = await peer.openFile(path, typeof req.name === 'string' ? req.name : undefined)
        try {
          let last = 0
          queued = await enqueueOrJoin(outbox, async () => await outbox.enqueueFile(str(req.dest, 'dest'), source, {
            ...common,
            hashFirst: optBool(req.hashFirst),
            signal: controller.signal,
            onProgress: (p) => {
              const now = Date.now()
              if (now - last < 250 && p.detail.bytes !== p.detail.total) return
              last = now
              send({ event: 'hashing', bytes: p.detail.bytes, total: p.detail.total, rate: Math.round(p.detail.rate) })
            }
          }))
        } finally {
          await source.close()
        }
      }
      const { id, joined } = queued
      send({ event: joined ? 'joined' : 'queued', id })
      if (req.watch === true) await watchItem(peer, outbox, id, send, { signal: controller.signal })
    } else if (op === 'watch') {
      await watchItem(peer, outbox, str(req.id, 'id'), send, { signal: controller.signal })
    } else if (op === 'list' || op === 'dead') {
      const items = op === 'list' ? await outbox.list() : await outbox.dead()
      send({ event: op, items: items.map(viewToJson) })
    } else if (op === 'status') {
      const [pending, dead] = await Promise.all([outbox.list(), outbox.dead()])
      send({
        event: 'status',
        ss58: peer.ss58,
        peerId: peer.peerId,
        netuids: peer.subwire.netuids,
        multiaddrs: peer.multiaddrs,
        peers: peer.peers().map((p) => ({ ss58: p.ss58, peerId: p.peerId, direction: p.direction, remoteAddr: p.remoteAddr })),
        transfers: transfers.list(),
        outbox: { pending: pending.length, dead: dead.length, items: pending.map(viewToJson) }
      })
    } else if (op === 'members') {
      // what the running listener knows of a subnet (its DHT, its cache, its sessions): a
      // one-shot `query --subnet` starts from that instead of an empty routing table
      const timeout = optNum(req.timeout) ?? RESOLVE_TIMEOUT_MS
      const netuid = optNum(req.netuid)
      if (netuid === undefined) throw new InvalidConfigError('control request: members needs a netuid')
      const members = await peer.members(netuid, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(timeout)]) })
      send({ event: 'members', members: members.map((m) => m.ss58) })
    } else if (op === 'resolve') {
      const timeout = optNum(req.timeout) ?? RESOLVE_TIMEOUT_MS
      const r = await peer.resolve(str(req.ss58, 'ss58'), { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(timeout)]) })
      send({ event: 'resolved', ss58: r.ss58, source: r.source, via: r.via, peerId: r.peerId, multiaddrs: r.multiaddrs, netuids: r.netuids, seq: r.record?.seq, expiresAt: r.expiresAt, details: r.details })
    } else if (op === 'retry') {
      send({ event: 'retried', count: await outbox.retry(str(req.id, 'id')) })
    } else if (op === 'drop') {
      await outbox.drop(str(req.id, 'id'))
      send({ event: 'dropped', id: req.id })
    } else {
      throw new InvalidConfigError(`control request: unknown op ${String(op)}`)
    }
  } catch (err) {
    const e = toError(err, () => new Error(String(err)))
    if (!isAbortError(e)) {
      const wire = errorToWire(e)
      send({ event: 'error', ...wire, error: wire.name })
    }
  } finally {
    socket.end()
  }
}

async function isAlive (path: string): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const s = createConnection(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

/**
 * Sends one request to the listener of `home`; `onEvent` gets every answer line. Resolves
 * `false` at once if no listener answers (no socket, or a stale one), `true` once the
 * listener closed the connection.
 */
export async function controlRequest (home: string, request: Record<string, unknown>, onEvent: (e: ControlEvent) => void, options: { signal?: AbortSignal } = {}): Promise<boolean> {
  const path = join(home, CONTROL_SOCKET_FILE)
  return await new Promise<boolean>((resolve, reject) => {
    const s = createConnection(path)
    let connected = false
    let buf = ''
    const onAbort = (): void => { s.destroy() }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    s.once('connect', () => {
      connected = true
      s.write(JSON.stringify(request) + '\n')
    })
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8')
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.trim() === '') continue
        try { onEvent(JSON.parse(line) as ControlEvent) } catch (err) { reject(err) }
      }
    })
    s.once('error', (err: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort)
      if (!connected && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK')) resolve(false)
      else reject(err)
    })
    s.once('close', () => {
      options.signal?.removeEventListener('abort', onAbort)
      if (connected) resolve(true)
    })
  })
}
