/**
 * The subwire protocol engine, shared by the Node and browser peers. It rides on a
 * started libp2p node and coordinates the parts that do the work: the {@link Authenticator}
 * (the hotkey handshake on every connection) with its {@link Attester}, {@link Access}
 * (ACL, subnet firewall, flood limits) and {@link Connector} (reaching a destination), the
 * {@link RpcService} (requests and control messages over one long-lived stream per
 * connection and subnet), the {@link FileService}, the end-to-end {@link E2eSealing},
 * {@link Discovery} (signed hotkey records in the DHT, bootstrap, resolution by hotkey) and
 * {@link FanOut} (one call to every member of a subnet).
 *
 * Each part logs under its own component (`subwire`, `subwire:auth`, `subwire:rpc`,
 * `subwire:files`, `subwire:discovery`, `subwire:fanout`), so `DEBUG=subwire:files` shows
 * file transfers alone.
 *
 * @packageDocumentation
 */
import { AUTH_PROTOCOL, fileProtocol, msgProtocol, rpcProtocol } from './constants.ts'
import { PeerNotStartedError, toError } from './errors/index.ts'
import { engineOptions } from './config.ts'
import { Emitter } from './events.ts'
import { Access } from './auth/access.ts'
import { AccessControl } from './auth/acl.ts'
import { Attester } from './auth/attester.ts'
import { Authenticator } from './auth/authenticator.ts'
import { Connector } from './auth/connector.ts'
import { ConnectionLimits } from './auth/limits.ts'
import { E2eSealing } from './encryption/sealing.ts'
import { Discovery } from './discovery/discovery.ts'
import { FanOut } from './fanout/fanout.ts'
import { SubnetMembers } from './fanout/members.ts'
import { FileService } from './files/service.ts'
import { decodeSs58 } from './identity/ss58.ts'
import { MemoryDeliveryLog } from './outbox/store.ts'
import { MessageInbox } from './rpc/messages.ts'
import { RpcService } from './rpc/service.ts'
import type { AbortOptions } from './abort.ts'
import type { SubnetFirewallInit } from './auth/acl.ts'
import type { ResolvedHotkey } from './discovery/types.ts'
import type { FanOutOptions, SubnetFanOut } from './fanout/fanout.ts'
import type { Session } from './auth/session.ts'
import type { Listener } from './events.ts'
import type { FileSource, FolderSource, ReceivePolicy, SendFileResult, SendFolderResult } from './files/types.ts'
import type { SignedAttestation } from './identity/attestation.ts'
import type { Signer } from './identity/signers.ts'
import type { RpcHandler } from './rpc/types.ts'
import type { HandleOptions, MessageOptions, RemotePeer, SubwireRequestOptions, SendOptions, SubwireComponents, SubwireEvents, SubwireInit, SubwireSendFileOptions, SubwireSendFolderOptions } from './types.ts'
import type { Connection, Libp2p, Logger } from '@libp2p/interface'

