/**
 * Fuzz targets: every decoder that reads bytes from the network. Each takes arbitrary
 * bytes and must either succeed or throw a typed subwire error (a name in
 * `errorClasses`); anything else (a TypeError, a RangeError, a hang) is a bug.
 * Used by `npm run fuzz` (coverage-guided, packages/shared/test/fuzz/run.ts) and by the fast-check
 * properties in packages/shared/test/fuzz.spec.ts.
 */
import {
  createAttestation,
  createHotkeyRecord,
  hotkeyRecordToValue,
  validateHotkeyRecordEntry,
  errorClasses,
  parseAclEntry,
  seedSigner,
  verifyAttestation
} from '@subwire/shared'
import {
  decodeAttestation,
  decodeHotkeyRecord,
  decodeValue,
  encodeFrame,
  encodeValue,
  envelopeFromWire,
  FrameDecoder,
  manifestFromWire,
  manifestToWire,
  readPayload
} from '@subwire/shared/protocol'
import { createOutboxCipher } from '@subwire/shared'
import type { FileManifest } from '@subwire/shared'

/** One target: a name, seed inputs and the function under test. */
export interface FuzzTarget {
  name: string
  seeds: () => Promise<Uint8Array[]>
  run: (input: Uint8Array) => unknown
  /** Which errors count as a typed rejection; subwire's own typed errors by default. */
  isTyped?: (err: unknown) => boolean
}

/** True if `err` is one of subwire's typed errors. */
export function isTypedError (err: unknown): boolean {
  return err instanceof Error && Object.hasOwn(errorClasses, err.name)
}

const enc = new TextEncoder()

async function attestationSeeds (): Promise<Uint8Array[]> {
  const signer = seedSigner(new Uint8Array(32).fill(1))
  const a = await createAttestation(signer, { peerId: '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831', netuids: [1, 42], encryptionKey: new Uint8Array(32).fill(9), now: 1_767_225_600_000 })
  return [a.bytes, Uint8Array.from([...a.bytes, ...a.signature])]
}

function sampleManifest (): FileManifest {
  return { id: '00000000-0000-4000-8000-000000000001', name: 'w.bin', size: 10, chunkSize: 65536, chunkHashes: new Uint8Array(32), root: new Uint8Array(32) }
}

async function hotkeyRecordSeeds (): Promise<Uint8Array[]> {
  const signer = seedSigner(new Uint8Array(32).fill(2))
  const r = await createHotkeyRecord(signer, { peerId: '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831', multiaddrs: ['/ip4/127.0.0.1/udp/4701/quic-v1'], netuids: [42], now: 1_767_225_600_000 })
  return [r.bytes, hotkeyRecordToValue(r)]
}

/** An at-rest cipher that stores plaintext: reaches the payload decoder with the fuzzer's bytes as they are. */
const plainCipher = { seal: async (p: Uint8Array) => p, open: async (s: Uint8Array) => s }
let cipher: Awaited<ReturnType<typeof createOutboxCipher>> | undefined
async function atRestCipher (): Promise<Awaited<ReturnType<typeof createOutboxCipher>>> {
  cipher ??= await createOutboxCipher(new Uint8Array(32).fill(7))
  return cipher
}

