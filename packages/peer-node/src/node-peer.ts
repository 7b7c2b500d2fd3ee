/**
 * The Node peer: a libp2p node with QUIC (primary) and TCP + TLS 1.3 or Noise + yamux (fallback),
 * identify, ping and subwire's Kademlia DHT (`/subwire/kad/1.0.0`, server mode when the
 * peer listens, client mode when it only dials), carrying the shared subwire protocol engine.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { quic } from '@chainsafe/libp2p-quic'
import { applyQuicReadSize } from './quic-read-size.ts'
import { guardedWebSockets } from './ws-guard.ts'
import { guardedTcp } from './tcp-guard.ts'
import type { SocketGuard, SocketRefusals } from './tcp-guard.ts'
import { webRTCDirectTransport } from './webrtc-direct/index.ts'
import { quietLogger } from './quiet-logger.ts'
import type { WebSocketGuardInit } from './ws-guard.ts'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { tls } from '@libp2p/tls'
import { ping } from '@libp2p/ping'
import { keychain } from '@libp2p/keychain'
import { MemoryDatastore, MountDatastore } from 'datastore-core'
import { FsDatastore } from 'datastore-fs'
import { Key } from 'interface-datastore'
import { AccessControl, aclConnectionGater, ConnectionRate, UpgradeLimiter, CONNECTION_MONITOR, createOutboxCipher, createSubwire, InvalidConfigError, kadRecordRouting, MemoryAddressBook, MemoryQueueStore, Outbox, SubwirePeer, subwireDhtInit } from '@subwire/shared'
import { WebTransportUnavailableError } from './webtransport/errors.ts'
import { loopbackAddressLast, publicAddressesFirst, reliableTransportsFirst } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { logger } from '@libp2p/logger'
import type { Libp2pInit } from 'libp2p'
import { FileAddressBook } from './address-book-file.ts'
import { MetagraphSource } from './metagraph.ts'
import type { MetagraphSourceInit } from './metagraph.ts'
import {
  ADDRESS_BOOK_FILE,
  DATASTORE_DIR,
  DEFAULT_LISTEN,
  DEFAULT_WEBTRANSPORT_LISTEN,
  INBOUND_CONNECTIONS_PER_SECOND,
  MAX_CONNECTIONS,
  MAX_INCOMING_PENDING_CONNECTIONS,
  OUTBOX_DB_FILE,
  REDIAL_BACKOFF_FACTOR,
  REDIAL_INTERVAL_MS,
  REDIAL_RETRIES,
  WEBTRANSPORT_CERTS_FILE,
  PARTIAL_COLLECT_INTERVAL_MS,
  OUTBOARD_DIR
} from './constants.ts'
import { denoQuic, fileCertificateStore, memoryCertificateStore, webTransportListener } from './webtransport/index.ts'
import type { WebTransportListenerInit } from './webtransport/index.ts'
import { loadOrCreatePeerKey } from './home.ts'
import { firewallFromAclFile, readAclFile, watchAclFile } from './acl-file.ts'
import type { AclFile } from './acl-file.ts'
import { NodeFileSource, NodeFileStore } from './files.ts'
import { NodeFolderSource } from './folder-source.ts'
import { NODE_TRANSPORTS } from './transports.ts'
import type { NodeTransport } from './transports.ts'
import { Outboard } from './outboard.ts'
import { chooseBlake3 } from './blake3.ts'
import { fileReferencer, processLeaseOwner, SqliteQueueStore } from './queue-store.ts'
import type { UpgradeLimitsInit } from '@subwire/shared'
import type { AbortOptions, AclRules, AddressBook, FileSource, FolderSource, HotkeySource, KadService, OutboxInit, QueuedItem, QueueStore, SendFileResult, SendFolderResult, Signer, Subwire, SubwireInit, SubwireSendFileOptions, SubwireSendFolderOptions } from '@subwire/shared'
import type { Connection, Libp2p } from '@libp2p/interface'
import type { Address, ComponentLogger, PrivateKey } from '@libp2p/interface'

export { NODE_TRANSPORTS } from './transports.ts'
export type { NodeTransport } from './transports.ts'

/** Configuration of a Node peer. */
export interface NodePeerInit {
  /** The hotkey. */
  signer: Signer
  /** Subnets served. */
  netuids: number[]
  /**
   * Listen multiaddrs; default QUIC and TCP on port 4701, WebRTC-Direct and WebSockets on
   * 4702, and WebTransport on UDP 4703 when that transport is on. `[]`: dial only.
   */
  listen?: string[]
  /** Home directory holding `peer.key` and `addressbook.json`; none: ephemeral key and in-memory book. */
  home?: string | undefined
  /** libp2p private key; overrides the one in the home. */
  privateKey?: PrivateKey
  /** Address book; overrides the one in the home. */
  addressBook?: AddressBook
  /** Transports to enable (default all of {@link NODE_TRANSPORTS}). */
  transports?: NodeTransport[]
  /**
   * New inbound connections let in per second from one source (IPv4 address, IPv6 /64),
   * sustained (default 10); TCP and WebSockets sockets over it are reset before libp2p
   * sees them, QUIC, WebRTC-Direct and WebTransport ones refused by the connection gater.
   */
  inboundConnectionsPerSecond?: number
  /** New inbound connections let in at once from one source after a quiet spell (default the larger of 50 and `inboundConnectionsPerSecond`). */
  inboundConnectionsBurst?: number
  /** Bounds on inbound connections still in their security handshake, per source IP (see {@link UpgradeLimitsInit}). */
  upgrades?: UpgradeLimitsInit
  /** Bounds on WebSockets sockets still in their HTTP upgrade, before libp2p sees them (see {@link WebSocketGuardInit}). */
  webSockets?: WebSocketGuardInit
  /** Protocol options passed to the engine. */
  protocol?: Omit<SubwireInit, 'netuids'>
  /** Receive files into this directory (`inbox/`, `partial/`); none: files are refused. */
  filesDir?: string | undefined
  /**
   * Partial transfers in `filesDir` untouched for this long are deleted, at start and then
   * hourly (a sender that never came back).
   *
   * @default 7 days
   */
  partialMaxAgeMs?: number | undefined
  /** Logger factory (default libp2p's debug logger). */
  logger?: ComponentLogger
  /**
   * Allow/block lists. Default: `<home>/acl.json` (reloaded live when it changes), or
   * allow-all without a home. An {@link AccessControl} given here can be updated by the caller.
   */
  acl?: AclRules | AccessControl
  /** Watch `<home>/acl.json` and apply changes without a restart (default true with a home). */
  watchAcl?: boolean
  /** Called after each live reload of `acl.json` (or with the error that kept the old rules). */
  onAclReload?: (result: { acl: AclFile, closed: number } | Error) => void
  /**
   * The outbox store: default `<home>/outbox.db` (SQLite), or in memory without a home.
   * It is also the receiver's delivery log (ids already delivered). `false`: no outbox.
   */
  queue?: QueueStore | false
  /** Outbox backoff, attempts and expiry. */
  outbox?: OutboxInit
  /** WebTransport listener options (certificate store, clock, rotation), with `transports` including `webtransport`. */
  webtransport?: Partial<WebTransportListenerInit>
  /** libp2p's metrics (e.g. `prometheusMetrics()` of `@libp2p/prometheus-metrics`); none by default. */
  metrics?: Libp2pInit['metrics']
  /** Multiaddrs (ending in `/p2p/<PeerId>`) of DHT peers dialled at start (`--bootstrap`). */
  bootstrap?: string[] | undefined
  /**
   * subwire's DHT: `false` turns it off; `server` answers DHT queries (default: when the peer
   * listens); `publicAddressesOnly` keeps private and loopback addresses out of the routing
   * table (default false, so a LAN or one machine works; set it on the public internet).
   */
  dht?: false | { server?: boolean, publicAddressesOnly?: boolean } | undefined
  /** Sources asked after the address book and the DHT (e.g. the metagraph). */
  sources?: HotkeySource[] | undefined
  /**
   * The subtensor node's RPC (`ws://…`, or the metagraph options): a {@link MetagraphSource}
   * for the served subnets is added as the last source (dials axons by IP and port).
   */
  subtensor?: string | (Omit<MetagraphSourceInit, 'netuids'> & { netuids?: number[] }) | undefined
}

