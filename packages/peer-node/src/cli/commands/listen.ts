/**
 * `subwire listen`: runs a peer until SIGINT/SIGTERM and prints what happens to it.
 *
 * @packageDocumentation
 */
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { NODE_TRANSPORTS } from '../../transports.ts'
import { readConfig, writeConfig } from '../../home.ts'
import { DEFAULT_DASHBOARD_PORT, DEFAULT_WEBTRANSPORT_LISTEN } from '../../constants.ts'
import { browserAddresses, serveDashboard } from '../../dashboard-server.ts'
import { claimControl, viewToJson } from '../../control.ts'
import { parseApiAddress, serveApi } from '../../api/server.ts'
import { collect, collectNetuid, parseNetuid, parseSize, UsageError } from '../args.ts'
import { formatBytes, jsonSafe, printable } from '../format.ts'
import { Registry } from 'prom-client'
import { libp2pMetrics, serveMetrics, SubwireMetrics } from '../../ops/metrics.ts'
import type { Command } from 'commander'
import type { ControlClaim } from '../../control.ts'
import type { NodePeer, NodePeerInit } from '../../node-peer.ts'
import type { CliContext } from '../context.ts'
import type { SubwireConfig } from '../../home.ts'

interface ListenOptions { fullPayloads?: boolean, listen?: string[], netuid?: number[], storage?: string, maxFileSize?: number, minFree?: number, dashboard?: string, dashboardPort?: number, requireEncryption?: boolean, webtransport?: string | boolean, api?: string, apiSocket?: boolean, metrics?: string, bootstrap?: string[], subtensor?: string }

/** Payloads printed whole up to this size of JSON; larger ones are summarised unless `--full-payloads`. */
const MAX_PRINTED_PAYLOAD = 64 * 1024

/** A payload as `listen` prints it: whole, or `{ payloadBytes, payloadTruncated }` when it is large. */
function printedPayload (payload: unknown, full: boolean): Record<string, unknown> {
  if (full) return { payload }
  const bytes = Buffer.byteLength(JSON.stringify(jsonSafe(payload)) ?? 'null')
  return bytes <= MAX_PRINTED_PAYLOAD ? { payload } : { payload: null, payloadBytes: bytes, payloadTruncated: true }
}

/** Prints the peer's files, messages, connections and outbox deliveries as they happen. */
function printPeerEvents (ctx: CliContext, peer: NodePeer, fullPayloads: boolean): void {
  peer.on('file:received', (f) => {
    ctx.emit({ event: 'file', from: f.from, name: f.name, path: f.path, size: f.size, blake3: f.blake3, resumedFrom: f.resumedFrom },
      `file from ${f.from}: ${printable(f.name)} (${formatBytes(f.size)}) -> ${printable(f.path)}`)
  })
  peer.on('file:failed', (f) => {
    ctx.emit({ event: 'file-failed', from: f.from, id: f.id, error: f.error.name, message: f.error.message },
      `incoming file from ${f.from} failed: ${printable(f.error.message)}`)
  })
  peer.on('folder:received', (f) => {
    ctx.emit({ event: 'folder', from: f.from, id: f.id, name: f.name, path: f.path, files: f.files, size: f.size, blake3: f.blake3 },
      `folder from ${f.from}: ${printable(f.name)} (${f.files} file${f.files === 1 ? '' : 's'}, ${formatBytes(f.size)}) -> ${printable(f.path)}`)
  })
  peer.on('folder:failed', (f) => {
    ctx.emit({ event: 'folder-failed', from: f.from, id: f.id, error: f.error.name, message: f.error.message },
      `incoming folder from ${f.from} failed: ${printable(f.error.message)}`)
  })
  // the message is acknowledged once this resolves: after its line has left the process
  peer.on('message', async (m) => {
    const text = JSON.stringify(jsonSafe(m.payload)) ?? 'null'
    await ctx.emit({ event: 'message', from: m.from, netuid: m.caller.netuid, id: m.id, action: m.action, ...printedPayload(m.payload, fullPayloads) },
      `message from ${m.from} on subnet ${m.caller.netuid}: ${printable(m.action)} ${printable(fullPayloads || text.length <= 200 ? text : `${text.slice(0, 200)}… (${Buffer.byteLength(text)} bytes)`)}`)
  })
  peer.on('peer:authenticated', (p) => {
    ctx.emit({ event: 'connected', ss58: p.ss58, peerId: p.peerId, direction: p.direction, remoteAddr: p.remoteAddr },
      `connected ${p.direction} ${p.ss58} (${p.remoteAddr})`)
  })
  peer.on('peer:disconnected', (p) => {
    ctx.emit({ event: 'disconnected', ss58: p.ss58, peerId: p.peerId }, `disconnected ${p.ss58}`)
  })
  const outbox = peer.outbox
  outbox?.on('queue:added', (i) => { ctx.emit({ event: 'queued', ...viewToJson(i) }, `queued ${i.kind} ${i.id} "${i.label}" for ${i.dest}`) })
  outbox?.on('queue:delivered', ({ item }) => { ctx.emit({ event: 'delivered', id: item.id, kind: item.kind, dest: item.dest, attempts: item.attempts }, `delivered ${item.kind} ${item.id} to ${item.dest} (attempt ${item.attempts})`) })
  outbox?.on('queue:retry', ({ item, error, delayMs }) => { ctx.emit({ event: 'retry', id: item.id, dest: item.dest, attempt: item.attempts, error: error.name, message: error.message, delayMs }, `${item.kind} ${item.id} to ${item.dest}: attempt ${item.attempts} failed (${error.name}: ${error.message}); next in ${(delayMs / 1000).toFixed(1)} s`) })
  outbox?.on('queue:dead', ({ item, error }) => { ctx.emit({ event: 'dead', id: item.id, dest: item.dest, error: error.name, message: error.message }, `${item.kind} ${item.id} to ${item.dest} dead-lettered: ${error.name}: ${error.message}`) })
}

