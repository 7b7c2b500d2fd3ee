/**
 * The file protocol of the served subnets (`/subwire/sn/<netuid>/file/1.0.0`): sends files
 * to a reached session (offering again when the receiver's partial copy failed its final
 * check), and receives them into the {@link FileStore}, one transfer per resume key at a
 * time, within the disk space not promised to other transfers.
 *
 * @packageDocumentation
 */
import { fileProtocol } from '../constants.ts'
import {
  OperationAbortedError,
  ConnectionLostError,
  EncryptionUnavailableError,
  FileRefusedError,
  FilesNotEnabledError,
  InvalidConfigError,
  InvalidManifestError,
  ManifestRequiredError,
  NotAuthenticatedError,
  PartialFileCorruptedError,
  SubnetFirewallError,
  SubnetNotServedError,
  toError,
  TransferCancelledError
} from '../errors/index.ts'
import { refuseChannel } from '../rpc/frames.ts'
import { BudgetScopes } from '../wire/budget.ts'
import type { ByteBudget } from '../wire/budget.ts'
import { FramedStream } from '../wire/framed-stream.ts'
import { createManifest } from './manifest.ts'
import { FileReceiver } from './receiver.ts'
import { FolderReceiver, FolderRegistry } from './folder-receiver.ts'
import type { ReceiveFolderInit } from './folder-receiver.ts'
import { FolderSender } from './folder-sender.ts'
import { asRecord } from '../wire/fields.ts'
import { DiskReservations } from './reservations.ts'
import { sendFileOverStream } from './sender.ts'
import type { Authenticator } from '../auth/authenticator.ts'
import type { Session } from '../auth/session.ts'
import type { AbortOptions } from '../abort.ts'
import type { E2eSealing } from '../encryption/sealing.ts'
import type { Emitter } from '../events.ts'
import type { DeliveryLog } from '../outbox/store.ts'
import type { Caller } from '../rpc/types.ts'
import type { SubwireEvents, SubwireInit, SubwireSendFileOptions, SubwireSendFolderOptions } from '../types.ts'
import type { FileManifest, FileSource, FileStore, FolderSource, ReceivePolicy, SendFileOptions, SendFileResult, SendFolderResult } from './types.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/** Room in a file-stream frame for the MessagePack envelope around a chunk or a manifest. */
const FILE_FRAME_OVERHEAD = 64 * 1024
/** File streams keep a few chunks queued so the transport never waits for the disk; the credit window bounds the rest. */
const FILE_HIGH_WATER_MARK = 4 * 1024 * 1024
/** Offers of one file in a row to a receiver whose partial copy keeps failing its final check. */
const CORRUPT_PARTIAL_RETRIES = 3

/**
 * Whether a streamed offer's refusal asks for the hashed manifest: `ManifestRequiredError`,
 * or a receiver from before streamed offers refusing the manifest as invalid.
 */
function wantsManifest (err: Error): boolean {
  if (err.name === ManifestRequiredError.name) return true
  return err.name === FileRefusedError.name && (err.cause as Error | undefined)?.name === InvalidManifestError.name
}

/** What the {@link FileService} is given. */
export interface FileServiceComponents {
  /** The sessions. */
  auth: Authenticator
  /** End-to-end encryption for a verified remote. */
  sealing: E2eSealing
  /** The engine's events. */
  events: Emitter<SubwireEvents>
  /** Which transfer and content ids were delivered here. */
  deliveries: DeliveryLog
  /** Where received files go; none: this peer does not receive files. */
  store: FileStore | undefined
  /** The `subwire:files` logger. */
  log: Logger
  /** A session better suited to a large transfer to the same remote (see `Connector.bulkSession`); none: the session given. */
  bulkSession?: ((session: Session, options: AbortOptions) => Promise<Session>) | undefined
}

/** Configuration of the {@link FileService}. */
export interface FileServiceInit {
  /** Subnets this peer serves. */
  netuids: number[]
  /** Deadline of a handshake (and of opening a stream). */
  handshakeTimeoutMs: number
  /** Largest frame. */
  maxFrameBytes: number
  /** Encrypt files by default. */
  encrypt: boolean
  /** Refuse plaintext files. */
  requireEncryption: boolean
  /** Limits and policy for received files. */
  policy: SubwireInit['files']
  /** Files from this size on go over {@link FileServiceComponents.bulkSession}. */
  bulkMinBytes: number
  /**
   * Bytes of unfinished frames the inbound file streams of one connection may make us hold
   * before they pause reading (at least two of the largest file frames, so that two
   * streams' frames in progress never stall each other).
   */
  connectionBudgetBytes: number
  /** The same, for all connections of one PeerId together. */
  peerBudgetBytes: number
}