/** A running subwire peer on Node: {@link SubwirePeer} plus files sent from a path. */
export class NodePeer extends SubwirePeer {
  readonly #home: string | undefined
  readonly #watch: boolean
  readonly #onAclReload: NodePeerInit['onAclReload']
  /** The last ACL application queued (see {@link NodePeer.applyAcl}). */
  #aclTurn: Promise<unknown> = Promise.resolve()
  #unwatch: (() => void) | undefined

  readonly #ownedStore: QueueStore | undefined
  readonly #files: NodeFileStore | undefined
  readonly #outboard: Outboard | undefined
  readonly #refusals: SocketRefusals
  #collector: ReturnType<typeof setInterval> | undefined

  /** Use {@link createNodePeer}. */
  constructor (libp2p: Libp2p, subwire: Subwire, addressBook: AddressBook, init: Pick<NodePeerInit, 'home' | 'watchAcl' | 'onAclReload'> = {}, outbox?: Outbox, ownedStore?: QueueStore, files?: NodeFileStore, refusals: SocketRefusals = { overRate: 0 }) {
    super(libp2p, subwire, addressBook, outbox)
    this.#refusals = refusals
    this.#ownedStore = ownedStore
    this.#files = files
    this.#outboard = init.home === undefined ? undefined : new Outboard(join(init.home, OUTBOARD_DIR))
    this.#home = init.home
    this.#watch = init.home !== undefined && (init.watchAcl ?? true)
    this.#onAclReload = init.onAclReload
  }

