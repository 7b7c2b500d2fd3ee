/**
 * The `/subwire/auth/1.0.0` handshake: one round trip on a fresh stream, right after
 * a connection opens. The dialer sends its hello, the listener verifies it and answers
 * with its own hello (or a refusal), the dialer verifies that. Each side checks the
 * other's attestation against the connection's transport-authenticated remote PeerId.
 *
 * Hello frame: `{ v: 1, a: attestation bytes, s: signature, addrs: string[], mc: max concurrent requests }`.
 * Reply frame: the listener's hello plus `ok: true`, or `{ ok: false, e: { name, message } }`.
 *
 * @packageDocumentation
 */
import { asRecord, bytesField, present, uintField } from '../wire/fields.ts'
import { MAX_ANNOUNCED_ADDRS, PROTOCOL_VERSION } from '../constants.ts'
import { DecodeLimitError, errorFromWire, errorToWire, FrameTooLargeError, HandshakeFailedError, InvalidFrameError, toError, TruncatedFrameError } from '../errors/index.ts'
import type { Attestation, SignedAttestation } from '../identity/attestation.ts'
import type { FramedStream } from '../wire/framed-stream.ts'
import type { AbortOptions } from '../abort.ts'

/** What one side announces in its hello. */
export interface Hello {
  /** Our signed attestation. */
  attestation: SignedAttestation
  /** Addresses we can be dialled on (without /p2p/). */
  addrs: string[]
  /** Concurrent requests we accept per connection. */
  maxConcurrent: number
}

/** What a completed handshake tells about the remote. */
export interface HandshakeResult {
  /** The remote's verified attestation. */
  attestation: Attestation
  /** Addresses the remote announced (unverified hints, only ever dialled with its PeerId). */
  addrs: string[]
  /** The remote's per-connection request limit. */
  maxConcurrent: number
}

/**
 * Verifies a remote attestation (bytes, signature) and decides whether the hotkey may
 * connect (access control, subnet firewall); throws a typed error.
 */
export type AttestationVerifier = (bytes: Uint8Array, signature: Uint8Array) => Attestation | Promise<Attestation>

function helloFrame (hello: Hello): Record<string, unknown> {
  return {
    v: PROTOCOL_VERSION,
    a: hello.attestation.bytes,
    s: hello.attestation.signature,
    addrs: hello.addrs.slice(0, MAX_ANNOUNCED_ADDRS),
    mc: hello.maxConcurrent
  }
}

async function parseHello (frame: Record<string, unknown>, verify: AttestationVerifier): Promise<HandshakeResult> {
  const v = uintField(frame, 'v', 'hello', 255)
  if (v !== PROTOCOL_VERSION) throw new HandshakeFailedError(`Unsupported subwire protocol version ${v}`)
  const bytes = bytesField(frame, 'a', 'hello', 4096)
  const signature = bytesField(frame, 's', 'hello', 64)
  const maxConcurrent = uintField(frame, 'mc', 'hello', 1_000_000)
  const rawAddrs = Array.isArray(frame.addrs) ? frame.addrs : []
  const addrs = rawAddrs.filter((a): a is string => typeof a === 'string' && a.startsWith('/') && a.length < 512).slice(0, MAX_ANNOUNCED_ADDRS)
  const attestation = await verify(bytes, signature)
  return { attestation, addrs, maxConcurrent: Math.max(1, maxConcurrent) }
}

/** What a reply that arrived but is broken throws: not a refusal. */
const MALFORMED = new Set([InvalidFrameError.name, FrameTooLargeError.name, TruncatedFrameError.name, DecodeLimitError.name])

/** Runs the dialer's side on a freshly opened auth stream. */
export async function initiateHandshake (framed: FramedStream, hello: Hello, verify: AttestationVerifier, options: AbortOptions = {}): Promise<HandshakeResult> {
  framed.send(helloFrame(hello))
  let frame: unknown
  try {
    frame = await framed.readFrame(options)
  } catch (err) {
    if (options.signal?.aborted === true || MALFORMED.has(toError(err).name)) throw err
    // a listener that refuses writes its reason, then closes; a stream that ends right after
    // our hello with no answer at all is, almost always, that refusal with its reason lost
    const e = toError(err)
    throw new HandshakeFailedError(`The remote ended the handshake without answering our hello (${e.name}: ${e.message}): it most likely refused this peer (its access lists, firewall or limits), and its reason did not arrive`, { cause: e })
  }
  const reply = asRecord(frame, 'handshake reply')
  if (reply.ok !== true) {
    if (reply.ok === false && present(reply, 'e')) {
      const remote = errorFromWire(asRecord(reply.e, 'handshake refusal') as { name: string, message: string })
      throw new HandshakeFailedError(`Remote refused the handshake: ${remote.name}: ${remote.message}`, { cause: remote })
    }
    throw new InvalidFrameError('handshake reply without "ok"')
  }
  const result = await parseHello(reply, verify)
  // closing needs no answer from the remote: the session starts now, the close completes on its own
  framed.close(options).catch(() => {})
  return result
}

/**
 * Runs the listener's side on an inbound auth stream. On a bad hello it sends a refusal
 * naming the error, then rethrows it.
 */
export async function respondHandshake (framed: FramedStream, hello: Hello | (() => Promise<Hello>), verify: AttestationVerifier, options: AbortOptions = {}): Promise<HandshakeResult> {
  let result: HandshakeResult
  try {
    result = await parseHello(asRecord(await framed.readFrame(options), 'hello'), verify)
  } catch (err) {
    try {
      framed.send({ ok: false, e: errorToWire(err) })
      await framed.close(options)
    } catch {}
    throw err
  }
  const ours = typeof hello === 'function' ? await hello() : hello
  framed.send({ ok: true, ...helloFrame(ours) })
  // established before the close completes, so the dialler's first stream never races it
  framed.close(options).catch(() => {})
  return result
}