/** Sends and receives files. */
export class FileService {
  readonly #c: FileServiceComponents
  readonly #init: FileServiceInit
  readonly #policy: NonNullable<SubwireInit['files']>
  readonly #incoming = new Map<string, AbortController>()
  readonly #claims = new Map<string, { controller: AbortController, released: Promise<void> }>()
  /** Disk space promised to the transfers being received. */
  readonly #reservations = new DiskReservations()
  /** The folders being received, which their entries' offers look up. */
  readonly #folders = new FolderRegistry()
  /** What the inbound file streams of each connection, and of each PeerId, may make us hold. */
  readonly #budgets: BudgetScopes

  constructor (components: FileServiceComponents, init: FileServiceInit) {
    this.#c = components
    this.#init = init
    this.#policy = { ...init.policy }
    const frame = init.maxFrameBytes + FILE_FRAME_OVERHEAD
    const connection = Math.max(init.connectionBudgetBytes, 2 * frame)
    this.#budgets = new BudgetScopes(connection, Math.max(init.peerBudgetBytes, connection))
  }

  /** Bytes held for senders right now (unfinished frames of inbound file streams), all connections together. */
  get bufferedBytes (): number {
    return this.#budgets.used
  }

  /** Forgets the byte budget of a closed connection. */
  forget (connectionId: string): void {
    this.#budgets.forget(connectionId)
  }

  /** True if this peer receives files. */
  get receives (): boolean {
    return this.#c.store !== undefined
  }

  /** Aborts every incoming transfer with `reason`. */
  stop (reason: Error): void {
    for (const c of this.#incoming.values()) c.abort(reason)
  }

  /** Sets (or clears) the policy hook that accepts or refuses incoming files: throw to refuse. */
  onOffer (hook: ReceivePolicy['onOffer']): void {
    this.#policy.onOffer = hook
  }

  /** Cancels an incoming transfer by id; the sender gets `TransferCancelledError` with the reason. */
  cancel (id: string, reason: string): boolean {
    const c = this.#incoming.get(id)
    c?.abort(new TransferCancelledError(reason))
    return c !== undefined
  }

  /**
   * Sends a file to the session `reach` resolves: hashes it into a manifest (unless one is
   * given), offers it, and resolves once the receiver verified it into its inbox.
   */
  async send (reach: () => Promise<Session>, dest: string, source: FileSource, options: SubwireSendFileOptions = {}): Promise<SendFileResult> {
    const started = performance.now()
    const { netuid, encrypt } = await this.#checkRemote(reach, options)
    if (options.manifest !== undefined && (options.manifest.size !== source.size || (options.id !== undefined && options.id !== options.manifest.id))) {
      throw new InvalidConfigError('The manifest given does not describe this source (size or id differ)')
    }
    // without kept hashes, a source that can name its version is sent at once with a streamed manifest
    let manifest = options.manifest ?? await createManifest(source, { ...options, streamed: options.hashFirst !== true })
    let result: Omit<SendFileResult, 'ms'>
    try {
      result = await this.#sendManifest(reach, dest, netuid, source, manifest, encrypt, options)
    } catch (err) {
      if (manifest.streamed !== true || !wantsManifest(toError(err))) throw err
      // the receiver holds part of it (or predates streamed offers): hash it, and offer that
      this.#c.log('%s: %s; hashing %s to offer its manifest', dest, toError(err).message, manifest.id)
      // the streamed manifest's source key named the receiver's partial: the hashed one keeps it
      const sourceKey = manifest.sourceKey
      manifest = { ...await createManifest(source, { ...options, id: manifest.id, chunkSize: manifest.chunkSize }), ...(sourceKey === undefined ? {} : { sourceKey }) }
      result = await this.#sendManifest(reach, dest, netuid, source, manifest, encrypt, options)
    }
    // a streamed manifest was completed on the way: kept, the next send of the unchanged file skips hashing
    if (manifest.streamed === false) await source.outboard?.put(manifest, options).catch(() => {})
    return { ...result, ms: Math.round((performance.now() - started) * 1000) / 1000 }
  }

  /**
   * Sends a folder to the session `reach` resolves: hashes every file, offers the folder
   * (the receiver asks its policy once), sends each file as a transfer of its own naming
   * its folder entry, and resolves once the receiver moved the whole folder into its inbox.
   */
  async sendFolder (reach: () => Promise<Session>, dest: string, folder: FolderSource, options: SubwireSendFolderOptions = {}): Promise<SendFolderResult> {
    const started = performance.now()
    const { netuid, encrypt } = await this.#checkRemote(reach, options)
    const sender = new FolderSender({
      openStream: async (o) => this.#framed(await this.#newStream(await reach(), netuid, o.signal)),
      sealer: async (id) => encrypt ? this.#c.sealing.fileSealer(await reach(), id) : undefined,
      answerTimeoutMs: this.#init.handshakeTimeoutMs * 2,
      sendFile: async (source, manifest, o) => await this.#sendManifest(reach, dest, netuid, source, manifest, encrypt, o)
    }, folder, options)
    const result = await sender.send()
    return { ...result, ms: Math.round((performance.now() - started) * 1000) / 1000 }
  }

  /** Reaches the destination and checks it serves the subnet (and publishes a key, to encrypt) before any hashing. */
  async #checkRemote (reach: () => Promise<Session>, options: { netuid?: number | undefined, encrypt?: boolean | undefined }): Promise<{ netuid: number, encrypt: boolean }> {
    const netuid = options.netuid ?? this.#init.netuids[0]
    if (netuid === undefined) throw new InvalidConfigError('No netuid given and this peer serves no subnet')
    const remote = await reach()
    if (!remote.attestation.netuids.includes(netuid)) {
      throw new SubnetNotServedError(`${remote.remote.ss58} does not serve subnet ${netuid} (it serves ${remote.attestation.netuids.join(', ') || 'none'})`, { netuid })
    }
    const encrypt = options.encrypt ?? this.#init.encrypt
    if (encrypt && remote.attestation.encryptionKey === undefined) {
      throw new EncryptionUnavailableError(`${remote.remote.ss58} publishes no encryption key; send with encryption off to use this link`)
    }
    return { netuid, encrypt }
  }