  /**
   * Inbound TCP and WebSockets sockets reset before libp2p saw them because their source
   * (IPv4 address, IPv6 /64) was over its connection rate (`inboundConnectionsPerSecond`).
   */
  get socketsRefused (): number {
    return this.#refusals.overRate
  }

  /** Starts libp2p and the protocol, then watches `acl.json` for live changes. */
  override async start (options: AbortOptions = {}): Promise<void> {
    await super.start(options)
    if (this.#files !== undefined && this.#collector === undefined) {
      const files = this.#files
      const collect = (): void => { void files.collect().catch(() => {}) }
      collect()
      this.#collector = setInterval(collect, PARTIAL_COLLECT_INTERVAL_MS)
      this.#collector.unref()
    }
    if (this.#watch && this.#home !== undefined && this.#unwatch === undefined) {
      this.#unwatch = watchAclFile(this.#home, (acl) => { void this.#applyAcl(acl) })
    }
  }

  /** Stops watching, then stops the protocol and libp2p. */
  override async stop (): Promise<void> {
    clearInterval(this.#collector)
    this.#collector = undefined
    this.#unwatch?.()
    this.#unwatch = undefined
    await super.stop()
    await this.#ownedStore?.close()
  }

  /**
   * Applies an ACL file now: new rules for the gater and the handshake, the new firewall,
   * and every live connection re-checked (blocked peers are disconnected).
   */
  async applyAcl (acl: AclFile): Promise<number> {
    return await this.#inAclTurn(async () => await this.#apply(acl))
  }

  async #apply (acl: AclFile): Promise<number> {
    this.subwire.acl.update(acl)
    await this.subwire.setFirewall(firewallFromAclFile(acl, this.subwire.netuids))
    return await this.subwire.recheckAccess()
  }