/** Prints the outcome of each reload of acl.json. */
function printAclReload (ctx: CliContext): NonNullable<NodePeerInit['onAclReload']> {
  return (r) => {
    if (r instanceof Error) ctx.emit({ event: 'acl-error', error: r.name, message: r.message }, `acl.json not applied (old rules kept): ${r.message}`)
    else ctx.emit({ event: 'acl-reloaded', allow: r.acl.allow.length, block: r.acl.block.length, firewall: r.acl.firewall.netuids, closed: r.closed }, `acl.json reloaded: ${r.acl.allow.length} allowed, ${r.acl.block.length} blocked, firewall on ${r.acl.firewall.netuids.join(', ') || 'no subnet'}; ${r.closed} connection(s) closed`)
  }
}

/** Serves the claimed control socket (and the dashboard), announces the peer, and waits for the shutdown signal. */
async function serveUntilShutdown (ctx: CliContext, peer: NodePeer, opts: ListenOptions, claim: ControlClaim): Promise<void> {
  const control = claim.serve(peer)
  const api = await serveApi(peer, { home: ctx.home(), socket: opts.apiSocket !== false, tcp: opts.api === undefined ? undefined : parseApiAddress(opts.api) })
    .catch(async (err: unknown) => { await control.close(); throw err })
  if (api.warning !== undefined) ctx.warn('api-warning', api.warning)
  const apiJson = { ...(api.socketPath === undefined ? {} : { socket: api.socketPath }), ...(api.tcp === undefined ? {} : { tcp: `${api.tcp.host}:${api.tcp.port}`, token: api.tokenPath }) }
  const browser = browserAddresses(peer.multiaddrs)
  const dashboard = opts.dashboard === undefined
    ? undefined
    : await serveDashboard({
      dir: opts.dashboard,
      port: opts.dashboardPort ?? DEFAULT_DASHBOARD_PORT,
      config: () => ({ peer: browserAddresses(peer.multiaddrs), allowPrivateAddresses: true, netuids: peer.subwire.netuids })
    })
  ctx.emit({ event: 'listening', ss58: peer.ss58, peerId: peer.peerId, netuids: peer.subwire.netuids, multiaddrs: peer.multiaddrs, browserMultiaddrs: browser, api: apiJson, ...(dashboard === undefined ? {} : { dashboard: dashboard.url }) },
    `subwire listening as ${peer.ss58}\n  peer id ${peer.peerId}\n  subnets ${peer.subwire.netuids.join(', ')}\n${peer.multiaddrs.map((a) => `  ${a}`).join('\n')}` +
    `\n  api ${[api.socketPath, api.tcp === undefined ? undefined : `${api.tcp.host}:${api.tcp.port} (token in ${api.tokenPath ?? ''})`].filter((x) => x !== undefined).join(', ') || 'off'}` +
    (dashboard === undefined ? '' : `\ndashboard ${dashboard.url}  (open it; it connects to ${browser[0] ?? 'this peer'})`) + '\nCtrl-C to stop.')
  try {
    const signal = await ctx.io.shutdown()
    ctx.emit({ event: 'stopping', signal }, `stopping (${signal})`)
  } finally {
    await api.close()
    await control.close()
    await dashboard?.close()
  }
}