  /** Offers a hashed file, again at once when the receiver's partial copy failed its final check. */
  async #sendManifest (reach: () => Promise<Session>, dest: string, netuid: number, source: FileSource, manifest: FileManifest, encrypt: boolean, options: SendFileOptions): Promise<Omit<SendFileResult, 'ms'>> {
    for (let attempt = 1; ; attempt++) {
      try {
        // the connection may have changed while a large file was hashed
        return await this.#offer(await reach(), netuid, source, manifest, encrypt, options)
      } catch (err) {
        if (toError(err).name !== PartialFileCorruptedError.name || attempt >= CORRUPT_PARTIAL_RETRIES) throw err
        this.#c.log('%s: %s; offering %s again', dest, toError(err).message, manifest.id)
      }
    }
  }

  async #offer (reached: Session, netuid: number, source: FileSource, manifest: FileManifest, encrypt: boolean, options: SendFileOptions): Promise<Omit<SendFileResult, 'ms'>> {
    const bulk = this.#c.bulkSession
    const session = bulk !== undefined && manifest.size >= this.#init.bulkMinBytes ? await bulk(reached, options) : reached
    const stream = await this.#newStream(session, netuid, options.signal)
    return await sendFileOverStream(this.#framed(stream), source, manifest, { ...options, e2e: encrypt ? this.#c.sealing.fileSealer(session, manifest.id) : undefined })
  }

  async #newStream (session: Session, netuid: number, signal: AbortSignal | undefined): Promise<Stream> {
    let stream: Stream
    try {
      stream = await session.connection.newStream(fileProtocol(netuid), {
        signal: AbortSignal.any([AbortSignal.timeout(this.#init.handshakeTimeoutMs * 2), ...(signal === undefined ? [] : [signal])]),
        negotiateFully: true,
        runOnLimitedConnection: false
      })
    } catch (err) {
      const e = toError(err)
      if (signal?.aborted === true) throw new OperationAbortedError()
      if (e.name === 'UnsupportedProtocolError') throw new FilesNotEnabledError(`${session.remote.ss58} does not receive files on subnet ${netuid}`)
      throw new ConnectionLostError(`Could not open a file stream to ${session.remote.ss58}: ${e.message}`, { cause: e })
    }
    return stream
  }

  /** Receives a file on an inbound file stream (the protocol handler). */
  async receive (stream: Stream, connection: Connection, netuid: number): Promise<void> {
    // charged from the first byte: an unfinished offer frame is held before we know who sends it
    const framed = this.#framed(stream, this.#budgets.of(connection.id, connection.remotePeer.toString()))
    const session = await this.#c.auth.sessionOf(connection)
    const store = this.#c.store
    if (session === undefined || store === undefined) {
      await refuseChannel(framed, session === undefined ? new NotAuthenticatedError() : new FilesNotEnabledError())
      return
    }
    if (!session.admitted.has(netuid)) {
      await refuseChannel(framed, new SubnetFirewallError(`${session.remote.ss58} is not admitted to subnet ${netuid} on this peer`))
      return
    }
    const blocked = this.#c.auth.blocked(session)
    if (blocked !== undefined) { await refuseChannel(framed, blocked); return }
    const caller: Caller = { ss58: session.remote.ss58, peerId: session.remote.peerId, netuid }
    const controller = new AbortController()
    const onClose = (): void => { controller.abort(new ConnectionLostError()) }
    connection.addEventListener('close', onClose)
    const transfer: { id?: string, folder?: boolean } = {}
    try {
      const init = this.#receiveInit(caller, store, controller, transfer)
      const first = asRecord(await framed.readFrame({ signal: AbortSignal.any([AbortSignal.timeout(init.idleTimeoutMs ?? 60_000), controller.signal]) }), 'sender frame')
      if (first.k === 'folder') {
        transfer.folder = true
        const folder = await new FolderReceiver(framed, init).receive(first)
        if (folder === undefined) return
        this.#c.log('received folder %s (%d files, %d bytes) from %s into %s', folder.name, folder.files, folder.size, caller.ss58, folder.path)
        this.#c.events.emit('folder:received', folder)
        return
      }
      const received = await new FileReceiver(framed, init).receive(first)
      if (received === undefined) return
      if (received.folder !== undefined) {
        this.#c.log('received %s of folder %s from %s', received.name, received.folder, caller.ss58)
        return
      }
      this.#c.log('received %s (%d bytes) from %s into %s', received.name, received.size, caller.ss58, received.path)
      this.#c.events.emit('file:received', received)
    } catch (err) {
      const e = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : toError(err)
      this.#c.log('incoming transfer %s from %s failed: %s: %s', transfer.id ?? '(no offer)', caller.ss58, e.name, e.message)
      this.#c.events.emit(transfer.folder === true ? 'folder:failed' : 'file:failed', { id: transfer.id, from: caller.ss58, error: e })
    } finally {
      connection.removeEventListener('close', onClose)
      if (transfer.id !== undefined) this.#incoming.delete(transfer.id)
    }
  }

  #receiveInit (caller: Caller, store: FileStore, controller: AbortController, transfer: { id?: string }): ReceiveFolderInit {
    const deliveries = this.#c.deliveries
    return {
      folders: this.#folders,
      onFolderAccepted: (offer) => {
        transfer.id = offer.id
        this.#incoming.set(offer.id, controller)
        this.#c.events.emit('folder:accepted', offer)
      },
      onFolderProgress: (event) => { this.#c.events.emit('folder:progress', { ...event, from: caller.ss58 }) },
      caller,
      store,
      policy: this.#policy,
      signal: controller.signal,
      e2e: this.#c.sealing.fileOpener(caller),
      requireEncryption: this.#init.requireEncryption,
      ...(this.#policy.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: this.#policy.idleTimeoutMs }),
      onAccepted: (offer) => {
        transfer.id = offer.id
        this.#incoming.set(offer.id, controller)
        this.#c.events.emit('file:accepted', offer)
      },
      onProgress: (event) => { this.#c.events.emit('file:progress', { ...event, from: caller.ss58 }) },
      claim: async (key) => await this.#claim(key, controller),
      reservations: this.#reservations,
      log: this.#c.log,
      delivered: {
        was: async (deliveryId) => await deliveries.wasDelivered(caller.ss58, deliveryId),
        mark: async (deliveryId) => { await deliveries.markDelivered(caller.ss58, deliveryId, Date.now()) }
      }
    }
  }

  #framed (stream: Stream, budget?: ByteBudget): FramedStream {
    return new FramedStream(stream, { maxFrameBytes: this.#init.maxFrameBytes + FILE_FRAME_OVERHEAD, log: this.#c.log, highWaterMark: FILE_HIGH_WATER_MARK, budget })
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
}