  /**
   * Runs `fn` after every ACL application before it: two of them interleaving (an edit
   * through the local API and the file watcher's reload of an earlier write) could leave
   * the older firewall in force.
   */
  async #inAclTurn<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#aclTurn.then(fn)
    this.#aclTurn = run.catch(() => {})
    return await run
  }

  /** The watcher's reload: the file is read again at its turn, so an older version never wins over a newer one applied meanwhile. */
  async #applyAcl (acl: AclFile | Error): Promise<void> {
    if (acl instanceof Error) {
      this.#onAclReload?.(acl)
      return
    }
    const home = this.#home
    try {
      const result = await this.#inAclTurn(async () => {
        const current = home === undefined ? acl : await readAclFile(home)
        return { acl: current, closed: await this.#apply(current) }
      })
      this.#onAclReload?.(result)
    } catch (err) {
      this.#onAclReload?.(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * Sends a file (a path, or any {@link FileSource}); resolves once the receiver has
   * verified it and moved it into its inbox. See {@link Subwire.sendFile}. With
   * `queue: true` it is queued (a path is referenced, not copied) and the id returned.
   */
  /**
   * Opens a file for sending under `name` (default its base name). With a home, its chunk
   * hashes are kept in `<home>/outboard/`, so sending it again unchanged skips hashing.
   */
  async openFile (path: string, name?: string): Promise<NodeFileSource> {
    return await NodeFileSource.open(path, name, { outboard: this.#outboard })
  }

  async sendFile (dest: string, source: string | FileSource, options: SubwireSendFileOptions & { name?: string, queue: true }): Promise<QueuedItem>
  async sendFile (dest: string, source: string | FileSource, options?: SubwireSendFileOptions & { name?: string, queue?: false }): Promise<SendFileResult>
  async sendFile (dest: string, source: string | FileSource, options?: SubwireSendFileOptions & { name?: string, queue?: boolean }): Promise<SendFileResult | QueuedItem>
  async sendFile (dest: string, source: string | FileSource, options: SubwireSendFileOptions & { name?: string, queue?: boolean } = {}): Promise<SendFileResult | QueuedItem> {
    if (typeof source !== 'string') return await this.sendFileFrom(dest, source, options)
    const src = await this.openFile(source, options.name)
    try {
      return await this.sendFileFrom(dest, src, options)
    } finally {
      await src.close()
    }
  }

  /** Lists a directory for sending as a folder (regular files only; symbolic links are skipped, never followed). */
  async openFolder (path: string, name?: string): Promise<NodeFolderSource> {
    return await NodeFolderSource.open(path, { name, outboard: this.#outboard })
  }

  /**
   * Sends a folder (a directory path, or any {@link FolderSource}) as one transfer; resolves
   * once the receiver has verified every file and moved the folder into its inbox. See
   * {@link Subwire.sendFolder}.
   */
  override async sendFolder (dest: string, folder: string | FolderSource, options: SubwireSendFolderOptions & { name?: string } = {}): Promise<SendFolderResult> {
    const source = typeof folder === 'string' ? await this.openFolder(folder, options.name) : folder
    return await super.sendFolder(dest, source, options)
  }
}

/** The peer runs under Deno (`subwire listen --webtransport`), not Node. */
const RUNS_UNDER_DENO = 'Deno' in globalThis

const isQuic = (a: Address): 0 | 1 => a.multiaddr.toString().includes('/quic-v1') ? 0 : 1

/** libp2p's default order (loopback last, public first) with QUIC, our primary transport, ahead of TCP. */
function quicFirst (a: Address, b: Address): -1 | 0 | 1 {
  return loopbackAddressLast(a.multiaddr, b.multiaddr) ||
    publicAddressesFirst(a.multiaddr, b.multiaddr) ||
    (Math.sign(isQuic(a) - isQuic(b)) as -1 | 0 | 1) ||
    reliableTransportsFirst(a.multiaddr, b.multiaddr)
}

/** Datastore prefixes kept on disk: the keychain's keys and the WebRTC-Direct certificate (a stable certhash). */
const PERSISTED_PREFIXES = ['/pkcs8', '/info', '/libp2p/webrtc-direct']
/** What earlier versions kept on disk and no longer do: the peer store and the DHT's tables. */
const FORMERLY_PERSISTED = ['peers', 'subwire-dht']

/**
 * libp2p's datastore for a home: the keychain and the WebRTC-Direct certificate on disk,
 * everything else (the peer store with every address libp2p heard of, the DHT's routing
 * table, records and providers) in memory. A restarted or one-shot peer so never
 * restores peers of an earlier run (a dead one would hold the DHT's first self-lookup,
 * which every query waits for) and the home holds no address nobody chose to keep.
 */
async function openDatastore (dir: string): Promise<MountDatastore> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  for (const d of FORMERLY_PERSISTED) await rm(join(dir, d), { recursive: true, force: true })
  const disk = new FsDatastore(dir)
  await disk.open()
  return new MountDatastore([
    ...PERSISTED_PREFIXES.map((p) => ({ prefix: new Key(p), datastore: disk })),
    { prefix: new Key('/'), datastore: new MemoryDatastore() }
  ])
}

/** The outbox's at-rest key, bound to this peer's key (owner-only in the home): a copied outbox.db alone reveals nothing. */
function outboxKey (key: PrivateKey): Uint8Array {
  return new Uint8Array(createHash('sha256').update('subwire-outbox-v1').update(key.raw).digest())
}

/** A keychain pass bound to this peer's key: the keychain holds only derived, local secrets. */
function keychainPass (key: PrivateKey): string {
  return createHash('sha256').update('subwire-keychain-v1').update(key.raw).digest('hex')
}

/** What {@link libp2pOptions} needs beyond the peer's init. */
interface Libp2pParts {
  transports: readonly NodeTransport[]
  listen: string[]
  privateKey: PrivateKey
  datastore: MountDatastore | undefined
  acl: AccessControl
  upgrades: UpgradeLimiter
  sockets: SocketGuard
}

/** A remote address of a connection over TCP (plain, or WebSockets over TCP). */
const TCP_BASED = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\//

/** The libp2p node's options: transports, encryption, muxer, services and connection limits of a Node peer. */
function libp2pOptions (init: NodePeerInit, { transports, listen, privateKey, datastore, acl, upgrades, sockets }: Libp2pParts) {
  const webtransport = transports.includes('webtransport')
  return {
    start: false,
    privateKey,
    ...(datastore === undefined ? {} : { datastore }),
    logger: init.logger ?? quietLogger(),
    ...(init.metrics === undefined ? {} : { metrics: init.metrics }),
    addresses: { listen },
    connectionGater: upgrades.gater(aclConnectionGater(acl)),
    transports: [
      ...(transports.includes('quic') ? [quic()] : []),
      ...(transports.includes('tcp') ? [guardedTcp(sockets)] : []),
      ...(transports.includes('webrtc-direct') ? [webRTCDirectTransport()] : []),
      ...(transports.includes('ws') ? [guardedWebSockets(init.webSockets, init.logger?.forComponent('subwire:ws') ?? logger('subwire:ws'), sockets)] : []),
      ...(webtransport
        ? [webTransportListener({
            certificates: init.home === undefined ? memoryCertificateStore() : fileCertificateStore(join(init.home, WEBTRANSPORT_CERTS_FILE)),
            ...init.webtransport
          })]
        : [])
    ],
    // TCP and WebSockets between Node peers negotiate TLS 1.3 (OpenSSL): 100 KiB RPC went
    // ~1.5x faster than with Noise, and 1 GiB files ~15 % faster with V8's young generation at
    // 1 MiB semi-spaces, as the CLI launcher sets (at 2 MiB about as fast as Noise, with a
    // heavier sender; docs/PERFORMANCE.md, "TLS between Node peers").
    // Browsers have no libp2p TLS and propose Noise, which every peer also accepts. Under Deno
    // (`listen --webtransport`) Noise only: its node:tls is not known to run over a JS stream.
    connectionEncrypters: RUNS_UNDER_DENO ? [noise()] : [tls(), noise()],
    // yamux's default windows: a larger initialStreamWindowSize (tried: 4 MiB) gained
    // nothing for files and deadlocked a one-way bulk stream in a test here
    streamMuxers: [yamux()],
    services: {
      // identify is not run on every new connection: an unauthenticated flood would make us do its work (subwire's handshake carries the addresses)
      identify: identify({ runOnConnectionOpen: false }),
      ping: ping(),
      // a dial-only peer with no bootstrap peer has nobody to ask: no DHT (its restored routing
      // table would only make libp2p dial peers of an earlier run at their old addresses)
      ...(init.dht === false || (listen.length === 0 && (init.bootstrap ?? init.protocol?.bootstrap ?? []).length === 0)
        ? {}
        : {
            dht: kadDHT({
              ...subwireDhtInit(),
              clientMode: !(init.dht?.server ?? listen.length > 0),
              peerInfoMapper: init.dht?.publicAddressesOnly === true ? removePrivateAddressesMapper : passthroughMapper,
              logPrefix: 'libp2p:subwire-kad',
              datastorePrefix: '/subwire-dht'
            })
          }),
      ...(datastore === undefined ? {} : { keychain: keychain({ pass: keychainPass(privateKey) }) })
    },
    connectionMonitor: { ...CONNECTION_MONITOR },
    connectionManager: {
      // libp2p's fixed window (from a source's first connection) must let through what the
      // token buckets below libp2p (tcp-guard.ts) and in the gater (UpgradeLimiter) let in
      // within one second: the burst, and the refill meanwhile
      inboundConnectionThreshold: sockets.rate.burst + Math.ceil(sockets.rate.perSecond),
      maxConnections: MAX_CONNECTIONS,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      reconnectRetries: REDIAL_RETRIES,
      reconnectRetryInterval: REDIAL_INTERVAL_MS,
      reconnectBackoffFactor: REDIAL_BACKOFF_FACTOR,
      addressSorter: quicFirst
    }
  }
}

/** Creates (but does not start) a Node peer. */
export async function createNodePeerImpl (init: NodePeerInit): Promise<NodePeer> {
  const transports = init.transports ?? [...NODE_TRANSPORTS]
  if (transports.length === 0) throw new InvalidConfigError('At least one transport is needed')
  const webtransport = transports.includes('webtransport')
  if (webtransport && init.webtransport?.deno === undefined && denoQuic() === undefined) {
    throw new WebTransportUnavailableError('The webtransport transport needs Deno with --unstable-net (run "subwire listen --webtransport")')
  }
  const listen = init.listen ?? (webtransport ? [...DEFAULT_LISTEN, DEFAULT_WEBTRANSPORT_LISTEN] : DEFAULT_LISTEN)
  const privateKey = init.privateKey ?? (init.home === undefined ? await generateKeyPair('Ed25519') : await loadOrCreatePeerKey(init.home))
  const addressBook = init.addressBook ?? (init.home === undefined ? new MemoryAddressBook() : new FileAddressBook(join(init.home, ADDRESS_BOOK_FILE)))
  // With a home, a datastore on disk and a keychain keep the WebRTC-Direct certificate,
  // so the certhash in the browser address is stable. The keychain's pass is derived from
  // the peer key, which is already owner-only on disk.
  const datastore = init.home === undefined ? undefined : await openDatastore(join(init.home, DATASTORE_DIR))
  const aclFile = init.acl === undefined && init.home !== undefined ? await readAclFile(init.home) : undefined
  const acl = init.acl instanceof AccessControl ? init.acl : new AccessControl(init.acl ?? aclFile)
  const rate = { perSecond: init.inboundConnectionsPerSecond ?? INBOUND_CONNECTIONS_PER_SECOND, burst: init.inboundConnectionsBurst }
  // TCP and WebSockets sockets are counted by the socket guard (when the TCP or ws transport listens), the rest by the gater
  const guardedBelow = transports.includes('tcp') || transports.includes('ws')
  const upgrades = new UpgradeLimiter({
    log: init.logger?.forComponent('subwire:auth') ?? logger('subwire:auth'),
    rate: new ConnectionRate(rate),
    ratedBelow: guardedBelow ? (maConn) => TCP_BASED.test(maConn.remoteAddr.toString()) : undefined
  }, init.upgrades)
  const sockets: SocketGuard = { rate: new ConnectionRate(rate), refusals: { overRate: 0 }, log: init.logger?.forComponent('subwire:sockets') ?? logger('subwire:sockets') }
  const libp2p = await createLibp2p(libp2pOptions(init, { transports, listen, privateKey, datastore, acl, upgrades, sockets }))
  await chooseBlake3(libp2p.logger.forComponent('subwire:files'))
  // the package reads 4 KiB per native call; every stream is created after start, so this is in time
  if (transports.includes('quic')) await applyQuicReadSize(libp2p.logger.forComponent('subwire:quic'))
  const files = init.filesDir === undefined ? undefined : new NodeFileStore(init.filesDir, { partialMaxAgeMs: init.partialMaxAgeMs })
  const firewall = init.protocol?.firewall ?? (aclFile === undefined ? undefined : firewallFromAclFile(aclFile, init.netuids))
  const ownedStore = init.queue === undefined
    ? (init.home === undefined ? new MemoryQueueStore() : await SqliteQueueStore.open(join(init.home, OUTBOX_DB_FILE)))
    : undefined
  const store = init.queue === false ? undefined : init.queue ?? ownedStore
  const services = libp2p.services as { dht?: KadService, identify?: { identify: (c: Connection) => Promise<unknown> } }
  const dht = services.dht === undefined
    ? undefined
    : kadRecordRouting({
      dht: services.dht,
      identify: services.identify,
      connection: (id) => libp2p.getConnections().find((c) => c.id === id),
      connected: (peerId) => libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId),
      log: libp2p.logger.forComponent('subwire:discovery')
    })
  const chain = typeof init.subtensor === 'string' ? { url: init.subtensor } : init.subtensor
  const sources = [
    ...(init.sources ?? []),
    ...(chain === undefined ? [] : [new MetagraphSource({ log: libp2p.logger.forComponent('subwire:metagraph') }, { ...chain, netuids: chain.netuids ?? init.netuids })])
  ]
  const subwire = createSubwire(
    { libp2p, signer: init.signer, addressBook, logger: init.logger, files, acl, deliveries: store, dht, sources },
    {
      ...init.protocol,
      netuids: init.netuids,
      firewall,
      bootstrap: init.bootstrap ?? init.protocol?.bootstrap,
      // large files and requests to a peer reached over QUIC go over TCP, faster here (docs/PERFORMANCE.md);
      // the caller's bulk settings go on top (setting only a threshold keeps TCP)
      bulk: { ...(transports.includes('tcp') ? { transport: 'tcp' as const } : {}), ...init.protocol?.bulk }
    })
  const outbox = store === undefined
    ? undefined
    : new Outbox({ store, cipher: await createOutboxCipher(outboxKey(privateKey)), transport: subwire, files: fileReferencer(init.home === undefined ? undefined : new Outboard(join(init.home, OUTBOARD_DIR))), log: libp2p.logger.forComponent('subwire:outbox') }, { owner: processLeaseOwner(), ...init.outbox })
  return new NodePeer(libp2p, subwire, addressBook, init, outbox, ownedStore, files, sockets.refusals)
}
