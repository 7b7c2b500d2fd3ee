/**
 * The `subwire` command-line interface. `main(argv)` returns the exit code; the
 * launcher in `bin/subwire.js` calls it. User mistakes print one line, never a stack.
 *
 * @packageDocumentation
 */
import { join, resolve as resolvePath } from 'node:path'
import { Command, CommanderError } from 'commander'
import { DeadLetterError, errorFromWire, isSs58, MAX_NETUID, parseAclEntry, UnknownDestinationError } from '@subwire/shared'
import { createNodePeer, NODE_TRANSPORTS } from './index.ts'
import { defaultConfig, readConfig, resolveHome, writeConfig, loadOrCreatePeerKey } from './home.ts'
import { loadHotkey } from './keys.ts'
import { ADDRESS_BOOK_FILE, DEFAULT_DASHBOARD_PORT, DEFAULT_LISTEN, DEFAULT_WEBTRANSPORT_LISTEN } from './constants.ts'
import { browserAddresses, serveDashboard } from './dashboard-server.ts'
import { FileAddressBook } from './address-book-file.ts'
import { readAclFile, writeAclFile } from './acl-file.ts'
import { controlRequest, serveControl, viewToJson, watchItem } from './control.ts'
import type { ControlEvent } from './control.ts'
import type { AclFile } from './acl-file.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { HotkeySource } from './keys.ts'
import type { AddressBook } from '@subwire/shared'
import type { NodePeer, NodePeerInit } from './node-peer.ts'
import type { SubwireConfig } from './home.ts'

interface GlobalOptions {
  home?: string
  json?: boolean
}

/** Where the CLI writes; replaceable for tests. */
export interface CliIo {
  stdout: (line: string) => void
  stderr: (line: string) => void
  /** Resolves when the process should shut down (SIGINT/SIGTERM). */
  shutdown: () => Promise<string>
}

const processIo: CliIo = {
  stdout: (line) => { process.stdout.write(line + '\n') },
  stderr: (line) => { process.stderr.write(line + '\n') },
  shutdown: async () => await new Promise<string>((resolve) => {
    // A terminal's Ctrl-C reaches both the launcher and us, and the launcher forwards it
    // too: the first signal starts a clean shutdown, a duplicate is ignored, a third
    // one forces the exit.
    let count = 0
    const on = (sig: string): void => {
      count++
      if (count === 1) resolve(sig)
      else if (count >= 3) process.exit(130)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

/** An error that is the user's doing: printed as one line with this exit code. */
class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

function collectInt (value: string, previous: number[] = []): number[] {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > MAX_NETUID) throw new UsageError(`netuid "${value}" is not an integer from 0 to ${MAX_NETUID}`)
  return [...previous, n]
}

function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

function parseTimeout (value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`timeout "${value}" must be a positive number of milliseconds`)
  return n
}

function parseSize (value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b?)?$/i.exec(value.trim())
  if (m === null) throw new UsageError(`"${value}" is not a size (e.g. 1048576, 512MiB, 2GiB)`)
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '')
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1
  return Math.round(Number(m[1]) * mult)
}