/** The subwire protocol engine: a coordinator that wires the parts and delegates to them. */
export class Subwire {
  readonly #libp2p: Libp2p
  readonly #signer: Signer
  readonly #log: Logger
  readonly #netuids: number[]
  readonly #events: Emitter<SubwireEvents>
  readonly #access: Access
  readonly #sealing: E2eSealing
  readonly #attester: Attester
  readonly #auth: Authenticator
  readonly #connector: Connector
  readonly #rpc: RpcService
  readonly #files: FileService
  readonly #discovery: Discovery
  readonly #fanout: FanOut
  #started = false
  readonly #onAuthenticated = (p: RemotePeer): void => { this.#discovery.authenticated(p.connectionId) }
  #offAuthenticated: (() => void) | undefined
  readonly #onOpen = (evt: CustomEvent<Connection>): void => { this.#auth.opened(evt.detail) }
  readonly #onClose = (evt: CustomEvent<Connection>): void => {
    this.#auth.closed(evt.detail)
    this.#rpc.forget(evt.detail.id)
    this.#files.forget(evt.detail.id)
  }

  constructor (components: SubwireComponents, init: SubwireInit) {
    this.#libp2p = components.libp2p
    this.#signer = components.signer
    const logger = components.logger ?? components.libp2p.logger
    this.#log = logger.forComponent('subwire')
    const authLog = logger.forComponent('subwire:auth')
    this.#events = new Emitter((event, err) => { this.#log('%s listener failed: %s', event, toError(err).message) })
    const { netuids, handshakeTimeoutMs, maxConcurrent, maxHandlers, requestTimeoutMs, lifetimeMs, maxClockSkewMs, maxFrameBytes, connectionBudgetBytes, peerBudgetBytes, encryption, ss58Prefix, bulkMinBytes, bulkMinRequestBytes } = engineOptions(init)
    this.#netuids = netuids
    const deliveries = components.deliveries ?? new MemoryDeliveryLog()
    this.#access = new Access({ acl: components.acl ?? new AccessControl(), log: authLog }, { netuids, firewall: init.firewall, limits: init.limits, handshakeTimeoutMs })
    this.#sealing = new E2eSealing(this.#signer.ss58, components.e2eBackend)
    this.#attester = new Attester({ libp2p: this.#libp2p, signer: this.#signer, sealing: this.#sealing, log: authLog }, { netuids, lifetimeMs, skewMs: maxClockSkewMs, maxConcurrent })
    const limits = new ConnectionLimits({ connections: () => this.#libp2p.getConnections(), session: (id) => this.#auth.session(id), log: authLog }, init.limits)
    this.#auth = new Authenticator(
      { attester: this.#attester, access: this.#access, limits, events: this.#events, log: authLog },
      { ss58Prefix, handshakeTimeoutMs, maxClockSkewMs, maxConcurrent })
    const discoveryLog = logger.forComponent('subwire:discovery')
    this.#discovery = new Discovery(
      { libp2p: this.#libp2p, signer: this.#signer, routing: components.dht, sources: components.sources, addressBook: components.addressBook, log: discoveryLog },
      { netuids, bootstrap: init.bootstrap, ...init.discovery })
    const members = new SubnetMembers({ self: this.#signer.ss58, peers: () => this.peers(), discovery: this.#discovery })
    this.#fanout = new FanOut({ members: async (netuid, options) => await members.all(netuid, options), listMembers: (netuid, options) => members.list(netuid, options), log: logger.forComponent('subwire:fanout') })
    this.#connector = new Connector({ libp2p: this.#libp2p, auth: this.#auth, discovery: this.#discovery, addressBook: components.addressBook, log: authLog }, { redial: init.redial ?? true })
    const rpcLog = logger.forComponent('subwire:rpc')
    const bulkSession = init.bulk?.transport === 'tcp' ? async (session: Session, o: AbortOptions) => await this.#connector.bulkSession(session, o) : undefined
    this.#rpc = new RpcService(
      { auth: this.#auth, sealing: this.#sealing, messages: new MessageInbox({ events: this.#events, deliveries, log: rpcLog }), log: rpcLog, onActivity: (id) => { limits.touch(id) }, onServed: (s) => { if (this.#events.listens('request:served')) this.#events.emit('request:served', s) }, bulkSession },
      { netuids, maxConcurrent, maxHandlers, requestTimeoutMs, handshakeTimeoutMs, maxFrameBytes, connectionBudgetBytes, peerBudgetBytes, encryptRequests: encryption.requests, encryptMessages: encryption.messages, requireEncryption: encryption.require, bulkMinRequestBytes })
    this.#files = new FileService(
      { auth: this.#auth, sealing: this.#sealing, events: this.#events, deliveries, store: components.files, log: logger.forComponent('subwire:files'), bulkSession },
      { netuids, handshakeTimeoutMs, maxFrameBytes, encrypt: encryption.files, requireEncryption: encryption.require, policy: init.files, bulkMinBytes, connectionBudgetBytes, peerBudgetBytes })
    decodeSs58(this.#signer.ss58, ss58Prefix)
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
    return this.#attester.attestation
  }

  /**
   * Signs the attestation (one signature for the session: a wallet prompts once) and
   * registers the protocols. Connections already open are authenticated too.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#started) return
    await this.#sealing.start()
    this.#attester.forget()
    await this.#attester.hello(options)
    const handlerOptions = { maxInboundStreams: this.#access.maxInboundStreams, maxOutboundStreams: 64, runOnLimitedConnection: false }
    await this.#libp2p.handle(AUTH_PROTOCOL, (stream, connection) => { void this.#auth.respond(stream, connection) }, { ...handlerOptions, maxInboundStreams: 4 })
    for (const netuid of this.#netuids) {
      await this.#libp2p.handle(rpcProtocol(netuid), (stream, connection) => { void this.#rpc.serve(stream, connection, netuid, 'rpc') }, handlerOptions)
      await this.#libp2p.handle(msgProtocol(netuid), (stream, connection) => { void this.#rpc.serve(stream, connection, netuid, 'msg') }, handlerOptions)
      if (this.#files.receives) {
        await this.#libp2p.handle(fileProtocol(netuid), (stream, connection) => { void this.#files.receive(stream, connection, netuid) }, handlerOptions)
      }
    }
    this.#libp2p.addEventListener('connection:open', this.#onOpen)
    this.#libp2p.addEventListener('connection:close', this.#onClose)
    this.#started = true
    this.#auth.start()
    this.#connector.start()
    this.#offAuthenticated = this.#events.on('peer:authenticated', this.#onAuthenticated)
    for (const c of this.#libp2p.getConnections()) this.#auth.opened(c)
    await this.#discovery.start(options)
  }

  /** Unregisters the protocols, fails pending work and forgets every session. Does not stop libp2p. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#offAuthenticated?.()
    await this.#discovery.stop()
    this.#connector.stop()
    this.#libp2p.removeEventListener('connection:open', this.#onOpen)
    this.#libp2p.removeEventListener('connection:close', this.#onClose)
    const protocols = [AUTH_PROTOCOL, ...this.#netuids.flatMap((n) => [rpcProtocol(n), msgProtocol(n), ...(this.#files.receives ? [fileProtocol(n)] : [])])]
    await this.#libp2p.unhandle(protocols)
    this.#files.stop(new PeerNotStartedError('Peer stopped'))
    this.#auth.stop()
    await this.#rpc.close()
    this.#sealing.stop()
    this.#attester.forget()
  }

  /**
   * Forgets the re-dial tags a previous run left in a persistent peer store. Re-dialling is
   * for this session's dropped connections; left in place, the tags would make libp2p dial
   * every peer ever talked to at its old addresses on start, and a dial to one of them at a
   * new address would wait behind those (seen: 10 s per stale QUIC address). Call before
   * libp2p starts ({@link SubwirePeer.start} does).
   */
  async clearRedialTags (): Promise<number> {
    return await this.#connector.clearRedialTags()
  }

  /**
   * Bytes held for remotes right now: replies queued for clients that do not read them,
   * unfinished request frames and unfinished frames of inbound file streams (each kind
   * bounded per connection and per peer by `limits`).
   */
  get bufferedBytes (): number {
    return this.#rpc.bufferedBytes + this.#files.bufferedBytes
  }

  /** The access-control lists this engine enforces (shared with the connection gater). */
  get acl (): AccessControl {
    return this.#access.acl
  }

  /** Replaces the subnet firewall (or turns it off with `undefined`) and re-checks every live connection against it. */
  async setFirewall (firewall: SubnetFirewallInit | undefined): Promise<void> {
    this.#access.setFirewall(firewall)
    await this.recheckAccess()
  }

  /**
   * Re-checks every authenticated connection against the current ACL and firewall (call
   * after changing them): a now-blocked peer is disconnected with `AccessDeniedError`; one
   * that lost a subnet it had is disconnected so its next connection gets the new set.
   * Returns how many connections were closed.
   */
  async recheckAccess (): Promise<number> {
    return await this.#access.recheck(this.#auth.sessions())
  }

  /** Registers an RPC handler for `type` on one subnet or on every configured one. */
  handle (type: string, handler: RpcHandler, options: HandleOptions = {}): void {
    this.#rpc.handle(type, handler, options)
  }

  /** Removes a handler registered with {@link Subwire.handle}. */
  unhandle (type: string, options: HandleOptions = {}): void {
    this.#rpc.unhandle(type, options)
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
    return [...this.#auth.sessions()].map((s) => ({ ...s.remote }))
  }

  /**
   * Connects to a destination (a multiaddr ending in /p2p/<PeerId>, or an SS58 with an
   * open connection or an address-book entry) and waits for the handshake.
   */
  async connect (dest: string, options: AbortOptions = {}): Promise<RemotePeer> {
    return { ...(await this.#connector.session(dest, options)).remote }
  }

  /** Sends a request and resolves with the reply body. */
  async request (dest: string, type: string, body: unknown, options: SubwireRequestOptions = {}): Promise<unknown> {
    return await this.#rpc.request(this.#reach(dest, options), type, body, options)
  }

  /** Sends a request whose handler streams its reply; yields each chunk. */
  async * requestStream (dest: string, type: string, body: unknown, options: SubwireRequestOptions = {}): AsyncGenerator<unknown, void, undefined> {
    yield * this.#rpc.requestStream(this.#reach(dest, options), type, body, options)
  }

  /** Sends a control message; resolves once the receiver's listeners have taken it (ack). Returns the message id. */
  async message (dest: string, action: string, payload: unknown, options: MessageOptions = {}): Promise<string> {
    return await this.#rpc.message(this.#reach(dest, options), action, payload, options)
  }

  /**
   * Sends a file: hashes it into a manifest, offers it, streams the chunks the receiver
   * does not have yet (resuming from its verified offset) and resolves once the receiver
   * has verified it and moved it into its inbox.
   */
  async sendFile (dest: string, source: FileSource, options: SubwireSendFileOptions = {}): Promise<SendFileResult> {
    return await this.#files.send(this.#reach(dest, options), dest, source, options)
  }

  /**
   * Sends a folder (a tree of files with relative paths) as one transfer: the receiver asks
   * its policy once, verifies every file into a staging area and moves the folder into
   * `inbox/<sender>/<name>` in one step; resolves on its ack. Sending it again after an
   * interruption resumes: files already staged are re-checked, not re-sent.
   */
  async sendFolder (dest: string, folder: FolderSource, options: SubwireSendFolderOptions = {}): Promise<SendFolderResult> {
    return await this.#files.sendFolder(this.#reach(dest, options), dest, folder, options)
  }


  /** Cancels an incoming transfer by id; the sender gets `TransferCancelledError` with the reason. */
  cancelTransfer (id: string, reason = 'cancelled by the receiver'): boolean {
    return this.#files.cancel(id, reason)
  }

  /** Sets (or clears) the policy hook that accepts or refuses incoming files: throw to refuse. */
  onFileOffer (hook: ReceivePolicy['onOffer']): void {
    this.#files.onOffer(hook)
  }

  /**
   * Where a hotkey can be reached and which source said so: the address book, the DHT
   * (cached until the record expires), then the metagraph. Throws `UnknownDestinationError`.
   */
  async resolve (ss58: string, options: AbortOptions = {}): Promise<ResolvedHotkey> {
    return await this.#discovery.resolve(ss58, options)
  }

  /** The members of a subnet (DHT providers with their verified records, and the metagraph); not this peer. */
  async members (netuid: number, options: AbortOptions = {}): Promise<ResolvedHotkey[]> {
    return await this.#discovery.members(netuid, options)
  }

  /** Publishes our signed record now (it is also published at start, on address changes and before expiry); resolves with how many DHT peers took it. */
  async publish (options: AbortOptions = {}): Promise<number> {
    return await this.#discovery.publish(options)
  }

  /** Sends one request to every member of `netuid`; iterate for the results as they arrive, then read `summary`. */
  querySubnet (netuid: number, type: string, body: unknown, options: FanOutOptions = {}): SubnetFanOut {
    return this.#fanout.run(netuid, async (ss58, o) => {
      // bulk off unless asked: a second dial per member would come out of the fan-out's deadline
      const send = { netuid, timeout: o.timeout, encrypt: options.encrypt, bulk: options.bulk ?? false, signal: o.signal }
      if (options.stream !== true) return await this.request(ss58, type, body, send)
      const chunks: unknown[] = []
      for await (const chunk of this.requestStream(ss58, type, body, send)) chunks.push(chunk)
      return chunks
    }, options)
  }

  /** Sends one control message to every member of `netuid`; each result's body is the message id. */
  messageSubnet (netuid: number, action: string, payload: unknown, options: FanOutOptions = {}): SubnetFanOut {
    return this.#fanout.run(netuid, async (ss58, o) => await this.message(ss58, action, payload, { netuid, timeout: o.timeout, encrypt: options.encrypt, signal: o.signal }), options)
  }

  #reach (dest: string, options: AbortOptions): () => Promise<Session> {
    return async () => await this.#connector.session(dest, options)
  }
}
