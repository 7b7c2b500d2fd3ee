/**
 * Fuzz targets of the WebTransport listener's decoders, run by the coverage-guided fuzzer
 * with the shared ones (packages/shared/test/fuzz/run.ts): the QUIC varint and the
 * WebTransport stream header read off every incoming stream, and the CONNECT request's
 * URL. Each must succeed, ask for more bytes, or throw a typed error.
 */
import { errorClasses } from '@subwire/shared'
import { checkSessionUrl, decodeVarint, encodeVarint, parseStreamHeader, WebTransportProtocolError } from '../src/webtransport/index.ts'

/** A fuzz target, as the runner takes it (the same shape as packages/shared/test/fuzz/targets.ts). */
export interface FuzzTarget {
  name: string
  seeds: () => Promise<Uint8Array[]>
  run: (input: Uint8Array) => unknown
  isTyped?: (err: unknown) => boolean
}

const enc = new TextEncoder()
const dec = new TextDecoder()
/** Subwire's typed errors, and the WebTransport listener's own. */
const typed = (err: unknown): boolean => err instanceof Error && (Object.hasOwn(errorClasses, err.name) || err.name === WebTransportProtocolError.name)

/** The WebTransport listener's decoders. */
export const webTransportTargets: FuzzTarget[] = [
  {
    name: 'wt-varint',
    seeds: async () => [encodeVarint(0n), encodeVarint(63n), encodeVarint(16383n), encodeVarint((1n << 30n) - 1n), encodeVarint((1n << 62n) - 1n)],
    run: (input) => {
      // every offset, as the header parser walks a buffer; a decoded value must re-encode to the same length
      for (let at = 0; at < Math.min(input.byteLength, 32); at++) {
        const v = decodeVarint(input, at)
        if (v === undefined) continue
        if (v.value < 0n || v.value >= 1n << 62n || v.length > 8 || at + v.length > input.byteLength) throw new Error(`varint out of bounds: ${v.value} in ${v.length} bytes`)
        if (encodeVarint(v.value).byteLength > v.length) throw new Error(`varint ${v.value} re-encodes longer than ${v.length} bytes`)
      }
    },
    isTyped: typed
  },
  {
    name: 'wt-stream-header',
    seeds: async () => [Uint8Array.of(0x40, 0x41, 0x00), Uint8Array.of(0x40, 0x41, 0x80, 0, 0, 4), Uint8Array.of(0x41), Uint8Array.of(0x00, 0x00)],
    run: (input) => {
      // whole, and grown one byte at a time as a stream's reads would deliver it
      const whole = parseStreamHeader(input)
      if (whole !== undefined && (whole.length > 16 || whole.length > input.byteLength)) throw new Error(`header length ${whole.length} beyond its bytes`)
      for (let n = 0; n <= Math.min(input.byteLength, 17); n++) {
        try { parseStreamHeader(input.subarray(0, n)) } catch (err) { if (!typed(err)) throw err }
      }
    },
    isTyped: typed
  },
  {
    name: 'wt-connect-url',
    seeds: async () => ['https://127.0.0.1:4433/.well-known/libp2p-webtransport?type=noise', 'https://[::1]:1/.well-known/libp2p-webtransport?type=noise&x=1', 'https://a/b'].map((s) => enc.encode(s)),
    run: (input) => { checkSessionUrl(dec.decode(input)) },
    isTyped: typed
  }
]
