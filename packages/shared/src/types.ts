/**
 * The engine's types: what it is given, its configuration, the peers and messages it
 * reports, its events and the options of its calls.
 *
 * @packageDocumentation
 */
import type { FloodLimits } from './auth/access.ts'
import type { AccessControl, SubnetFirewallInit } from './auth/acl.ts'
import type { AddressBook } from './auth/address-book.ts'
import type { AbortOptions } from './abort.ts'
import type { Signer } from './identity/signers.ts'
import type { E2eBackend } from './encryption/backends.ts'
import type { FileManifest, FileOffer, FileStore, FolderProgressEvent, ReceivedFile, ReceivedFolder, ReceivePolicy, SendFileOptions, SendFolderOptions, TransferProgressEvent } from './files/types.ts'
import type { DeliveryLog } from './outbox/store.ts'
import type { Caller } from './rpc/types.ts'
import type { HotkeySource, RecordRouting } from './discovery/types.ts'
import type { ComponentLogger, Libp2p } from '@libp2p/interface'

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
   * Update it at any time, then call `Subwire.recheckAccess`. Default: allow all.
   */
  acl?: AccessControl | undefined
  /**
   * Which message and transfer ids were already delivered here, so a sender's retry after
   * a lost ack is acked without reaching the application twice. Default: in memory (the
   * Node peer uses its durable outbox store).
   */
  deliveries?: DeliveryLog | undefined
  /** The DHT records are published in and resolved from (the peers inject kad-dht); none: no DHT. */
  dht?: RecordRouting | undefined
  /** Sources asked after the address book and the DHT, in order (the metagraph). */
  sources?: HotkeySource[] | undefined
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
  /**
   * RPC handlers running at once here, every caller together (default 256; a streamed
   * reply counts while it produces a chunk, not while it waits for the caller's credit).
   * Beyond it, requests wait for a turn, and callers (hotkeys) take turns in rotation, so
   * that one caller's backlog cannot hold up another's requests. A handler that waits for
   * another request to this peer (a call back) holds its turn meanwhile: keep the limit
   * well above how many can wait at once. Control messages are not counted.
   */
  maxConcurrentHandlers?: number
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
  /** Multiaddrs (ending in `/p2p/<PeerId>`) dialled at start to join the DHT. A peer that knows nobody still works with explicit multiaddrs. */
  bootstrap?: string[] | undefined
  /** Our hotkey record: its lifetime (default 1 h) and whether to publish it (default: when listening). */
  discovery?: { recordLifetimeMs?: number, publish?: boolean }
  /**
   * How large files leave this peer. `transport: 'tcp'`: a file of `minBytes` or more
   * (default 64 MiB) to a remote reached over QUIC goes over a TCP connection to it when the
   * remote announced a TCP address (an open one is reused), else over the session as before.
   * Default `'session'`: the connection the remote was reached on. The Node peer sets `'tcp'`.
   * Requests whose body is `minRequestBytes` or more (default 256 KiB; `Number.MAX_SAFE_INTEGER`
   * keeps them all on the session unless asked) take the same connection (see
   * {@link SubwireRequestOptions.bulk}).
   */
  bulk?: { transport?: 'tcp' | 'session', minBytes?: number, minRequestBytes?: number } | undefined
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
  /** True if its attestation carries an encryption key, so what this peer encrypts to it is end-to-end (above the transport's TLS or Noise). */
  e2e: boolean
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
  /** An incoming folder was accepted (asked once of the policy); its files start to flow. */
  'folder:accepted': FileOffer
  /** Progress of an incoming folder: the file moving now and the folder's totals. */
  'folder:progress': FolderProgressEvent & { from: string }
  /** An incoming folder is complete, every file verified, and moved into the inbox in one step. */
  'folder:received': ReceivedFolder
  /** An incoming folder failed or was refused; its verified files are kept in its staging for a resume. */
  'folder:failed': { id: string | undefined, from: string, error: Error }
  /** An incoming request or control message was answered or refused (for metrics). */
  'request:served': RequestServed
}

/** An incoming request or control message, once answered or refused. */
export interface RequestServed {
  /** `rpc` for a request, `msg` for a control message. */
  kind: 'rpc' | 'msg'
  /** The request type or message action, as the caller sent it (not validated against the handlers). */
  type: string
  /** `'ok'`, or the name of the error the caller got (`UnknownRpcTypeError`, `TooManyRequestsError`, …). */
  outcome: string
  /** Milliseconds from the request frame to the reply. */
  ms: number
  /** The verified caller's hotkey. */
  from: string
  /** The subnet it arrived on. */
  netuid: number
}

/** Options of `Subwire.sendFile`. */
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

/** Options of `Subwire.sendFolder`. */
export interface SubwireSendFolderOptions extends SendFolderOptions {
  /** Subnet to use; default the first configured one. */
  netuid?: number | undefined
  /** Chunk size (default 1 MiB). */
  chunkSize?: number | undefined
  /** Encrypt end to end (default from `encryption.files`, true). */
  encrypt?: boolean | undefined
  /** Folder transfer id; default a random UUID. */
  id?: string | undefined
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

/** Options of a request (`request`, `requestStream`). */
export interface SubwireRequestOptions extends SendOptions {
  /**
   * Send it over the connection large transfers take: with `SubwireInit.bulk.transport`
   * `'tcp'` (the Node peer's default; never in a browser), to a remote reached over QUIC
   * that announced a TCP address, a TCP connection to it (an open one is reused; concurrent
   * requests share one dial; after a failed dial the remote's requests stay on their
   * session for a minute). `true` for a small request with a large reply, `false` to keep
   * the session's connection. Default: when the body holds `bulk.minRequestBytes` (256 KiB)
   * or more (byte arrays and strings by length, numbers as a byte each, two levels deep).
   */
  bulk?: boolean | undefined
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
