/**
 * The part of Deno's unstable QUIC API (`--unstable-net`, Deno 2.9) the WebTransport
 * listener uses, typed here so the package compiles without Deno's type library, and
 * found at run time on `globalThis.Deno`.
 *
 * @packageDocumentation
 */

/** A UDP address. */
export interface DenoNetAddr { hostname: string, port: number }

/** Options of `QuicEndpoint.listen` / `QuicIncoming.accept`. */
export interface DenoQuicTransportOptions {
  keepAliveInterval?: number
  maxIdleTimeout?: number
  maxConcurrentBidirectionalStreams?: number
  maxConcurrentUnidirectionalStreams?: number
  congestionControl?: 'throughput' | 'low-latency' | 'default'
}

/** `Deno.QuicSendStream`: closing it sends FIN. */
export interface DenoQuicSendStream extends WritableStream<Uint8Array> { readonly id: bigint }

/** `Deno.QuicReceiveStream`. */
export interface DenoQuicReceiveStream extends ReadableStream<Uint8Array> { readonly id: bigint }

/** `Deno.QuicBidirectionalStream`. */
export interface DenoQuicBidiStream { readonly readable: DenoQuicReceiveStream, readonly writable: DenoQuicSendStream }

/** `Deno.QuicConn`. */
export interface DenoQuicConn {
  close: (info?: { closeCode: number, reason: string }) => void
  createBidirectionalStream: (options?: { waitUntilAvailable?: boolean }) => Promise<DenoQuicBidiStream>
  readonly incomingBidirectionalStreams: ReadableStream<DenoQuicBidiStream>
  readonly remoteAddr: DenoNetAddr
  readonly closed: Promise<{ closeCode: number, reason: string }>
}

/** `Deno.QuicIncoming`. */
export interface DenoQuicIncoming {
  readonly remoteAddr: DenoNetAddr
  accept: (options?: DenoQuicTransportOptions) => Promise<DenoQuicConn>
  refuse: () => void
  ignore: () => void
}

/** `Deno.QuicListener`. */
export interface DenoQuicListener {
  incoming: () => Promise<DenoQuicIncoming>
  stop: () => void
}

/** `Deno.QuicEndpoint`. */
export interface DenoQuicEndpoint {
  readonly addr: DenoNetAddr
  listen: (options: DenoQuicTransportOptions & { alpnProtocols: string[], cert: string, key: string }) => DenoQuicListener
  close: (info?: { closeCode: number, reason: string }) => void
}

/** The WebTransport object `Deno.upgradeWebTransport` returns (its URL is used; it must be kept alive). */
export interface DenoWebTransport {
  readonly url: string
  /** Settles with the QUIC connection; rejects (e.g. "timed out") when that closes with an error. */
  readonly closed: Promise<unknown>
}

/** The part of Deno's FFI and platform info that sizes the UDP socket's buffers (socket-buffers.ts). */
export interface DenoFfi {
  dlopen: (path: string, symbols: Record<string, { parameters: string[], result: string }>) => { symbols: Record<string, (...args: unknown[]) => number>, close: () => void }
  build: { os: string }
}

/** What the listener needs of `Deno`. */
export interface DenoQuicApi {
  QuicEndpoint: new (options: { hostname?: string, port?: number }) => DenoQuicEndpoint
  upgradeWebTransport: (conn: DenoQuicConn) => Promise<DenoWebTransport>
  version: { deno: string }
  /** FFI and platform, used to size the UDP socket's buffers (socket-buffers.ts); absent in fakes. */
  dlopen?: DenoFfi['dlopen']
  build?: DenoFfi['build']
}

/**
 * Deno's QUIC API when running under Deno with `--unstable-net`, else `undefined`
 * (Node, or Deno without the flag).
 */
export function denoQuic (): DenoQuicApi | undefined {
  const deno = (globalThis as { Deno?: Partial<DenoQuicApi> }).Deno
  if (deno?.QuicEndpoint === undefined || deno.upgradeWebTransport === undefined || deno.version === undefined) return undefined
  return deno as DenoQuicApi
}