/** `--metrics HOST:PORT`, checked before the peer starts. */
function parseMetricsAddress (value: string): { host: string, port: number } {
  try {
    return parseApiAddress(value)
  } catch {
    throw new UsageError(`--metrics wants HOST:PORT, e.g. 127.0.0.1:9464 (got "${value}")`)
  }
}

/** Counts the peer's events and serves them with libp2p's metrics on `/metrics`. */
async function startMetrics (ctx: CliContext, peer: NodePeer, registry: Registry | undefined, at: { host: string, port: number }): Promise<{ close: () => Promise<void> }> {
  const metrics = new SubwireMetrics({ peer, ...(registry === undefined ? {} : { registry }) })
  metrics.start()
  const server = await serveMetrics(metrics, at.host, at.port).catch((err: unknown) => { metrics.stop(); throw err })
  ctx.emit({ event: 'metrics', url: `http://${server.address}/metrics` }, `metrics on http://${server.address}/metrics`)
  return { close: async () => { metrics.stop(); await server.close() } }
}

/** `--storage` (or the config's `storage`, named by `what`) is refused at start unless it is an existing directory this process can write. */
async function checkStorage (dir: string, what = '--storage'): Promise<void> {
  let s: Awaited<ReturnType<typeof stat>>
  try {
    s = await stat(dir)
  } catch {
    throw new UsageError(`${what} ${dir}: no such directory (create it first)`)
  }
  if (!s.isDirectory()) throw new UsageError(`${what} ${dir} is not a directory`)
  try {
    await access(dir, constants.W_OK)
  } catch {
    throw new UsageError(`${what} ${dir} is not writable by this user`)
  }
}