/** Every target. */
export const targets: FuzzTarget[] = [
  {
    name: 'hotkey-record',
    seeds: hotkeyRecordSeeds,
    run: (input) => {
      try { decodeHotkeyRecord(input) } catch (err) { if (!isTypedError(err)) throw err }
      // what the DHT validator runs on every PUT and GET
      validateHotkeyRecordEntry(enc.encode('/subwire-hk/5EsNLFaGe9XK5LzWH3i6eC2Wqv6YqZS1442N1C4yeSdP6uxy'), input, 1_767_225_600_000)
    }
  },
  {
    name: 'frame',
    seeds: async () => [encodeFrame({ k: 0, id: 1, t: 'echo', b: new Uint8Array(8) }, 1 << 20), encodeFrame({ k: 'chunk', i: 3, d: new Uint8Array(64) }, 1 << 20), Uint8Array.of(0, 0, 0, 1, 0xc0)],
    run: (input) => {
      const d = new FrameDecoder(4096)
      // feed in two pieces, as a stream would
      const cut = input.byteLength >> 1
      d.push(input.subarray(0, cut))
      while (d.next() !== undefined) {}
      d.push(input.subarray(cut))
      while (d.next() !== undefined) {}
      d.end()
    }
  },
  {
    name: 'attestation',
    seeds: attestationSeeds,
    run: (input) => {
      if (input.byteLength > 64) {
        // the tail is taken as a signature: a full verification must fail typed, never crash
        const bytes = input.subarray(0, input.byteLength - 64)
        try {
          verifyAttestation(bytes, input.subarray(input.byteLength - 64), { expectedPeerId: '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831', now: 1_767_225_600_000 })
        } catch (err) {
          if (!isTypedError(err)) throw err
        }
      }
      decodeAttestation(input)
    }
  },
  {
    name: 'handshake-hello',
    seeds: async () => (await attestationSeeds()).map((a) => encodeValue({ v: 1, a, s: new Uint8Array(64), addrs: ['/ip4/1.2.3.4/tcp/1'], mc: 1024 })),
    run: (input) => {
      const v = decodeValue(input) as Record<string, unknown> | null
      if (v !== null && typeof v === 'object' && v.a instanceof Uint8Array) decodeAttestation(v.a)
    }
  },
  {
    name: 'manifest',
    // a hashed manifest, and a streamed one (no hashes, no root, a source key)
    seeds: async () => [encodeValue(manifestToWire(sampleManifest())), encodeValue(manifestToWire({ ...sampleManifest(), streamed: true, sourceKey: new Uint8Array(32).fill(7) }))],
    run: async (input) => await manifestFromWire(decodeValue(input))
  },
  {
    name: 'envelope',
    seeds: async () => [encodeValue({ ek: new Uint8Array(32).fill(1), rk: new Uint8Array(32).fill(2), c: new Uint8Array(40) })],
    run: (input) => envelopeFromWire(decodeValue(input))
  },
  {
    name: 'file-chunk-frame',
    seeds: async () => [encodeValue({ k: 'chunk', i: 0, d: new Uint8Array(100) }), encodeValue({ k: 'accept', from: 0, w: 8, ek: new Uint8Array(32) })],
    run: (input) => decodeValue(input)
  },
  {
    // the outbox's at-rest decoder, after decryption: what a damaged or hand-edited outbox.db holds
    name: 'outbox-payload',
    seeds: async () => [
      encodeValue({ k: 'message', a: 'weights.ready', p: { step: 1 }, e: true, t: 5000 }),
      encodeValue({ k: 'file', n: 'w.bin', r: new Uint8Array(8), m: manifestToWire(sampleManifest()), e: false })
    ],
    run: async (input) => await readPayload(plainCipher, { id: 'fuzz', sealed: input } as never)
  },
  {
    // the same, before decryption: any change to a sealed record must be refused, typed
    name: 'outbox-sealed',
    seeds: async () => {
      const c = await atRestCipher()
      return [await c.seal(encodeValue({ k: 'message', a: 'x', p: 1 }), enc.encode('subwire-outbox-v1\u0000fuzz\u0000payload'))]
    },
    run: async (input) => await readPayload(await atRestCipher(), { id: 'fuzz', sealed: input } as never)
  },
  {
    name: 'acl-entry',
    seeds: async () => ['10.0.0.0/8', '::ffff:1.2.3.4', '2001:db8::/32', '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY', '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831'].map((s) => enc.encode(s)),
    run: (input) => parseAclEntry(new TextDecoder().decode(input))
  }
]
