/**
 * The subwire protocol engine, shared by the Node and browser peers. It rides on a
 * started libp2p node: authenticates every connection with the hotkey handshake,
 * serves the RPC and control-message protocols of the configured subnets, and sends
 * requests and messages over one long-lived stream per connection and subnet.
 *
 * @packageDocumentation
 */
import { multiaddr } from '@multiformats/multiaddr'
import { createAttestation, SignatureCache, verifyAttestation } from './identity/attestation.ts'
import {
  ATTESTATION_RENEW_FRACTION,
  AUTH_PROTOCOL,
  BITTENSOR_SS58_PREFIX,
  DEFAULT_ATTESTATION_LIFETIME_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_HANDSHAKE_FRAME_BYTES,
  MAX_NETUID,
  MAX_TYPE_LENGTH,
  fileProtocol,
  msgProtocol,
  rpcProtocol
} from './constants.ts'
import {
  AbortError,
  AccessDeniedError,
  ConnectionClosedError,
  EncryptionUnavailableError,
  FilesNotEnabledError,
  HandshakeFailedError,
  HandshakeTimeoutError,
  InvalidConfigError,
  InvalidDestinationError,
  NotAuthenticatedError,
  NotStartedError,
  PartialFileCorruptedError,
  PeerUnreachableError,
  RateLimitedError,
  SubnetFirewallError,
  SubnetNotServedError,
  toError,
  TransferCancelledError,
  UnexpectedPeerError,
  UnknownDestinationError
} from './errors/index.ts'
import { positiveNumber } from './config.ts'
import { Emitter } from './events.ts'
import type { Listener } from './events.ts'
import { FramedStream } from './wire/framed-stream.ts'
import { initiateHandshake, respondHandshake } from './auth/handshake.ts'
import { decodeSs58, isSs58 } from './identity/ss58.ts'
import { throwIfAborted } from './abort.ts'
import { refuseChannel } from './rpc/frames.ts'
import { RpcClient } from './rpc/client.ts'
import { RpcServer } from './rpc/server.ts'
import { mergeAddrs } from './auth/address-book.ts'
import { createManifest } from './files/manifest.ts'
import { DiskReservations } from './files/reservations.ts'
import { receiveFileOverStream } from './files/receiver.ts'
import { sendFileOverStream } from './files/sender.ts'
import { decodeValue, encodeValue } from './wire/codec.ts'
import { defaultE2eBackend } from './encryption/backends.ts'
import { E2ePurpose, envelopeFromWire, fileDataCipher, openEnvelope, replyCipher, sealEnvelope } from './encryption/envelope.ts'
import { EncryptionKeyring } from './encryption/keyring.ts'
import type { E2eBackend } from './encryption/backends.ts'
import type { E2ePurposeValue } from './encryption/envelope.ts'
import { AccessControl, ipOfMultiaddr } from './auth/acl.ts'
import type { SubnetFirewallInit } from './auth/acl.ts'
import { MemoryDeliveryLog } from './outbox/store.ts'
import type { DeliveryLog } from './outbox/store.ts'
import type { FileManifest, FileOpener, FileSealer, FileOffer, FileSource, FileStore, ReceivedFile, ReceivePolicy, SendFileOptions, SendFileResult, TransferProgressEvent } from './files/types.ts'
import type { AddressBook } from './auth/address-book.ts'
import type { Attestation, SignedAttestation } from './identity/attestation.ts'
import type { Hello, HandshakeResult } from './auth/handshake.ts'
import type { AbortOptions } from './abort.ts'
import type { Signer } from './identity/signers.ts'
import type { Caller, HandlerContext, RequestLimiter, RequestOpener, RequestSealer, RpcHandler } from './rpc/types.ts'
import type { ComponentLogger, Connection, Libp2p, Logger, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What the engine is given (injected), apart from its configuration. */
export interface SubwireComponents {
  /** A libp2p node; the engine registers its protocols on it. Start it before `start()`. */
  libp2p: Libp2p
  /** Signs this peer's attestation. */
  signer: Signer
  /** Where learned addresses are kept; none: nothing is remembered. */
  addressBook?: AddressBook | undefined
  /** Logger factory; defaults to the libp2p node's. */
  logger?: ComponentLogger | undefined
  /** Where received files go; none: this peer does not receive files. */
  files?: FileStore | undefined
  /** Body of the encryption primitives; default WebCrypto where it has X25519, else noble. */
  e2eBackend?: E2eBackend | undefined
  /**
   * Allow/block lists, shared with the libp2p connection gater (see `aclConnectionGater`).
   * Update it at any time, then call {@link Subwire.recheckAccess}. Default: allow all.
   */
  acl?: AccessControl | undefined
  /**
   * Which message and transfer ids were already delivered here, so a sender's retry after
   * a lost ack is acked without reaching the application twice. Default: in memory (the
   * Node peer uses its durable outbox store).
   */
  deliveries?: DeliveryLog | undefined
}

/** Flood and abuse limits of the engine (libp2p's connection manager adds its own per-IP connection rate and caps). */
export interface FloodLimits {
  /** Inbound connections waiting for their handshake at once; more are closed at once (default 256). */
  maxPendingHandshakes?: number
  /** Handshakes started per second by one IP address (default 50, burst twice that). */
  handshakesPerSecondPerIp?: number
  /** Inbound streams per connection and protocol (default 64). */
  maxInboundStreamsPerProtocol?: number
}

/** End-to-end encryption defaults. Per call, `encrypt` overrides them. */
export interface EncryptionInit {
  /** Encrypt control messages (default true). */
  messages?: boolean
  /** Encrypt files (default true). */
  files?: boolean
  /** Encrypt RPC bodies (default false: most RPC is small and latency-bound; ask per call). */
  requests?: boolean
  /** Refuse plaintext messages, requests and files from others with `EncryptionRequiredError` (default false). */
  require?: boolean
}

/** Configuration of the engine. */
export interface SubwireInit {
  /** Subnets this peer serves. */
  netuids: number[]
  /** SS58 network prefix required of remote hotkeys (default 42, Bittensor). */
  ss58Prefix?: number
  /** A connection not authenticated by then is closed (default 5 s). */
  handshakeTimeoutMs?: number
  /** Concurrent requests one connection may have in flight here (default 1024). */
  maxConcurrentRequests?: number
  /** Default reply deadline of outgoing requests (default 30 s). */
  requestTimeoutMs?: number
  /** Lifetime of our attestation (default 24 h). */
  attestationLifetimeMs?: number
  /** Tolerated clock difference (default 30 s). */
  maxClockSkewMs?: number
  /** Largest RPC/message frame (default 16 MiB). */
  maxFrameBytes?: number
  /** Answer the built-in `echo` RPC type (default true). */
  echo?: boolean
  /** Ask libp2p to re-dial peers we connected to when their connection drops (default true). */
  redial?: boolean
  /** End-to-end encryption defaults. */
  encryption?: EncryptionInit
  /** The fail-closed subnet firewall: on these subnets, only admitted hotkeys may open protocols. */
  firewall?: SubnetFirewallInit | undefined
  /** Flood limits. */
  limits?: FloodLimits
  /** Limits and policy for received files. */
  files?: ReceivePolicy & {
    /** Give up an incoming transfer after this long without data (default 60 s). */
    idleTimeoutMs?: number
  }
}

/** A remote peer with a completed handshake. */
export interface RemotePeer {
  /** Its verified hotkey. */
  ss58: string
  /** Its PeerId. */
  peerId: string
  /** Subnets it attests to serve. */
  netuids: number[]
  /** The libp2p connection id. */
  connectionId: string
  /** The remote address of the connection. */
  remoteAddr: string
  /** Who dialled. */
  direction: 'inbound' | 'outbound'
  /** When the handshake completed (ms since epoch). */
  authenticatedAt: number
}

/** A control message received from a verified sender. */
export interface SubwireMessage {
  /** Sender-chosen id (unique per message, kept across retries). */
  id: string | undefined
  /** The verified sender's hotkey. */
  from: string
  /** The verified sender. */
  caller: Caller
  /** What the message asks for. */
  action: string
  /** Arbitrary MessagePack-encodable payload. */
  payload: unknown
}

/** Events of the engine. Listeners may be async; a message is acked after its listeners settle. */
export interface SubwireEvents {
  /** A control message arrived. A listener that throws makes the sender see the error instead of an ack. */
  message: SubwireMessage
  /** A connection completed the handshake. */
  'peer:authenticated': RemotePeer
  /** An authenticated connection closed. */
  'peer:disconnected': RemotePeer
  /** A connection failed the handshake and was closed. */
  'handshake:failed': { peerId: string, direction: 'inbound' | 'outbound', error: Error }
  /** An incoming file was accepted and bytes start to flow. */
  'file:accepted': FileOffer
  /** Progress of an incoming file. */
  'file:progress': TransferProgressEvent & { from: string }
  /** An incoming file is complete, verified and in the inbox. */
  'file:received': ReceivedFile
  /** An incoming transfer failed or was refused; what was verified is kept for a resume. */
  'file:failed': { id: string | undefined, from: string, error: Error }
}

/** Options of {@link Subwire.sendFile}. */
export interface SubwireSendFileOptions extends SendFileOptions {
  /** Subnet to use; default the first configured one. */
  netuid?: number | undefined
  /** Chunk size (default 1 MiB). */
  chunkSize?: number | undefined
  /** Encrypt end to end (default from `encryption.files`, true). */
  encrypt?: boolean | undefined
  /** Transfer id; default a random UUID. Keep it across retries so the receiver can de-duplicate. */
  id?: string | undefined
  /** A manifest made earlier of this very source (the outbox keeps one): skips the hashing pass. */
  manifest?: FileManifest | undefined
}

/** Options of requests and messages. */
export interface SendOptions extends AbortOptions {
  /** Subnet to use; default the first configured one. */
  netuid?: number | undefined
  /** Reply/ack deadline in ms (default from config). */
  timeout?: number | undefined
  /** Encrypt end to end (default from `encryption.messages` / `encryption.requests`). */
  encrypt?: boolean | undefined
}

/** Options of a control message. */
export interface MessageOptions extends SendOptions {
  /** Message id; default a random UUID. Keep it across retries so the receiver can de-duplicate. */
  id?: string | undefined
}

/** Options of `handle`. */
export interface HandleOptions {
  /** Serve the type only on this subnet; default every configured subnet. */
  netuid?: number | undefined
}

interface Session {
  connection: Connection
  /** Subnets whose protocols this remote may open here (firewall). */
  admitted: ReadonlySet<number>
  remote: RemotePeer
  attestation: Attestation
  maxConcurrent: number
  inFlight: number
  limiter: RequestLimiter
  clients: Map<string, Promise<RpcClient>>
}

interface PendingAuth {
  promise: Promise<Session>
  resolve: (s: Session) => void
  reject: (e: Error) => void
  timer: ReturnType<typeof setTimeout>
}

const REDIAL_TAG = 'keep-alive-subwire'
/** How long a refused inbound connection may stay open for its refusal to reach the remote. */
const REFUSAL_GRACE_MS = 250
/** Room in a file-stream frame for the MessagePack envelope around a chunk or a manifest. */
const FILE_FRAME_OVERHEAD = 64 * 1024
/** File streams keep a few chunks queued so the transport never waits for the disk; the credit window bounds the rest. */
const FILE_HIGH_WATER_MARK = 4 * 1024 * 1024
/** Offers of one file in a row to a receiver whose partial copy keeps failing its final check. */
const CORRUPT_PARTIAL_RETRIES = 3

/** The subwire protocol engine. */
export class Subwire {
  readonly #libp2p: Libp2p
  readonly #signer: Signer
  readonly #addressBook: AddressBook | undefined
  readonly #log: Logger
  readonly #netuids: number[]
  readonly #prefix: number
  readonly #handshakeTimeoutMs: number
  readonly #maxConcurrent: number
  readonly #requestTimeoutMs: number
  readonly #lifetimeMs: number
  readonly #skewMs: number
  readonly #maxFrameBytes: number
  readonly #redial: boolean
  readonly #sessions = new Map<string, Session>()
  readonly #pending = new Map<string, PendingAuth>()
  readonly #handlers = new Map<number | '*', Map<string, RpcHandler>>()
  readonly #events: Emitter<SubwireEvents>
  readonly #files: FileStore | undefined
  readonly #filePolicy: NonNullable<SubwireInit['files']>
  readonly #incoming = new Map<string, AbortController>()
  readonly #claims = new Map<string, { controller: AbortController, released: Promise<void> }>()
  /** Disk space promised to the transfers being received. */
  readonly #reservations = new DiskReservations()
  readonly #encryption: Required<EncryptionInit>
  readonly #e2eBackend: E2eBackend | undefined
  #keyring: EncryptionKeyring | undefined
  readonly #acl: AccessControl
  #firewall: SubnetFirewallInit | undefined
  readonly #membership = new Map<number, { at: number, set: Promise<ReadonlySet<string>> }>()
  readonly #admittedFor = new Map<string, ReadonlySet<number>>()
  readonly #maxPendingHandshakes: number
  readonly #handshakeRate: number
  readonly #maxInboundStreams: number
  readonly #handshakeBuckets = new Map<string, { tokens: number, at: number }>()
  readonly #deliveries: DeliveryLog
  readonly #verifiedSignatures = new SignatureCache()
  readonly #delivering = new Map<string, Promise<void>>()
  #attestation: SignedAttestation | undefined
  #attesting: Promise<SignedAttestation> | undefined
  #started = false
  readonly #onOpen = (evt: CustomEvent<Connection>): void => { this.#connectionOpened(evt.detail) }
  readonly #onClose = (evt: CustomEvent<Connection>): void => { this.#connectionClosed(evt.detail) }

  constructor (components: SubwireComponents, init: SubwireInit) {
    this.#libp2p = components.libp2p
    this.#signer = components.signer
    this.#addressBook = components.addressBook
    this.#log = (components.logger ?? components.libp2p.logger).forComponent('subwire')
    this.#events = new Emitter((event, err) => { this.#log('%s listener failed: %s', event, toError(err).message) })
    this.#netuids = validateNetuids(init.netuids)
    this.#prefix = init.ss58Prefix ?? BITTENSOR_SS58_PREFIX
    this.#handshakeTimeoutMs = positiveNumber(init.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 'handshakeTimeoutMs')
    this.#maxConcurrent = positiveNumber(init.maxConcurrentRequests, DEFAULT_MAX_CONCURRENT_REQUESTS, 'maxConcurrentRequests')
    this.#requestTimeoutMs = positiveNumber(init.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs')
    this.#lifetimeMs = positiveNumber(init.attestationLifetimeMs, DEFAULT_ATTESTATION_LIFETIME_MS, 'attestationLifetimeMs')
    this.#skewMs = positiveNumber(init.maxClockSkewMs, DEFAULT_MAX_CLOCK_SKEW_MS, 'maxClockSkewMs')
    this.#maxFrameBytes = positiveNumber(init.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes')
    this.#redial = init.redial ?? true
    this.#files = components.files
    this.#filePolicy = { ...init.files }
    this.#encryption = { messages: true, files: true, requests: false, require: false, ...init.encryption }
    this.#e2eBackend = components.e2eBackend
    this.#acl = components.acl ?? new AccessControl()
    this.#deliveries = components.deliveries ?? new MemoryDeliveryLog()
    this.#firewall = validateFirewall(init.firewall, this.#netuids)
    this.#maxPendingHandshakes = positiveNumber(init.limits?.maxPendingHandshakes, 256, 'limits.maxPendingHandshakes')
    this.#handshakeRate = positiveNumber(init.limits?.handshakesPerSecondPerIp, 50, 'limits.handshakesPerSecondPerIp')
    this.#maxInboundStreams = positiveNumber(init.limits?.maxInboundStreamsPerProtocol, 64, 'limits.maxInboundStreamsPerProtocol')
    decodeSs58(this.#signer.ss58, this.#prefix)
    if (init.echo ?? true) this.handle('echo', (body) => body)
  }

  /** This peer's hotkey. */
  get ss58 (): string {
    return this.#signer.ss58
  }

  /** This peer's PeerId. */
  get peerId (): string {
    return this.#libp2p.peerId.toString()
  }

  /** Subnets this peer serves. */
  get netuids (): number[] {
    return [...this.#netuids]
  }

  /** Our current signed attestation (after `start()`). */
  get attestation (): SignedAttestation | undefined {
    return this.#attestation
  }

  /**
   * Signs the attestation (one signature for the session: a wallet prompts once) and
   * registers the protocols. Connections already open are authenticated too.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#started) return
    this.#keyring = new EncryptionKeyring(this.#e2eBackend ?? await defaultE2eBackend())
    this.#attestation = undefined
    await this.#hello(options)
    const handlerOptions = { maxInboundStreams: this.#maxInboundStreams, maxOutboundStreams: 64, runOnLimitedConnection: false }
    await this.#libp2p.handle(AUTH_PROTOCOL, (stream, connection) => { void this.#respond(stream, connection) }, { ...handlerOptions, maxInboundStreams: 4 })
    for (const netuid of this.#netuids) {
      await this.#libp2p.handle(rpcProtocol(netuid), (stream, connection) => { void this.#serve(stream, connection, netuid, 'rpc') }, handlerOptions)
      await this.#libp2p.handle(msgProtocol(netuid), (stream, connection) => { void this.#serve(stream, connection, netuid, 'msg') }, handlerOptions)
      if (this.#files !== undefined) {
        await this.#libp2p.handle(fileProtocol(netuid), (stream, connection) => { void this.#receiveFile(stream, connection, netuid) }, handlerOptions)
      }
    }
    this.#libp2p.addEventListener('connection:open', this.#onOpen)
    this.#libp2p.addEventListener('connection:close', this.#onClose)
    this.#started = true
    for (const c of this.#libp2p.getConnections()) this.#connectionOpened(c)
  }

  /** Unregisters the protocols, fails pending work and forgets every session. Does not stop libp2p. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#libp2p.removeEventListener('connection:open', this.#onOpen)
    this.#libp2p.removeEventListener('connection:close', this.#onClose)
    const protocols = [AUTH_PROTOCOL, ...this.#netuids.flatMap((n) => [rpcProtocol(n), msgProtocol(n), ...(this.#files === undefined ? [] : [fileProtocol(n)])])]
    await this.#libp2p.unhandle(protocols)
    for (const c of this.#incoming.values()) c.abort(new NotStartedError('Peer stopped'))
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer)
      p.reject(new NotStartedError('Peer stopped'))
      this.#pending.delete(id)
    }
    const closing: Array<Promise<void>> = []
    for (const s of this.#sessions.values()) {
      for (const c of s.clients.values()) closing.push(c.then(async (client) => { await client.close() }, () => {}))
    }
    this.#sessions.clear()
    await Promise.allSettled(closing)
    this.#keyring?.clear()
    this.#attestation = undefined
  }

  /**
   * Forgets the re-dial tags a previous run left in a persistent peer store. Re-dialling is
   * for this session's dropped connections; left in place, the tags would make libp2p dial
   * every peer ever talked to at its old addresses on start, and a dial to one of them at a
   * new address would wait behind those (seen: 10 s per stale QUIC address). Call before
   * libp2p starts ({@link SubwirePeer.start} does).
   */
  async clearRedialTags (): Promise<number> {
    const tagged = await this.#libp2p.peerStore.all({ filters: [(p) => p.tags.has(REDIAL_TAG)] })
    for (const p of tagged) await this.#libp2p.peerStore.merge(p.id, { tags: { [REDIAL_TAG]: undefined } })
    return tagged.length
  }

  /** The access-control lists this engine enforces (shared with the connection gater). */
  get acl (): AccessControl {
    return this.#acl
  }

  /**
   * Replaces the subnet firewall (or turns it off with `undefined`) and re-checks every
   * live connection against it.
   */
  async setFirewall (firewall: SubnetFirewallInit | undefined): Promise<void> {
    this.#firewall = validateFirewall(firewall, this.#netuids)
    await this.recheckAccess()
  }

  /**
   * Re-checks every authenticated connection against the current ACL and firewall (call
   * after changing them): a now-blocked peer is disconnected with `AccessDeniedError`; one
   * that lost a subnet it had is disconnected so its next connection gets the new set.
   * Returns how many connections were closed.
   */
  async recheckAccess (): Promise<number> {
    this.#membership.clear()
    let closed = 0
    for (const s of [...this.#sessions.values()]) {
      const inbound = s.connection.direction === 'inbound'
      const d = this.#acl.check({ ip: ipOfMultiaddr(s.connection.remoteAddr), peerId: s.remote.peerId, ss58: s.remote.ss58 }, inbound)
      let reason: Error | undefined
      if (!d.allowed) {
        reason = new AccessDeniedError(d.reason)
      } else {
        const admitted = await this.#admitted(s.remote.ss58)
        if ([...s.admitted].some((n) => !admitted.has(n))) {
          reason = new SubnetFirewallError(`${s.remote.ss58} is no longer admitted to subnet(s) ${[...s.admitted].filter((n) => !admitted.has(n)).join(', ')}`)
        }
      }
      if (reason !== undefined && s.connection.status === 'open') {
        this.#log('closing connection %s to %s: %s', s.connection.id, s.remote.ss58, reason.message)
        s.connection.abort(reason)
        closed++
      }
    }
    return closed
  }

  /** Registers an RPC handler for `type` on one subnet or on every configured one. */
  handle (type: string, handler: RpcHandler, options: HandleOptions = {}): void {
    if (type.length === 0 || type.length > MAX_TYPE_LENGTH) throw new InvalidConfigError(`RPC type must be 1 to ${MAX_TYPE_LENGTH} characters`)
    const key = options.netuid ?? '*'
    if (key !== '*' && !this.#netuids.includes(key)) throw new SubnetNotServedError(`Cannot handle "${type}" on subnet ${key}: this peer serves ${this.#netuids.join(', ') || 'no subnet'}`, { netuid: key })
    let map = this.#handlers.get(key)
    if (map === undefined) { map = new Map(); this.#handlers.set(key, map) }
    map.set(type, handler)
  }

  /** Removes a handler registered with {@link Subwire.handle}. */
  unhandle (type: string, options: HandleOptions = {}): void {
    this.#handlers.get(options.netuid ?? '*')?.delete(type)
  }

  /** Adds an event listener; returns a function that removes it. */
  on<K extends keyof SubwireEvents> (event: K, listener: Listener<SubwireEvents[K]>): () => void {
    return this.#events.on(event, listener)
  }

  /** Removes an event listener. */
  off<K extends keyof SubwireEvents> (event: K, listener: Listener<SubwireEvents[K]>): void {
    this.#events.off(event, listener)
  }

  /** Peers with an authenticated connection right now. */
  peers (): RemotePeer[] {
    return [...this.#sessions.values()].map((s) => ({ ...s.remote }))
  }

  /**
   * Connects to a destination (a multiaddr ending in /p2p/<PeerId>, or an SS58 with an
   * open connection or an address-book entry) and waits for the handshake.
   */
  async connect (dest: string, options: AbortOptions = {}): Promise<RemotePeer> {
    return { ...(await this.#session(dest, options)).remote }
  }

  /** Sends a request and resolves with the reply body. */
  async request (dest: string, type: string, body: unknown, options: SendOptions = {}): Promise<unknown> {
    const { client, session } = await this.#client(dest, 'rpc', options)
    const e2e = (options.encrypt ?? this.#encryption.requests) ? this.#requestSealer(session, E2ePurpose.Request, type) : undefined
    return await client.request(type, body, { signal: options.signal, timeout: options.timeout ?? this.#requestTimeoutMs, e2e })
  }

  /** Sends a request whose handler streams its reply; yields each chunk. */
  async * requestStream (dest: string, type: string, body: unknown, options: SendOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const { client, session } = await this.#client(dest, 'rpc', options)
    const e2e = (options.encrypt ?? this.#encryption.requests) ? this.#requestSealer(session, E2ePurpose.Request, type) : undefined
    yield * client.requestStream(type, body, { signal: options.signal, timeout: options.timeout ?? this.#requestTimeoutMs, e2e })
  }

  /** Sends a control message; resolves once the receiver's listeners have taken it (ack). Returns the message id. */
  async message (dest: string, action: string, payload: unknown, options: MessageOptions = {}): Promise<string> {
    const id = options.id ?? crypto.randomUUID()
    const { client, session } = await this.#client(dest, 'msg', options)
    const e2e = (options.encrypt ?? this.#encryption.messages) ? this.#requestSealer(session, E2ePurpose.Message, id) : undefined
    await client.request(action, payload, { signal: options.signal, timeout: options.timeout ?? this.#requestTimeoutMs, messageId: id, e2e })
    return id
  }

  /**
   * Sends a file: hashes it into a manifest, offers it, streams the chunks the receiver
   * does not have yet (resuming from its verified offset) and resolves once the receiver
   * has verified it and moved it into its inbox.
   */
  async sendFile (dest: string, source: FileSource, options: SubwireSendFileOptions = {}): Promise<SendFileResult> {
    const started = performance.now()
    const netuid = options.netuid ?? this.#netuids[0]
    if (netuid === undefined) throw new InvalidConfigError('No netuid given and this peer serves no subnet')
    // reach and check the destination before spending a hashing pass over the file
    const remote = await this.#session(dest, options)
    if (!remote.attestation.netuids.includes(netuid)) {
      throw new SubnetNotServedError(`${remote.remote.ss58} does not serve subnet ${netuid} (it serves ${remote.attestation.netuids.join(', ') || 'none'})`, { netuid })
    }
    const encrypt = options.encrypt ?? this.#encryption.files
    if (encrypt && remote.attestation.encryptionKey === undefined) {
      throw new EncryptionUnavailableError(`${remote.remote.ss58} publishes no encryption key; send with encryption off to use this link`)
    }
    if (options.manifest !== undefined && (options.manifest.size !== source.size || (options.id !== undefined && options.id !== options.manifest.id))) {
      throw new InvalidConfigError('The manifest given does not describe this source (size or id differ)')
    }
    const manifest = options.manifest ?? await createManifest(source, options)
    // a receiver whose partial copy failed its final check has cut it back to the last good
    // chunk: offer again at once, and it resumes from there
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#offerFile(dest, netuid, source, manifest, encrypt, options)
        return { ...result, ms: Math.round((performance.now() - started) * 1000) / 1000 }
      } catch (err) {
        if (toError(err).name !== PartialFileCorruptedError.name || attempt >= CORRUPT_PARTIAL_RETRIES) throw err
        this.#log('%s: %s; offering %s again', dest, toError(err).message, manifest.id)
      }
    }
  }

  async #offerFile (dest: string, netuid: number, source: FileSource, manifest: FileManifest, encrypt: boolean, options: SubwireSendFileOptions): Promise<Omit<SendFileResult, 'ms'>> {
    // the connection may have changed while a large file was hashed
    const session = await this.#session(dest, options)
    let stream: Stream
    try {
      stream = await session.connection.newStream(fileProtocol(netuid), {
        signal: AbortSignal.any([AbortSignal.timeout(this.#handshakeTimeoutMs * 2), ...(options.signal === undefined ? [] : [options.signal])]),
        negotiateFully: true,
        runOnLimitedConnection: false
      })
    } catch (err) {
      const e = toError(err)
      if (options.signal?.aborted === true) throw new AbortError()
      if (e.name === 'UnsupportedProtocolError') throw new FilesNotEnabledError(`${session.remote.ss58} does not receive files on subnet ${netuid}`)
      throw new ConnectionClosedError(`Could not open a file stream to ${session.remote.ss58}: ${e.message}`, { cause: e })
    }
    const framed = new FramedStream(stream, { maxFrameBytes: this.#maxFrameBytes + FILE_FRAME_OVERHEAD, log: this.#log, highWaterMark: FILE_HIGH_WATER_MARK })
    return await sendFileOverStream(framed, source, manifest, { ...options, e2e: encrypt ? this.#fileSealer(session, manifest.id) : undefined })
  }

  /** Cancels an incoming transfer by id; the sender gets `TransferCancelledError` with the reason. */
  cancelTransfer (id: string, reason = 'cancelled by the receiver'): boolean {
    const c = this.#incoming.get(id)
    c?.abort(new TransferCancelledError(reason))
    return c !== undefined
  }

  /** Sets (or clears) the policy hook that accepts or refuses incoming files: throw to refuse. */
  onFileOffer (hook: ReceivePolicy['onOffer']): void {
    this.#filePolicy.onOffer = hook
  }

  // --- sessions -------------------------------------------------------------

  async #session (dest: string, options: AbortOptions): Promise<Session> {
    if (!this.#started) throw new NotStartedError()
    throwIfAborted(options.signal)
    let target: Multiaddr | Multiaddr[]
    let expectedSs58: string | undefined
    let expectedPeer: string | undefined
    if (dest.startsWith('/')) {
      let ma: Multiaddr
      try {
        ma = multiaddr(dest)
      } catch (err) {
        throw new InvalidDestinationError(`"${dest}" is not a valid multiaddr: ${(err as Error).message}`)
      }
      const peerId = peerIdOf(ma)
      if (peerId === undefined) throw new InvalidDestinationError(`Multiaddr "${dest}" must end in /p2p/<PeerId>`)
      expectedPeer = peerId
      const open = this.#openSession((s) => s.remote.peerId === peerId)
      if (open !== undefined) return open
      target = ma
    } else if (isSs58(dest)) {
      expectedSs58 = dest
      const open = this.#openSession((s) => s.remote.ss58 === dest)
      if (open !== undefined) return open
      const entry = await this.#addressBook?.get(dest, options)
      if (entry === undefined || entry.addrs.length === 0) {
        throw new UnknownDestinationError(`No address is known for ${dest}: pass a multiaddr ending in /p2p/<PeerId>`)
      }
      expectedPeer = entry.peerId
      target = entry.addrs.map((a) => multiaddr(a).encapsulate(`/p2p/${entry.peerId}`))
    } else {
      throw new InvalidDestinationError(`"${dest}" is neither a multiaddr ending in /p2p/<PeerId> nor an SS58 address`)
    }
    let connection: Connection
    try {
      connection = await this.#libp2p.dial(target, options.signal === undefined ? {} : { signal: options.signal })
    } catch (err) {
      if (options.signal?.aborted === true) throw new AbortError()
      throw new PeerUnreachableError(`Could not reach ${dest}: ${toError(err).message}`, { cause: err })
    }
    const session = await this.#authenticated(connection, options)
    if (expectedSs58 !== undefined && session.remote.ss58 !== expectedSs58) {
      throw new UnexpectedPeerError(`Expected hotkey ${expectedSs58} but the peer at that address authenticated as ${session.remote.ss58}`)
    }
    if (expectedPeer !== undefined && session.remote.peerId !== expectedPeer) {
      throw new UnexpectedPeerError(`Expected PeerId ${expectedPeer} but reached ${session.remote.peerId}`)
    }
    if (this.#redial) {
      this.#libp2p.peerStore.merge(connection.remotePeer, { tags: { [REDIAL_TAG]: { value: 1 } } })
        .catch((err: unknown) => { this.#log('could not tag %s for re-dial: %s', session.remote.peerId, toError(err).message) })
    }
    return session
  }

  #openSession (match: (s: Session) => boolean): Session | undefined {
    for (const s of this.#sessions.values()) {
      if (s.connection.status === 'open' && match(s)) return s
    }
    return undefined
  }

  async #client (dest: string, kind: 'rpc' | 'msg', options: SendOptions): Promise<{ client: RpcClient, session: Session }> {
    const netuid = options.netuid ?? this.#netuids[0]
    if (netuid === undefined) throw new InvalidConfigError('No netuid given and this peer serves no subnet')
    const session = await this.#session(dest, options)
    if (!session.attestation.netuids.includes(netuid)) {
      throw new SubnetNotServedError(`${session.remote.ss58} does not serve subnet ${netuid} (it serves ${session.attestation.netuids.join(', ') || 'none'})`, { netuid })
    }
    const protocol = kind === 'rpc' ? rpcProtocol(netuid) : msgProtocol(netuid)
    const existing = session.clients.get(protocol)
    if (existing !== undefined) {
      const client = await existing
      if (!client.closed) return { client, session }
      if (session.clients.get(protocol) === existing) session.clients.delete(protocol)
      return await this.#client(dest, kind, options)
    }
    const opening = this.#openClient(session, protocol, netuid)
    session.clients.set(protocol, opening)
    opening.catch(() => { if (session.clients.get(protocol) === opening) session.clients.delete(protocol) })
    return { client: await opening, session }
  }

  // --- end-to-end encryption ------------------------------------------------

  #keys (): EncryptionKeyring {
    if (this.#keyring === undefined) throw new NotStartedError()
    return this.#keyring
  }

  #requestSealer (session: Session, purpose: E2ePurposeValue, id: string): RequestSealer {
    const backend = this.#keys().backend
    const context = { purpose, sender: this.ss58, recipient: session.remote.ss58, id }
    return async (body) => {
      const { envelope, state } = await sealEnvelope(backend, session.attestation.encryptionKey, context, encodeValue(body))
      const reply = await replyCipher(backend, state.ikm, context, envelope.ek, envelope.rk)
      return { x: envelope, openReply: async (c, index, last) => decodeValue(await reply.open(index, c, last)) }
    }
  }

  #requestOpener (caller: Caller, kind: 'rpc' | 'msg'): RequestOpener {
    const keyring = this.#keys()
    return async (x, type, messageId) => {
      const envelope = envelopeFromWire(x)
      const context = { purpose: kind === 'msg' ? E2ePurpose.Message : E2ePurpose.Request, sender: caller.ss58, recipient: this.ss58, id: kind === 'msg' ? messageId ?? '' : type }
      const { plaintext, ikm } = await openEnvelope(keyring.backend, keyring.lookup, context, envelope)
      const reply = await replyCipher(keyring.backend, ikm, context, envelope.ek, envelope.rk)
      return { body: decodeValue(plaintext), sealReply: async (body, index, last) => await reply.seal(index, encodeValue(body), last) }
    }
  }

  #fileSealer (session: Session, id: string): FileSealer {
    const backend = this.#keys().backend
    const parties = { sender: this.ss58, recipient: session.remote.ss58, id }
    return {
      sealOffer: async (manifest) => {
        const { envelope, state } = await sealEnvelope(backend, session.attestation.encryptionKey, { ...parties, purpose: E2ePurpose.FileManifest }, manifest)
        return {
          x: envelope,
          dataCipher: async (receiverEphemeral) => {
            const ephemeralIkm = await backend.sharedSecret(state.ephemeral.privateKey, receiverEphemeral)
            return await fileDataCipher(backend, state.ikm, ephemeralIkm, parties, envelope.ek, envelope.rk, receiverEphemeral)
          }
        }
      }
    }
  }

  #fileOpener (caller: Caller): FileOpener {
    const keyring = this.#keys()
    const backend = keyring.backend
    return {
      openOffer: async (x, id) => {
        const envelope = envelopeFromWire(x)
        const parties = { sender: caller.ss58, recipient: this.ss58, id }
        const { plaintext, ikm } = await openEnvelope(backend, keyring.lookup, { ...parties, purpose: E2ePurpose.FileManifest }, envelope)
        return {
          manifest: plaintext,
          accept: async () => {
            const ours = await backend.generateKeyPair()
            const ephemeralIkm = await backend.sharedSecret(ours.privateKey, envelope.ek)
            return { ek: ours.publicKey, cipher: await fileDataCipher(backend, ikm, ephemeralIkm, parties, envelope.ek, envelope.rk, ours.publicKey) }
          }
        }
      }
    }
  }

  async #openClient (session: Session, protocol: string, netuid: number): Promise<RpcClient> {
    let stream: Stream
    try {
      // optimistic protocol selection (the id goes out with the first request, saving a round
      // trip): the remote's attestation already said it serves this subnet
      stream = await session.connection.newStream(protocol, {
        signal: AbortSignal.timeout(this.#handshakeTimeoutMs * 2),
        negotiateFully: false,
        runOnLimitedConnection: false
      })
    } catch (err) {
      const e = toError(err)
      if (e.name === 'UnsupportedProtocolError') {
        throw new SubnetNotServedError(`${session.remote.ss58} does not serve subnet ${netuid}`, { netuid })
      }
      throw new ConnectionClosedError(`Could not open ${protocol} to ${session.remote.ss58}: ${e.message}`, { cause: e })
    }
    const framed = new FramedStream(stream, { maxFrameBytes: this.#maxFrameBytes, log: this.#log })
    return new RpcClient(framed, { maxInFlight: session.maxConcurrent, log: this.#log })
  }

  // --- handshake ------------------------------------------------------------

  async #hello (options: AbortOptions = {}): Promise<Hello> {
    const now = Date.now()
    const a = this.#attestation?.attestation
    if (a === undefined || a.expiresAt - now < (a.expiresAt - a.issuedAt) * ATTESTATION_RENEW_FRACTION) {
      this.#attesting ??= (async () => {
        // a fresh encryption key with every attestation; the old one opens what was sealed to it until its attestation expires
        const key = await this.#keys().rotate((a?.expiresAt ?? now) + this.#skewMs)
        return await createAttestation(this.#signer, {
          peerId: this.peerId,
          netuids: this.#netuids,
          lifetimeMs: this.#lifetimeMs,
          encryptionKey: key.publicKey
        }, options)
      })().finally(() => { this.#attesting = undefined })
      const fresh = await this.#attesting
      this.#attestation = fresh
      this.#log('signed attestation for %s as %s, valid until %s', this.peerId, this.ss58, new Date(fresh.attestation.expiresAt).toISOString())
    }
    const addrs = this.#libp2p.getMultiaddrs().map((ma) => stripPeerId(ma).toString())
    return { attestation: this.#attestation as SignedAttestation, addrs, maxConcurrent: this.#maxConcurrent }
  }

  /**
   * Verifies the remote's attestation, then applies the SS58 rules and the subnet
   * firewall before anything is served: an inbound peer that is blocked, or admitted to
   * none of our subnets, is refused in the handshake.
   */
  #verifier (connection: Connection): (bytes: Uint8Array, signature: Uint8Array) => Promise<Attestation> {
    return async (bytes, signature) => {
      const a = verifyAttestation(bytes, signature, {
        expectedPeerId: connection.remotePeer.toString(),
        ss58Prefix: this.#prefix,
        maxClockSkewMs: this.#skewMs,
        verified: this.#verifiedSignatures
      })
      const inbound = connection.direction === 'inbound'
      const d = this.#acl.check({ ip: ipOfMultiaddr(connection.remoteAddr), peerId: a.peerId, ss58: a.ss58 }, inbound)
      if (!d.allowed) throw new AccessDeniedError(d.reason)
      const admitted = await this.#admitted(a.ss58)
      if (inbound && admitted.size === 0 && this.#netuids.length > 0) {
        throw new SubnetFirewallError(`${a.ss58} is not admitted to any subnet this peer serves (${this.#netuids.join(', ')})`)
      }
      this.#admittedFor.set(connection.id, admitted)
      return a
    }
  }

  /** The subnets whose protocols `ss58` may open here. */
  async #admitted (ss58: string): Promise<ReadonlySet<number>> {
    const firewall = this.#firewall
    const out = new Set<number>()
    for (const n of this.#netuids) {
      if (firewall === undefined || !firewall.netuids.includes(n)) {
        out.add(n)
        continue
      }
      const members = await this.#members(firewall, n)
      if (members.has(ss58)) out.add(n)
    }
    return out
  }

  /** The firewall's admitted set for a subnet, cached; a failing or empty source denies everyone (logged). */
  async #members (firewall: SubnetFirewallInit, netuid: number): Promise<ReadonlySet<string>> {
    const now = Date.now()
    let cached = this.#membership.get(netuid)
    if (cached === undefined || now - cached.at > (firewall.cacheMs ?? 60_000)) {
      const set = (async (): Promise<ReadonlySet<string>> => {
        try {
          const members = await firewall.source.allowed(netuid, { signal: AbortSignal.timeout(this.#handshakeTimeoutMs) })
          if (members.size === 0) this.#log.error('subnet firewall: the admitted set of subnet %d is empty: every hotkey is denied', netuid)
          return members
        } catch (err) {
          this.#log.error('subnet firewall: the source failed for subnet %d (%s): every hotkey is denied', netuid, toError(err).message)
          this.#membership.delete(netuid) // retry on the next handshake
          return new Set()
        }
      })()
      cached = { at: now, set }
      this.#membership.set(netuid, cached)
    }
    return await cached.set
  }

  /** Per-IP token bucket on inbound handshakes. */
  #handshakeAllowed (connection: Connection): boolean {
    const ip = ipOfMultiaddr(connection.remoteAddr) ?? connection.remoteAddr.toString()
    const now = performance.now()
    const burst = this.#handshakeRate * 2
    const b = this.#handshakeBuckets.get(ip) ?? { tokens: burst, at: now }
    b.tokens = Math.min(burst, b.tokens + (now - b.at) / 1000 * this.#handshakeRate)
    b.at = now
    if (this.#handshakeBuckets.size > 10_000) this.#handshakeBuckets.clear()
    this.#handshakeBuckets.set(ip, b)
    if (b.tokens < 1) return false
    b.tokens--
    return true
  }

  #pendingFor (connection: Connection): PendingAuth {
    let p = this.#pending.get(connection.id)
    if (p !== undefined) return p
    const { promise, resolve, reject } = Promise.withResolvers<Session>()
    promise.catch(() => {})
    const timer = setTimeout(() => {
      const err = new HandshakeTimeoutError(`No subwire handshake from ${connection.remotePeer.toString()} within ${this.#handshakeTimeoutMs} ms`)
      this.#failHandshake(connection, err)
    }, this.#handshakeTimeoutMs)
    p = { promise, resolve, reject, timer }
    this.#pending.set(connection.id, p)
    return p
  }

  #connectionOpened (connection: Connection): void {
    if (!this.#started || this.#sessions.has(connection.id)) return
    if (connection.direction === 'inbound' && !this.#pending.has(connection.id)) {
      let refusal: Error | undefined
      if (this.#pending.size >= this.#maxPendingHandshakes) refusal = new RateLimitedError(`${this.#pending.size} handshakes are already pending`)
      else if (!this.#handshakeAllowed(connection)) refusal = new RateLimitedError(`more than ${this.#handshakeRate} handshakes per second from ${ipOfMultiaddr(connection.remoteAddr) ?? 'this address'}`)
      if (refusal !== undefined) {
        this.#log('refusing connection %s from %s: %s', connection.id, connection.remoteAddr.toString(), refusal.message)
        this.#emit('handshake:failed', { peerId: connection.remotePeer.toString(), direction: connection.direction, error: refusal })
        connection.abort(refusal)
        return
      }
    }
    this.#pendingFor(connection)
    if (connection.direction === 'outbound') void this.#initiate(connection)
  }

  #connectionClosed (connection: Connection): void {
    const p = this.#pending.get(connection.id)
    if (p !== undefined) {
      clearTimeout(p.timer)
      this.#pending.delete(connection.id)
      p.reject(new ConnectionClosedError('Connection closed before the handshake completed'))
    }
    this.#admittedFor.delete(connection.id)
    const s = this.#sessions.get(connection.id)
    if (s !== undefined) {
      this.#sessions.delete(connection.id)
      this.#emit('peer:disconnected', { ...s.remote })
    }
  }

  async #authenticated (connection: Connection, options: AbortOptions = {}): Promise<Session> {
    const s = this.#sessions.get(connection.id)
    if (s !== undefined) return s
    if (connection.status !== 'open') throw new ConnectionClosedError()
    const p = this.#pendingFor(connection)
    if (options.signal === undefined) return await p.promise
    const signal = options.signal
    throwIfAborted(signal)
    const { promise, reject } = Promise.withResolvers<never>()
    const onAbort = (): void => { reject(new AbortError()) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      return await Promise.race([p.promise, promise])
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async #initiate (connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.#handshakeTimeoutMs)
    try {
      // optimistic protocol selection: the protocol id goes out with the hello, saving a round trip
      const stream = await connection.newStream(AUTH_PROTOCOL, { signal, runOnLimitedConnection: false, negotiateFully: false })
      const framed = new FramedStream(stream, { maxFrameBytes: MAX_HANDSHAKE_FRAME_BYTES, log: this.#log })
      const result = await initiateHandshake(framed, await this.#hello({ signal }), this.#verifier(connection), { signal })
      this.#established(connection, result)
    } catch (err) {
      const e = toError(err)
      this.#failHandshake(connection, signal.aborted && e.name !== HandshakeFailedError.name
        ? new HandshakeTimeoutError(`Handshake with ${connection.remotePeer.toString()} timed out`)
        : e)
    }
  }

  async #respond (stream: Stream, connection: Connection): Promise<void> {
    const framed = new FramedStream(stream, { maxFrameBytes: MAX_HANDSHAKE_FRAME_BYTES, log: this.#log })
    if (this.#sessions.has(connection.id)) {
      await refuseChannel(framed, new HandshakeFailedError('Connection is already authenticated'))
      return
    }
    this.#pendingFor(connection)
    const signal = AbortSignal.timeout(this.#handshakeTimeoutMs)
    try {
      const result = await respondHandshake(framed, async () => await this.#hello({ signal }), this.#verifier(connection), { signal })
      this.#established(connection, result)
    } catch (err) {
      this.#failHandshake(connection, toError(err))
    }
  }

  #established (connection: Connection, result: HandshakeResult): void {
    const p = this.#pending.get(connection.id)
    if (p !== undefined) {
      clearTimeout(p.timer)
      this.#pending.delete(connection.id)
    }
    if (connection.status !== 'open') {
      p?.reject(new ConnectionClosedError())
      return
    }
    const a = result.attestation
    const admitted = this.#admittedFor.get(connection.id) ?? new Set<number>()
    this.#admittedFor.delete(connection.id)
    const session: Session = {
      connection,
      admitted,
      attestation: a,
      maxConcurrent: Math.min(result.maxConcurrent, this.#maxConcurrent * 16),
      inFlight: 0,
      limiter: undefined as unknown as RequestLimiter,
      clients: new Map(),
      remote: {
        ss58: a.ss58,
        peerId: a.peerId,
        netuids: [...a.netuids],
        connectionId: connection.id,
        remoteAddr: connection.remoteAddr.toString(),
        direction: connection.direction,
        authenticatedAt: Date.now()
      }
    }
    const max = this.#maxConcurrent
    session.limiter = {
      tryAcquire: () => {
        if (session.inFlight >= max) return false
        session.inFlight++
        return true
      },
      release: () => { session.inFlight-- }
    }
    this.#sessions.set(connection.id, session)
    this.#log('authenticated %s (%s) on %s connection %s', a.ss58, a.peerId, connection.direction, connection.id)
    p?.resolve(session)
    void this.#remember(connection, result)
    this.#emit('peer:authenticated', { ...session.remote })
  }

  #failHandshake (connection: Connection, err: Error): void {
    const p = this.#pending.get(connection.id)
    if (p !== undefined) {
      clearTimeout(p.timer)
      this.#pending.delete(connection.id)
      p.reject(err)
    }
    this.#log('closing %s connection %s from %s: %s: %s', connection.direction, connection.id, connection.remotePeer.toString(), err.name, err.message)
    this.#emit('handshake:failed', { peerId: connection.remotePeer.toString(), direction: connection.direction, error: err })
    if (connection.direction === 'outbound') {
      connection.abort(err)
      return
    }
    // inbound: our refusal frame is on its way; aborting at once may drop it and the remote
    // would see only a closed connection. It closes on reading the refusal; if not, we do
    // shortly (the connection serves nothing meanwhile: it has no session).
    const timer = setTimeout(() => { if (connection.status === 'open') connection.abort(err) }, REFUSAL_GRACE_MS)
    ;(timer as { unref?: () => void }).unref?.()
  }

  async #remember (connection: Connection, result: HandshakeResult): Promise<void> {
    if (this.#addressBook === undefined) return
    try {
      const a = result.attestation
      const fresh = connection.direction === 'outbound' ? [stripPeerId(connection.remoteAddr).toString(), ...result.addrs] : result.addrs
      const old = await this.#addressBook.get(a.ss58)
      const addrs = mergeAddrs(fresh.filter(isDialable), old?.peerId === a.peerId ? old.addrs : [])
      if (addrs.length === 0) return
      await this.#addressBook.put({ ss58: a.ss58, peerId: a.peerId, addrs, updatedAt: Date.now() })
    } catch (err) {
      this.#log('could not update the address book: %s', toError(err).message)
    }
  }

  // --- serving --------------------------------------------------------------

  async #serve (stream: Stream, connection: Connection, netuid: number, kind: 'rpc' | 'msg'): Promise<void> {
    const framed = new FramedStream(stream, { maxFrameBytes: this.#maxFrameBytes, log: this.#log })
    let session: Session | undefined = this.#sessions.get(connection.id)
    // A dialler only opens streams after its handshake completed, so on an inbound connection
    // an unauthenticated stream is refused at once. On an outbound one the remote may open a
    // stream just before we have processed its handshake reply: wait for that (bounded).
    if (session === undefined && connection.direction === 'outbound') {
      session = await this.#authenticated(connection).catch(() => undefined)
    }
    if (session === undefined) {
      await refuseChannel(framed, new NotAuthenticatedError(`${stream.protocol} refused: the connection has not completed the subwire handshake`))
      return
    }
    if (!session.admitted.has(netuid)) {
      await refuseChannel(framed, new SubnetFirewallError(`${session.remote.ss58} is not admitted to subnet ${netuid} on this peer`))
      return
    }
    const caller: Caller = { ss58: session.remote.ss58, peerId: session.remote.peerId, netuid }
    new RpcServer(framed, { // eslint-disable-line no-new
      caller,
      limiter: session.limiter,
      log: this.#log,
      e2e: this.#requestOpener(caller, kind),
      requireEncryption: this.#encryption.require,
      resolve: kind === 'rpc'
        ? (type) => this.#handlers.get(netuid)?.get(type) ?? this.#handlers.get('*')?.get(type)
        : () => this.#onMessage
    })
  }

  async #receiveFile (stream: Stream, connection: Connection, netuid: number): Promise<void> {
    const framed = new FramedStream(stream, { maxFrameBytes: this.#maxFrameBytes + FILE_FRAME_OVERHEAD, log: this.#log, highWaterMark: FILE_HIGH_WATER_MARK })
    const session = this.#sessions.get(connection.id) ?? (connection.direction === 'outbound' ? await this.#authenticated(connection).catch(() => undefined) : undefined)
    const store = this.#files
    if (session === undefined || store === undefined) {
      await refuseChannel(framed, session === undefined ? new NotAuthenticatedError() : new FilesNotEnabledError())
      return
    }
    if (!session.admitted.has(netuid)) {
      await refuseChannel(framed, new SubnetFirewallError(`${session.remote.ss58} is not admitted to subnet ${netuid} on this peer`))
      return
    }
    const caller: Caller = { ss58: session.remote.ss58, peerId: session.remote.peerId, netuid }
    const controller = new AbortController()
    const onClose = (): void => { controller.abort(new ConnectionClosedError()) }
    connection.addEventListener('close', onClose)
    let id: string | undefined
    try {
      const received = await receiveFileOverStream(framed, {
        caller,
        store,
        policy: this.#filePolicy,
        signal: controller.signal,
        e2e: this.#fileOpener(caller),
        requireEncryption: this.#encryption.require,
        ...(this.#filePolicy.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: this.#filePolicy.idleTimeoutMs }),
        onAccepted: (offer) => {
          id = offer.id
          this.#incoming.set(offer.id, controller)
          this.#emit('file:accepted', offer)
        },
        onProgress: (event) => { this.#emit('file:progress', { ...event, from: caller.ss58 }) },
        claim: async (key) => await this.#claim(key, controller),
        reservations: this.#reservations,
        log: this.#log,
        delivered: {
          was: async (deliveryId) => await this.#deliveries.wasDelivered(caller.ss58, deliveryId),
          mark: async (deliveryId) => { await this.#deliveries.markDelivered(caller.ss58, deliveryId, Date.now()) }
        }
      })
      if (received === undefined) return
      this.#log('received %s (%d bytes) from %s into %s', received.name, received.size, caller.ss58, received.path)
      this.#emit('file:received', received)
    } catch (err) {
      const e = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : toError(err)
      this.#log('incoming transfer %s from %s failed: %s: %s', id ?? '(no offer)', caller.ss58, e.name, e.message)
      this.#emit('file:failed', { id, from: caller.ss58, error: e })
    } finally {
      connection.removeEventListener('close', onClose)
      if (id !== undefined) this.#incoming.delete(id)
    }
  }

  /** Takes a transfer key; a transfer already holding it is superseded and waited for. */
  async #claim (key: string, controller: AbortController): Promise<() => void> {
    for (let held = this.#claims.get(key); held !== undefined; held = this.#claims.get(key)) {
      held.controller.abort(new TransferCancelledError('Superseded by a new offer of the same file from the same sender'))
      await held.released
    }
    const { promise, resolve } = Promise.withResolvers<void>()
    this.#claims.set(key, { controller, released: promise })
    return () => {
      if (this.#claims.get(key)?.released === promise) this.#claims.delete(key)
      resolve()
    }
  }

  readonly #onMessage = async (payload: unknown, context: HandlerContext): Promise<null> => {
    const message: SubwireMessage = { id: context.messageId, from: context.caller.ss58, caller: context.caller, action: context.type, payload }
    const deliver = async (): Promise<void> => { await this.#events.emitAndSettle('message', message) }
    if (message.id === undefined) {
      await deliver()
      return null
    }
    // at-least-once senders retry with the same id: a retry whose first delivery is still
    // running waits for it; one that was delivered before is acked without redelivery
    const key = `m:${message.from} ${message.id}`
    const running = this.#delivering.get(key)
    if (running !== undefined) {
      await running
      return null
    }
    const id = `m:${message.id}`
    const delivering = (async () => {
      if (await this.#deliveries.wasDelivered(message.from, id)) {
        this.#log('message %s from %s was already delivered: acked again, not redelivered', message.id, message.from)
        return
      }
      await deliver()
      await this.#deliveries.markDelivered(message.from, id, Date.now())
    })()
    this.#delivering.set(key, delivering)
    try {
      await delivering
    } finally {
      this.#delivering.delete(key)
    }
    return null
  }

  #emit<K extends keyof SubwireEvents> (event: K, detail: SubwireEvents[K]): void {
    this.#events.emit(event, detail)
  }
}

function peerIdOf (ma: Multiaddr): string | undefined {
  const components = ma.getComponents()
  for (let i = components.length - 1; i >= 0; i--) {
    const c = components[i]
    if (c?.name === 'p2p') return c.value
  }
  return undefined
}

function stripPeerId (ma: Multiaddr): Multiaddr {
  const components = ma.getComponents().filter((c) => c.name !== 'p2p')
  return multiaddr(components.map((c) => c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`).join(''))
}

function isDialable (addr: string): boolean {
  return !addr.includes('/ip4/0.0.0.0/') && !addr.includes('/ip6/::/') && !addr.includes('/p2p-circuit')
}

function validateNetuids (netuids: number[]): number[] {
  if (!Array.isArray(netuids)) throw new InvalidConfigError('netuids must be an array')
  for (const n of netuids) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_NETUID) throw new InvalidConfigError(`netuid ${String(n)} is not an integer from 0 to ${MAX_NETUID}`)
  }
  return [...new Set(netuids)]
}

function validateFirewall (firewall: SubnetFirewallInit | undefined, served: number[]): SubnetFirewallInit | undefined {
  if (firewall === undefined) return undefined
  if (!Array.isArray(firewall.netuids) || typeof firewall.source?.allowed !== 'function') {
    throw new InvalidConfigError('firewall needs netuids: number[] and a source with allowed(netuid)')
  }
  for (const n of firewall.netuids) {
    if (!served.includes(n)) throw new InvalidConfigError(`firewall: subnet ${n} is not served by this peer (it serves ${served.join(', ') || 'none'})`)
  }
  if (firewall.cacheMs !== undefined) positiveNumber(firewall.cacheMs, 1, 'firewall.cacheMs')
  return { ...firewall, netuids: [...firewall.netuids] }
}