function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i] as string}`
}

function progressLine (phase: string, bytes: number, total: number, rate: number): string {
  const width = 24
  const frac = total === 0 ? 1 : bytes / total
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
  const eta = rate > 0 ? Math.max(0, (total - bytes) / rate) : 0
  return `${phase} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(bytes)} / ${formatBytes(total)}  ${(rate / 1e6).toFixed(1)} MB/s  ETA ${eta.toFixed(0)} s`
}

function jsonSafe (value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') }
    if (typeof v === 'bigint') return v.toString()
    return v
  }))
}

/** Runs the CLI with `argv` (without `node` and the script); returns the exit code. */
export async function main (argv: string[], io: CliIo = processIo): Promise<number> {
  const program = new Command('subwire')
  let code = 0
  const globals = (): GlobalOptions => program.opts<GlobalOptions>()
  const home = (): string => resolveHome(globals().home)
  const emit = (json: Record<string, unknown>, human?: string): void => {
    if (globals().json === true) io.stdout(JSON.stringify(jsonSafe(json)))
    else if (human !== undefined) io.stdout(human)
  }

  async function withPeer<T> (fn: (peer: NodePeer, config: SubwireConfig) => Promise<T>, listen: string[] = [], netuids?: number[], files?: { dir: string, maxFileSize?: number | undefined, minFreeBytes?: number | undefined }, extra: Partial<NodePeerInit> & { start?: boolean } = {}): Promise<T> {
    const config = await readConfig(home())
    const signer = await loadHotkey(config.hotkey, config.ss58Prefix)
    const peer = await createNodePeer({
      signer,
      netuids: netuids ?? config.netuids,
      listen,
      home: home(),
      filesDir: files?.dir,
      protocol: { ss58Prefix: config.ss58Prefix, files: { maxFileSize: files?.maxFileSize, minFreeBytes: files?.minFreeBytes }, ...extra.protocol },
      ...(extra.transports === undefined ? {} : { transports: extra.transports }),
      ...(extra.onAclReload === undefined ? {} : { onAclReload: extra.onAclReload })
    })
    if (extra.start !== false) await peer.start()
    try {
      return await fn(peer, config)
    } finally {
      await peer.stop()
    }
  }

  /**
   * A queued send: handed to the running listener over the control socket, or else queued
   * here and (unless detached) delivered by a transient peer while this command runs.
   * Prints the item's events; the last one is `acked`/`sent`, or an error.
   */
  async function queuedSend (request: Record<string, unknown>, local: (peer: NodePeer) => Promise<string>, opts: { detach: boolean, netuids?: number[] | undefined }, done: (e: ControlEvent) => void): Promise<void> {
    const tty = globals().json !== true && process.stderr.isTTY
    let lastJson = 0
    let final: ControlEvent | undefined
    let id: string | undefined
    const onEvent = (e: ControlEvent): void => {
      if (e.event === 'hashing' || e.event === 'progress') {
        const { bytes, total, rate } = e as unknown as { bytes: number, total: number, rate: number }
        if (globals().json === true) {
          const now = Date.now()
          if (now - lastJson >= 250 || bytes === total) { lastJson = now; io.stdout(JSON.stringify(e)) }
        } else if (tty) {
          process.stderr.write(`\r${progressLine(e.event === 'hashing' ? 'hashing' : 'sending', bytes, total, rate)}\x1b[K`)
        }
        return
      }
      if (tty) process.stderr.write('\r\x1b[K')
      // queued/attempt/retry are JSON lines for scripts; a person sees queued and retry on stderr
      if (e.event === 'queued' || e.event === 'attempt' || e.event === 'retry') {
        emit(e)
        if (e.event === 'queued') id = e.id as string
        if (globals().json === true || e.event === 'attempt') return
        io.stderr(e.event === 'queued'
          ? `queued ${String(e.id)}`
          : `attempt ${String(e.attempt)} failed: ${String(e.error)}: ${String(e.message)}; next in ${((e.delayMs as number) / 1000).toFixed(1)} s`)
      } else {
        final = e
      }
    }
    const stop = new AbortController()
    // Ctrl-C stops waiting; the item stays queued
    void io.shutdown().then(() => { stop.abort() })
    const viaListener = await controlRequest(home(), { ...request, watch: !opts.detach }, onEvent, { signal: stop.signal })
      .catch((err: unknown) => { if (stop.signal.aborted) return true; throw err })
    if (!viaListener) {
      await withPeer(async (peer) => {
        const outbox = peer.outbox
        if (outbox === undefined) throw new Error('this peer has no outbox')
        if (opts.detach) {
          onEvent({ event: 'queued', id: await local(peer) })
          return
        }
        await peer.start()
        const itemId = local(peer).then((i) => { onEvent({ event: 'queued', id: i }); return i })
        await watchItem(peer, outbox, itemId, onEvent, { signal: stop.signal }).catch((err: unknown) => { if (!stop.signal.aborted) throw err })
      }, [], opts.netuids, undefined, { start: false })
    }
    if (opts.detach) {
      if (globals().json !== true) io.stdout(`queued ${id ?? ''}${viaListener ? ' (the listener delivers it)' : ' (no listener running: `subwire listen` delivers it)'}`)
      return
    }
    if (final === undefined) {
      if (stop.signal.aborted) {
        emit({ event: 'interrupted', id }, `interrupted: ${id ?? 'the item'} stays queued; ${viaListener ? 'the listener keeps delivering it' : '`subwire listen` delivers it'} (subwire queue list)`)
        code = 3
        return
      }
      throw new Error('the listener closed the control connection without an answer')
    }
    if (final.event === 'error') throw errorFromWire({ name: String(final.error), message: String(final.message) })
    if (final.event === 'dead') {
      throw new DeadLetterError(`not delivered, moved to the dead-letter list (subwire queue dead): ${String(final.error)}: ${String(final.message)}`)
    }
    done(final)
  }

  program
    .name('subwire')
    .description('Hotkey-authenticated peer-to-peer messages, RPC and files for Bittensor subnets')
    .option('--home <dir>', 'subwire home directory (default $SUBWIRE_HOME or ~/.subwire)')
    .option('--json', 'print one JSON object per line on stdout, for scripts')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => { io.stdout(s.trimEnd()) },
      writeErr: (s) => { io.stderr(s.trimEnd()) }
    })

  program.command('init')
    .description('create a home: hotkey source, subnets and listen addresses, and a libp2p key')
    .option('--hotkey-uri <uri>', 'secret URI: //Alice, a mnemonic, or a 0x seed (stored in subwire.json, mode 0600)')
    .option('--mnemonic-file <file>', 'file holding a mnemonic, secret URI or 0x seed (referenced, not copied)')
    .option('--wallet <name>', 'bittensor wallet name (with --hotkey)')
    .option('--hotkey <name>', 'bittensor hotkey name (with --wallet)')
    .option('--wallet-path <dir>', 'bittensor wallets directory (default ~/.bittensor/wallets)')
    .option('--netuid <n>', 'subnet to serve (repeatable; default 42)', collectInt)
    .option('--listen <multiaddr>', 'listen address (repeatable; default QUIC and TCP on 0.0.0.0:4701)', collect)
    .option('--force', 'replace an existing config (the libp2p key is kept)')
    .action(async (opts: { hotkeyUri?: string, mnemonicFile?: string, wallet?: string, hotkey?: string, walletPath?: string, netuid?: number[], listen?: string[], force?: boolean }) => {
      const sources = [opts.hotkeyUri, opts.mnemonicFile, opts.wallet ?? opts.hotkey].filter((s) => s !== undefined)
      if (sources.length !== 1) throw new UsageError('give exactly one hotkey source: --hotkey-uri, --mnemonic-file, or --wallet with --hotkey')
      let source: HotkeySource
      if (opts.hotkeyUri !== undefined) source = { uri: opts.hotkeyUri }
      else if (opts.mnemonicFile !== undefined) source = { mnemonicFile: opts.mnemonicFile }
      else {
        if (opts.wallet === undefined || opts.hotkey === undefined) throw new UsageError('--wallet and --hotkey go together')
        source = { wallet: opts.wallet, hotkey: opts.hotkey, ...(opts.walletPath === undefined ? {} : { walletPath: opts.walletPath }) }
      }
      const dir = home()
      if (opts.force !== true) {
        const existing = await readConfig(dir).catch(() => undefined)
        if (existing !== undefined) throw new UsageError(`${dir} is already initialised; pass --force to replace its config`)
      }
      const config = defaultConfig(source, opts.netuid ?? [42], opts.listen ?? DEFAULT_LISTEN)
      const signer = await loadHotkey(source, config.ss58Prefix)
      await writeConfig(dir, config)
      const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(dir)).toString()
      emit({ event: 'initialized', home: dir, ss58: signer.ss58, peerId, netuids: config.netuids, listen: config.listen },
        `initialised ${dir}\n  hotkey  ${signer.ss58}\n  peer id ${peerId}\n  subnets ${config.netuids.join(', ')}`)
    })

  program.command('id')
    .description('print this home\'s hotkey, PeerId and subnets')
    .action(async () => {
      const config = await readConfig(home())
      const signer = await loadHotkey(config.hotkey, config.ss58Prefix)
      const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(home())).toString()
      emit({ ss58: signer.ss58, peerId, netuids: config.netuids, listen: config.listen, home: home() },
        `hotkey  ${signer.ss58}\npeer id ${peerId}\nsubnets ${config.netuids.join(', ')}\nlisten  ${config.listen.join(' ')}\nhome    ${home()}`)
    })

  program.command('listen')
    .description('run a peer until SIGINT/SIGTERM; answers the built-in "echo" RPC type and receives files')
    .option('--listen <multiaddr>', 'listen address (repeatable; overrides the config)', collect)
    .option('--netuid <n>', 'subnet to serve (repeatable; overrides the config)', collectInt)
    .option('--storage <dir>', 'where received files go: <dir>/inbox/<sender>/ (default <home>/files)')
    .option('--max-file-size <bytes>', 'refuse files larger than this', parseSize)
    .option('--min-free <bytes>', 'refuse files that would leave less free disk (default 1 GiB)', parseSize)
    .option('--dashboard <dir>', 'also serve this built dashboard (apps/dashboard/dist) over HTTP on 127.0.0.1')
    .option('--dashboard-port <port>', 'port of the dashboard server (default 4780; 0: any)', (v) => collectInt(v)[0])
    .option('--require-encryption', 'refuse plaintext messages, requests and files')
    .option('--webtransport [multiaddr]', `also listen for browsers over WebTransport (runs the peer under Deno; default ${DEFAULT_WEBTRANSPORT_LISTEN})`)
    .action(async (opts: { listen?: string[], netuid?: number[], storage?: string, maxFileSize?: number, minFree?: number, dashboard?: string, dashboardPort?: number, requireEncryption?: boolean, webtransport?: string | boolean }) => {
      const config = await readConfig(home())
      const listen = opts.listen ?? config.listen
      const webtransport = opts.webtransport === undefined || opts.webtransport === false
        ? {}
        : {
            transports: [...NODE_TRANSPORTS, 'webtransport' as const],
            listen: [...listen.filter((a) => !a.includes('/webtransport')), typeof opts.webtransport === 'string' ? opts.webtransport : DEFAULT_WEBTRANSPORT_LISTEN]
          }
      const files = { dir: opts.storage ?? join(home(), 'files'), maxFileSize: opts.maxFileSize, minFreeBytes: opts.minFree }
      await withPeer(async (peer) => {
        peer.on('file:received', (f) => {
          emit({ event: 'file', from: f.from, name: f.name, path: f.path, size: f.size, blake3: f.blake3, resumedFrom: f.resumedFrom },
            `file from ${f.from}: ${f.name} (${formatBytes(f.size)}) -> ${f.path}`)
        })
        peer.on('file:failed', (f) => {
          emit({ event: 'file-failed', from: f.from, id: f.id, error: f.error.name, message: f.error.message },
            `incoming file from ${f.from} failed: ${f.error.message}`)
        })
        peer.on('message', (m) => {
          emit({ event: 'message', from: m.from, netuid: m.caller.netuid, id: m.id, action: m.action, payload: m.payload },
            `message from ${m.from} on subnet ${m.caller.netuid}: ${m.action} ${JSON.stringify(jsonSafe(m.payload))}`)
        })
        peer.on('peer:authenticated', (p) => {
          emit({ event: 'connected', ss58: p.ss58, peerId: p.peerId, direction: p.direction, remoteAddr: p.remoteAddr },
            `connected ${p.direction} ${p.ss58} (${p.remoteAddr})`)
        })
        peer.on('peer:disconnected', (p) => {
          emit({ event: 'disconnected', ss58: p.ss58, peerId: p.peerId }, `disconnected ${p.ss58}`)
        })
        const outbox = peer.outbox
        outbox?.on('queue:added', (i) => { emit({ event: 'queued', ...viewToJson(i) }, `queued ${i.kind} ${i.id} "${i.label}" for ${i.dest}`) })
        outbox?.on('queue:delivered', ({ item }) => { emit({ event: 'delivered', id: item.id, kind: item.kind, dest: item.dest, attempts: item.attempts }, `delivered ${item.kind} ${item.id} to ${item.dest} (attempt ${item.attempts})`) })
        outbox?.on('queue:retry', ({ item, error, delayMs }) => { emit({ event: 'retry', id: item.id, dest: item.dest, attempt: item.attempts, error: error.name, message: error.message, delayMs }, `${item.kind} ${item.id} to ${item.dest}: attempt ${item.attempts} failed (${error.name}: ${error.message}); next in ${(delayMs / 1000).toFixed(1)} s`) })
        outbox?.on('queue:dead', ({ item, error }) => { emit({ event: 'dead', id: item.id, dest: item.dest, error: error.name, message: error.message }, `${item.kind} ${item.id} to ${item.dest} dead-lettered: ${error.name}: ${error.message}`) })
        const control = await serveControl(home(), peer)
        const browser = browserAddresses(peer.multiaddrs)
        const dashboard = opts.dashboard === undefined
          ? undefined
          : await serveDashboard({
            dir: opts.dashboard,
            port: opts.dashboardPort ?? DEFAULT_DASHBOARD_PORT,
            config: () => ({ peer: browserAddresses(peer.multiaddrs), allowPrivateAddresses: true, netuids: peer.subwire.netuids })
          })
        emit({ event: 'listening', ss58: peer.ss58, peerId: peer.peerId, netuids: peer.subwire.netuids, multiaddrs: peer.multiaddrs, browserMultiaddrs: browser, ...(dashboard === undefined ? {} : { dashboard: dashboard.url }) },
          `subwire listening as ${peer.ss58}\n  peer id ${peer.peerId}\n  subnets ${peer.subwire.netuids.join(', ')}\n${peer.multiaddrs.map((a) => `  ${a}`).join('\n')}` +
          (dashboard === undefined ? '' : `\ndashboard ${dashboard.url}  (open it; it connects to ${browser[0] ?? 'this peer'})`) + '\nCtrl-C to stop.')
        try {
          const signal = await io.shutdown()
          emit({ event: 'stopping', signal }, `stopping (${signal})`)
        } finally {
          await control.close()
          await dashboard?.close()
        }
      }, webtransport.listen ?? listen, opts.netuid, files, {
        ...(webtransport.transports === undefined ? {} : { transports: webtransport.transports }),
        protocol: { encryption: { require: opts.requireEncryption === true } },
        onAclReload: (r) => {
          if (r instanceof Error) emit({ event: 'acl-error', error: r.name, message: r.message }, `acl.json not applied (old rules kept): ${r.message}`)
          else emit({ event: 'acl-reloaded', allow: r.acl.allow.length, block: r.acl.block.length, firewall: r.acl.firewall.netuids, closed: r.closed }, `acl.json reloaded: ${r.acl.allow.length} allowed, ${r.acl.block.length} blocked, firewall on ${r.acl.firewall.netuids.join(', ') || 'no subnet'}; ${r.closed} connection(s) closed`)
        }
      })
    })

  program.command('send')
    .description('send a file through the durable outbox (resumes where the receiver left off); waits for the receiver\'s hash ack')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<file>', 'path of the file')
    .option('--netuid <n>', 'subnet (default the first in the config)', (v) => collectInt(v)[0])
    .option('--name <name>', 'name to offer (default the file\'s base name)')
    .option('--no-encrypt', 'send without end-to-end encryption (a trusted link)')
    .option('--no-queue', 'send directly and fail fast if the receiver is not reachable (nothing is queued)')
    .option('--detach', 'queue it and return at once; the listener (or the next `subwire listen`) delivers it')
    .action(async (dest: string, file: string, opts: { netuid?: number, name?: string, encrypt: boolean, queue: boolean, detach?: boolean }) => {
      const printSent = (r: Record<string, unknown>): void => {
        const result = r as { name: string, size: number, blake3: string, bytesSent: number, resumedFrom: number, ms: number }
        emit({ event: 'sent', id: r.id, name: result.name, size: result.size, blake3: result.blake3, bytesSent: result.bytesSent, resumedFrom: result.resumedFrom, ms: result.ms },
          `sent ${result.name} (${formatBytes(result.size)}) in ${(result.ms / 1000).toFixed(1)} s` + (result.resumedFrom > 0 ? `, resumed from ${formatBytes(result.resumedFrom)}` : '') + `\nblake3 root ${result.blake3}`)
      }
      if (opts.queue) {
        const path = resolvePath(file)
        await queuedSend({ op: 'file', dest, path, netuid: opts.netuid, encrypt: opts.encrypt, ...(opts.name === undefined ? {} : { name: opts.name }) },
          async (peer) => (await peer.sendFile(dest, path, { queue: true, netuid: opts.netuid, encrypt: opts.encrypt, ...(opts.name === undefined ? {} : { name: opts.name }) })).id,
          { detach: opts.detach === true }, printSent)
        return
      }
      const tty = globals().json !== true && process.stderr.isTTY
      let lastJson = 0
      await withPeer(async (peer) => {
        const result = await peer.sendFile(dest, file, {
          netuid: opts.netuid,
          encrypt: opts.encrypt,
          ...(opts.name === undefined ? {} : { name: opts.name }),
          onProgress: (event) => {
            const { bytes, total, rate } = event.detail
            if (globals().json === true) {
              const now = Date.now()
              if (now - lastJson >= 250 || bytes === total) {
                lastJson = now
                io.stdout(JSON.stringify({ event: event.type === 'transfer:hashing' ? 'hashing' : 'progress', bytes, total, rate: Math.round(rate) }))
              }
            } else if (tty) {
              process.stderr.write(`\r${progressLine(event.type === 'transfer:hashing' ? 'hashing' : 'sending', bytes, total, rate)}\x1b[K`)
            }
          }
        })
        if (tty) process.stderr.write('\n')
        printSent({ ...result })
      })
    })

  program.command('query')
    .description('send an RPC request and print the reply')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<type>', 'request type, e.g. echo')
    .argument('[json_body]', 'request body as JSON', 'null')
    .option('--netuid <n>', 'subnet (default the first in the config)', (v) => collectInt(v)[0])
    .option('--timeout <ms>', 'reply deadline in ms', parseTimeout)
    .option('--encrypt', 'encrypt the request and its reply end to end')
    .action(async (dest: string, type: string, jsonBody: string, opts: { netuid?: number, timeout?: number, encrypt?: boolean }) => {
      let body: unknown
      try {
        body = JSON.parse(jsonBody)
      } catch {
        throw new UsageError(`request body is not valid JSON: ${jsonBody}`)
      }
      await withPeer(async (peer) => {
        const started = performance.now()
        const remote = await peer.connect(dest)
        const reply = await peer.request(dest, type, body, { netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt === true })
        const ms = Math.round((performance.now() - started) * 1000) / 1000
        emit({ from: remote.ss58, body: reply, ms }, JSON.stringify(jsonSafe(reply), null, 2))
      })
    })

  program.command('message')
    .description('send a control message through the durable outbox and wait for its ack')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<action>', 'what the message asks for')
    .argument('[payload]', 'payload: JSON, or else taken as a string')
    .option('--netuid <n>', 'subnet (default the first in the config)', (v) => collectInt(v)[0])
    .option('--timeout <ms>', 'ack deadline of each attempt in ms', parseTimeout)
    .option('--no-encrypt', 'send without end-to-end encryption (a trusted link)')
    .option('--no-queue', 'send directly and fail fast if the receiver is not reachable (nothing is queued)')
    .option('--detach', 'queue it and return at once; the listener (or the next `subwire listen`) delivers it')
    .action(async (dest: string, action: string, payloadArg: string | undefined, opts: { netuid?: number, timeout?: number, encrypt: boolean, queue: boolean, detach?: boolean }) => {
      let payload: unknown = null
      if (payloadArg !== undefined) {
        try { payload = JSON.parse(payloadArg) } catch { payload = payloadArg }
      }
      const started = performance.now()
      if (opts.queue) {
        await queuedSend({ op: 'message', dest, action, payload, netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt },
          async (peer) => await peer.message(dest, action, payload, { queue: true, netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt }),
          { detach: opts.detach === true }, (e) => {
            const ms = Math.round((performance.now() - started) * 1000) / 1000
            const to = typeof e.to === 'string' ? e.to : dest
            emit({ event: 'acked', to, id: e.id, action, ms }, `delivered "${action}" to ${to} (${ms} ms)`)
          })
        return
      }
      await withPeer(async (peer) => {
        const remote = await peer.connect(dest)
        const id = await peer.message(dest, action, payload, { netuid: opts.netuid, timeout: opts.timeout, encrypt: opts.encrypt })
        const ms = Math.round((performance.now() - started) * 1000) / 1000
        emit({ event: 'acked', to: remote.ss58, id, action, ms }, `delivered "${action}" to ${remote.ss58} (${ms} ms)`)
      })
    })

  const queue = program.command('queue')
    .description('the durable outbox: what waits for delivery, and the dead-letter list')
  const queueOp = async (request: Record<string, unknown>, local: (peer: NodePeer) => Promise<ControlEvent>): Promise<ControlEvent> => {
    await readConfig(home())
    let answer: ControlEvent | undefined
    const viaListener = await controlRequest(home(), request, (e) => { answer = e })
    if (!viaListener) await withPeer(async (peer) => { answer = await local(peer) }, [], undefined, undefined, { start: false })
    if (answer === undefined) throw new Error('the listener closed the control connection without an answer')
    if (answer.event === 'error') throw errorFromWire({ name: String(answer.error), message: String(answer.message) })
    return answer
  }
  const printItems = (items: Array<Record<string, unknown>>, dead: boolean): void => {
    if (globals().json === true) {
      for (const i of items) io.stdout(JSON.stringify(i))
      return
    }
    if (items.length === 0) {
      io.stdout(dead ? 'the dead-letter list is empty' : 'the outbox is empty')
      return
    }
    const when = (t: number): string => t <= Date.now() ? 'now' : `in ${Math.ceil((t - Date.now()) / 1000)} s`
    for (const i of items) {
      const err = i.lastError as { name: string, message: string } | undefined
      io.stdout(`${String(i.id)}  ${String(i.kind)} "${String(i.label)}"  ${formatBytes(i.size as number)}  to ${String(i.dest)}\n` +
        `    attempts ${String(i.attempts)}` + (dead ? '' : `, next ${when(i.nextAttemptAt as number)}`) +
        (i.kind === 'file' && (i.progress as number) > 0 ? `, ${formatBytes(i.progress as number)} acknowledged` : '') +
        (err === undefined ? '' : `\n    last error ${err.name}: ${err.message}`))
    }
  }
  queue.command('list')
    .description('items waiting for delivery: destination, kind, size, attempts, next attempt, last error')
    .action(async () => {
      const a = await queueOp({ op: 'list' }, async (peer) => ({ event: 'list', items: (await (peer.outbox as NonNullable<NodePeer['outbox']>).list()).map(viewToJson) }))
      printItems(a.items as Array<Record<string, unknown>>, false)
    })
  queue.command('dead')
    .description('the dead-letter list: items given up, with their last error')
    .action(async () => {
      const a = await queueOp({ op: 'dead' }, async (peer) => ({ event: 'dead', items: (await (peer.outbox as NonNullable<NodePeer['outbox']>).dead()).map(viewToJson) }))
      printItems(a.items as Array<Record<string, unknown>>, true)
    })
  queue.command('retry')
    .description('retry an item now (a dead one returns to the outbox with fresh attempts), or every item with --all')
    .argument('[id]', 'item id')
    .option('--all', 'every pending and dead item')
    .action(async (id: string | undefined, opts: { all?: boolean }) => {
      if ((id === undefined) === (opts.all !== true)) throw new UsageError('give an item id or --all')
      const target = opts.all === true ? 'all' : id as string
      const a = await queueOp({ op: 'retry', id: target }, async (peer) => ({ event: 'retried', count: await (peer.outbox as NonNullable<NodePeer['outbox']>).retry(target) }))
      emit(a, `retrying ${String(a.count)} item(s)`)
    })
  queue.command('drop')
    .description('remove an item without delivering it')
    .argument('<id>', 'item id')
    .action(async (id: string) => {
      const a = await queueOp({ op: 'drop', id }, async (peer) => { await (peer.outbox as NonNullable<NodePeer['outbox']>).drop(id); return { event: 'dropped', id } })
      emit(a, `dropped ${id}`)
    })

  const peers = program.command('peers')
    .description('list the address book (hotkey → addresses)')
    .action(async () => {
      await readConfig(home())
      await withBook(async (book) => {
        const entries = await book.list()
        if (globals().json === true) {
          for (const e of entries) emit({ ...e })
        } else if (entries.length === 0) {
          io.stdout('the address book is empty')
        } else {
          for (const e of entries) io.stdout(`${e.ss58}  ${e.peerId}\n${e.addrs.map((a) => `    ${a}`).join('\n')}`)
        }
      })
    })
  peers.command('add')
    .description('add an address for a hotkey')
    .argument('<ss58>', 'hotkey')
    .argument('<multiaddr>', 'address ending in /p2p/<PeerId>')
    .action(async (ss58: string, addr: string) => {
      if (!isSs58(ss58)) throw new UsageError(`"${ss58}" is not an SS58 address`)
      const match = /^(\/.+)\/p2p\/([^/]+)$/.exec(addr)
      if (match === null) throw new UsageError('the multiaddr must end in /p2p/<PeerId>')
      await withBook(async (book) => {
        const old = await book.get(ss58)
        const addrs = [match[1] as string, ...(old !== undefined && old.peerId === match[2] ? old.addrs : [])]
        await book.put({ ss58, peerId: match[2] as string, addrs: [...new Set(addrs)], updatedAt: Date.now() })
        emit({ event: 'added', ss58, peerId: match[2], addrs }, `added ${ss58}`)
      })
    })
  peers.command('remove')
    .description('forget a hotkey')
    .argument('<ss58>', 'hotkey')
    .action(async (ss58: string) => {
      await withBook(async (book) => {
        if (!(await book.delete(ss58))) throw new UnknownDestinationError(`${ss58} is not in the address book`)
        emit({ event: 'removed', ss58 }, `removed ${ss58}`)
      })
    })

  const acl = program.command('acl')
    .description('access control: allow/block lists (SS58, PeerId, IP or CIDR) and the subnet firewall, in <home>/acl.json; a running listener applies changes at once')
  const editAcl = async (change: (file: AclFile) => string): Promise<void> => {
    await readConfig(home())
    const file = await readAclFile(home())
    const what = change(file)
    await writeAclFile(home(), file)
    emit({ event: 'acl', change: what, allow: file.allow, block: file.block, firewall: file.firewall }, what)
  }
  const entries = (list: string[]): string[] => list.map((e) => parseAclEntry(e).text)
  acl.command('allow')
    .description('admit these (when the allow list is non-empty, only matching peers connect in); with --netuid, admit SS58s through that subnet\'s firewall')
    .argument('<entry...>', 'SS58, PeerId, IP or CIDR')
    .option('--netuid <n>', 'admit to this subnet\'s firewall list instead', (v) => collectInt(v)[0])
    .action(async (list: string[], opts: { netuid?: number }) => {
      await editAcl((f) => {
        if (opts.netuid !== undefined) {
          for (const e of list) if (!isSs58(e)) throw new UsageError(`the firewall admits hotkeys: "${e}" is not an SS58 address`)
          const key = String(opts.netuid)
          f.firewall.admitted[key] = [...new Set([...(f.firewall.admitted[key] ?? []), ...list])]
          return `admitted ${list.join(', ')} to subnet ${opts.netuid}${f.firewall.netuids.includes(opts.netuid) ? '' : ' (the firewall is off there: subwire acl firewall on ' + opts.netuid + ')'}`
        }
        f.allow = [...new Set([...f.allow, ...entries(list)])]
        return `allowed ${list.join(', ')}`
      })
    })
  acl.command('block')
    .description('refuse these, in and out; the block list wins over every allow')
    .argument('<entry...>', 'SS58, PeerId, IP or CIDR')
    .action(async (list: string[]) => {
      await editAcl((f) => {
        f.block = [...new Set([...f.block, ...entries(list)])]
        return `blocked ${list.join(', ')}`
      })
    })
  acl.command('remove')
    .description('remove entries from the allow and block lists (and from every firewall list)')
    .argument('<entry...>', 'as listed')
    .action(async (list: string[]) => {
      await editAcl((f) => {
        const drop = new Set(list.map((e) => e.trim()))
        let removed = 0
        const keep = (l: string[]): string[] => l.filter((e) => drop.has(e) ? (removed++, false) : true)
        f.allow = keep(f.allow)
        f.block = keep(f.block)
        for (const [k, l] of Object.entries(f.firewall.admitted)) f.firewall.admitted[k] = keep(l)
        if (removed === 0) throw new UsageError(`none of ${list.join(', ')} is in acl.json`)
        return `removed ${removed} entr${removed === 1 ? 'y' : 'ies'}`
      })
    })
  acl.command('firewall')
    .description('turn the fail-closed subnet firewall on or off for a subnet (on with nobody admitted: nobody gets in)')
    .argument('<state>', 'on or off')
    .argument('<netuid>', 'subnet', (v) => collectInt(v)[0])
    .action(async (state: string, netuid: number) => {
      if (state !== 'on' && state !== 'off') throw new UsageError('state must be "on" or "off"')
      await editAcl((f) => {
        f.firewall.netuids = state === 'on' ? [...new Set([...f.firewall.netuids, netuid])] : f.firewall.netuids.filter((n) => n !== netuid)
        const admitted = f.firewall.admitted[String(netuid)]?.length ?? 0
        return `firewall ${state} for subnet ${netuid}` + (state === 'on' ? ` (${admitted} hotkey(s) admitted${admitted === 0 ? ': nobody gets in' : ''})` : '')
      })
    })
  acl.command('list')
    .description('show the allow and block lists and the firewall')
    .action(async () => {
      await readConfig(home())
      const f = await readAclFile(home())
      if (globals().json === true) {
        emit({ allow: f.allow, block: f.block, firewall: f.firewall })
        return
      }
      const lines = [
        `allow (${f.allow.length === 0 ? 'empty: everyone not blocked may connect' : 'only these may connect in'}):`, ...f.allow.map((e) => `  ${e}`),
        `block (${f.block.length}):`, ...f.block.map((e) => `  ${e}`),
        `firewall: ${f.firewall.netuids.length === 0 ? 'off' : `on for subnet(s) ${f.firewall.netuids.join(', ')}`}`,
        ...Object.entries(f.firewall.admitted).map(([n, l]) => `  subnet ${n}: ${l.length === 0 ? '(nobody)' : l.join(', ')}`)
      ]
      io.stdout(lines.join('\n'))
    })

  async function withBook (fn: (book: AddressBook) => Promise<void>): Promise<void> {
    await fn(new FileAddressBook(join(home(), ADDRESS_BOOK_FILE)))
  }

  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode
    }
    const e = err as Error
    code = e.name === UsageError.name ? 2 : 1
    if (globals().json === true) io.stdout(JSON.stringify({ event: 'error', error: e.name, message: e.message }))
    io.stderr(`subwire: ${e.message}`)
    if (process.env.SUBWIRE_DEBUG !== undefined) io.stderr(e.stack ?? '')
  }
  return code
}