/** Registers `listen`. */
export function registerListen (program: Command, ctx: CliContext): void {
  program.command('listen')
    .description('run a peer until SIGINT/SIGTERM; answers the built-in "echo" RPC type and receives files')
    .option('--listen <multiaddr>', 'listen address (repeatable; overrides the config)', collect)
    .option('--netuid <n>', 'subnet to serve (repeatable; overrides the config)', collectNetuid)
    .option('--storage <dir>', 'an existing, writable directory for received files: <dir>/inbox/<sender>/ (default the config storage, else <home>/files)')
    .option('--max-file-size <size>', 'refuse files larger than this (bytes, or e.g. 50GiB)', parseSize)
    .option('--min-free <size>', 'refuse files that would leave less free disk (bytes, or e.g. 10GiB; default 1GiB)', parseSize)
    .option('--dashboard <dir>', 'also serve this built dashboard (apps/dashboard/dist) over HTTP on 127.0.0.1')
    // checked as a netuid is (0 to MAX_NETUID = 65535, the port range); its error says "netuid"
    .option('--dashboard-port <port>', 'port of the dashboard server (default 4780; 0: any)', parseNetuid)
    .option('--require-encryption', 'refuse plaintext messages, requests and files')
    .option('--full-payloads', `print message payloads whole (by default one over ${MAX_PRINTED_PAYLOAD / 1024} KiB of JSON is summarised)`)
    .option('--bootstrap <multiaddr>', 'a DHT peer to join through, ending in /p2p/<PeerId> (repeatable; remembered in the config for this home\'s other commands)', collect)
    .option('--subtensor <url>', 'a subtensor node\'s RPC (ws://…): the metagraph (axon IP and port of each hotkey) is the last resolution source, refreshed every 2 min (remembered in the config)')
    .option('--webtransport [multiaddr]', `also listen for browsers over WebTransport (runs the peer under Deno; default ${DEFAULT_WEBTRANSPORT_LISTEN})`)
    .option('--api <host:port>', 'also serve the local API on TCP (e.g. 127.0.0.1:4790), with the bearer token in <home>/api.token; a non-loopback address is warned about')
    .option('--no-api-socket', 'do not serve the local API on <home>/api.sock')
    .option('--metrics <host:port>', 'serve Prometheus metrics on http://HOST:PORT/metrics (e.g. 127.0.0.1:9464)')
    .action(async (opts: ListenOptions) => {
      const config = await readConfig(ctx.home())
      const listen = opts.listen ?? config.listen
      for (const b of opts.bootstrap ?? []) if (!b.includes('/p2p/')) throw new UsageError(`--bootstrap ${b} must end in /p2p/<PeerId>`)
      if (opts.subtensor !== undefined && !/^wss?:\/\//.test(opts.subtensor)) throw new UsageError(`--subtensor ${opts.subtensor} must be a ws:// or wss:// URL`)
      const storage = opts.storage ?? config.storage
      if (storage !== undefined) await checkStorage(storage, opts.storage === undefined ? `"storage" of ${join(ctx.home(), 'subwire.json')}:` : '--storage')
      const metricsAt = opts.metrics === undefined ? undefined : parseMetricsAddress(opts.metrics)
      // one listener per home, refused before this one binds a port or touches the config
      const claim = await claimControl(ctx.home())
      try {
        await listenWith(ctx, opts, config, claim, { listen, storage, metricsAt })
      } finally {
        await claim.close()
      }
    })
}

/** Runs the listener's peer, with the options checked and the home's control socket claimed. */
async function listenWith (ctx: CliContext, opts: ListenOptions, config: SubwireConfig, claim: ControlClaim, checked: { listen: string[], storage: string | undefined, metricsAt: { host: string, port: number } | undefined }): Promise<void> {
  const { listen, storage, metricsAt } = checked
  if (opts.bootstrap !== undefined) {
    const bootstrap = [...new Set([...opts.bootstrap, ...(config.bootstrap ?? [])])]
    if (bootstrap.length !== (config.bootstrap ?? []).length) await writeConfig(ctx.home(), { ...config, bootstrap })
  }
  if (opts.subtensor !== undefined) {
    const now = await readConfig(ctx.home())
    if (now.subtensor !== opts.subtensor) await writeConfig(ctx.home(), { ...now, subtensor: opts.subtensor })
  }
  const webtransport = opts.webtransport === undefined || opts.webtransport === false
    ? {}
    : {
        transports: [...NODE_TRANSPORTS, 'webtransport' as const],
        listen: [...listen.filter((a) => !a.includes('/webtransport')), typeof opts.webtransport === 'string' ? opts.webtransport : DEFAULT_WEBTRANSPORT_LISTEN]
      }
  const files = { dir: storage ?? join(ctx.home(), 'files'), maxFileSize: opts.maxFileSize, minFreeBytes: opts.minFree }
  const registry = metricsAt === undefined ? undefined : new Registry()
  await ctx.withPeer(async (peer) => {
    printPeerEvents(ctx, peer, opts.fullPayloads === true)
    const metrics = metricsAt === undefined ? undefined : await startMetrics(ctx, peer, registry, metricsAt)
    try {
      await serveUntilShutdown(ctx, peer, opts, claim)
    } finally {
      await metrics?.close()
    }
  }, webtransport.listen ?? listen, opts.netuid, files, {
    ...(registry === undefined ? {} : { metrics: libp2pMetrics(registry) }),
    ...(webtransport.transports === undefined ? {} : { transports: webtransport.transports }),
    protocol: { encryption: { require: opts.requireEncryption === true } },
    onAclReload: printAclReload(ctx),
    ...(opts.bootstrap === undefined ? {} : { bootstrap: [...new Set([...opts.bootstrap, ...(config.bootstrap ?? [])])] }),
    ...(opts.subtensor === undefined ? {} : { subtensor: opts.subtensor })
  })
}
