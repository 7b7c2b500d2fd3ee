/**
 * What RPC handlers, callers and the encryption hooks of the RPC channel see.
 *
 * @packageDocumentation
 */


/** The verified identity of whoever sent a request or message. */
export interface Caller {
  /** The caller's hotkey, verified by the handshake. */
  ss58: string
  /** The caller's libp2p PeerId (transport-authenticated). */
  peerId: string
  /** The subnet the request arrived on. */
  netuid: number
}


/** What a handler receives besides the body. */
export interface HandlerContext {
  /** The verified caller. */
  caller: Caller
  /** The request type (or message action). */
  type: string
  /** Aborted when the caller cancels, the request times out or the connection closes. */
  signal: AbortSignal
  /** The sender-chosen message id (control messages only). */
  messageId?: string | undefined
}


/**
 * An RPC handler. Return a value (the reply body) or an async iterable (a streamed
 * reply, one chunk per item). Thrown errors reach the caller as `{name, message}`.
 */
export type RpcHandler = (body: unknown, context: HandlerContext) => unknown | Promise<unknown> | AsyncIterable<unknown>


/** Options of a single request. */
export interface RequestOptions {
  /** Cancels the request; the cancel reaches the handler. */
  signal?: AbortSignal | undefined
  /** Reply deadline in ms; the handler's signal aborts at the same deadline. */
  timeout?: number | undefined
  /** Message id carried to the handler (control messages). */
  messageId?: string | undefined
  /** Encrypts this request end to end (and expects an encrypted reply). */
  e2e?: RequestSealer | undefined
}


/** Seals one request body; what it returns opens the reply chunks. */
export type RequestSealer = (body: unknown) => Promise<{
  /** The envelope sent as the request's `x`. */
  x: unknown
  /** Opens reply chunk `index` (`last` on the single reply or the end). */
  openReply: (ciphertext: Uint8Array, index: number, last: boolean) => Promise<unknown>
}>


/** Opens an encrypted request on the server; what it returns seals the replies. */
export type RequestOpener = (x: unknown, type: string, messageId: string | undefined) => Promise<{
  /** The decrypted body. */
  body: unknown
  /** Seals reply chunk `index`. */
  sealReply: (body: unknown, index: number, last: boolean) => Promise<Uint8Array>
}>


/** Counts requests in flight per connection, across its channels. */
export interface RequestLimiter {
  /** Takes a slot; false when the limit is reached. */
  tryAcquire(): boolean
  /** Gives a slot back. */
  release(): void
}
