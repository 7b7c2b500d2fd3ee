/**
 * The frame, root and encryption vectors of docs/PROTOCOL.md (block `json frame-vectors`):
 * made here by the protocol's own code (codec, manifest, root, sealing, attestation
 * layout), and the block in the doc must equal them. `SUBWIRE_WRITE_VECTORS=1` rewrites
 * the block (on purpose, after a protocol change); the attestation signature is kept from
 * the doc when there is one (sr25519 signatures are randomised) and checked.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { errorToWire, nobleBackend, SubnetFirewallError, uriSigner, verifyAttestation, webCryptoBackend } from '@subwire/shared'
import { E2ePurpose, e2eInfo, encodeAttestation, encodeFrame, encodeValue, fileRoot, folderRoot, folderToWire, manifestToWire, replyCipher, sealEnvelope } from '@subwire/shared/protocol'
import { AccessDeniedError, FileTooLargeError, TransferCancelledError, UnknownRpcTypeError } from '../src/errors/index.ts'
import { blake3 } from '../src/files/hash.ts'
import type { E2eBackend, FileManifest } from '@subwire/shared'

const DOC = new URL('../../../docs/PROTOCOL.md', import.meta.url)
const BLOCK = /(```json frame-vectors\n)([\s\S]*?)(```)/
const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex')
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))

/** JSON of a frame: byte strings as `{ "bin": hex }`, keys in the order they are encoded. */
function toJson (v: unknown): unknown {
  if (v instanceof Uint8Array) return { bin: hex(v) }
  if (Array.isArray(v)) return v.map(toJson)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]))
  return v
}

function fromJson (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJson)
  if (v !== null && typeof v === 'object') {
    const rec = v as Record<string, unknown>
    if (Object.keys(rec).length === 1 && typeof rec.bin === 'string') return bytes(rec.bin)
    return Object.fromEntries(Object.entries(rec).map(([k, x]) => [k, fromJson(x)]))
  }
  return v
}

/** The e2e vector's keys and parties (block `json e2e-vector`). */
interface E2eVector { recipientPrivate: string, ephemeralPrivate: string, sender: string, recipient: string, file: { receiverEphemeralPublic: string } }

function e2eVector (): E2eVector {
  const match = /```json e2e-vector\n([\s\S]*?)```/.exec(readFileSync(DOC, 'utf8'))
  assert.ok(match?.[1])
  return JSON.parse(match[1]) as E2eVector
}

/** Byte `i` of a test file is `i mod 251`. */
function pattern (n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = i % 251
  return out
}

async function manifestOf (id: string, name: string, data: Uint8Array, chunkSize: number): Promise<FileManifest> {
  const n = Math.ceil(data.byteLength / chunkSize)
  const chunkHashes = new Uint8Array(n * 32)
  for (let i = 0; i < n; i++) chunkHashes.set(await blake3(data.subarray(i * chunkSize, (i + 1) * chunkSize)), i * 32)
  return { id, name, size: data.byteLength, chunkSize, chunkHashes, root: await fileRoot(data.byteLength, chunkSize, chunkHashes) }
}

async function build (backend: E2eBackend, keptSignature: string | undefined): Promise<Record<string, unknown>> {
  const v = e2eVector()
  const recipient = await backend.importPrivateKey(bytes(v.recipientPrivate))
  const ephemeral = await backend.importPrivateKey(bytes(v.ephemeralPrivate))
  const sender = v.sender
  const to = v.recipient
  const transferId = '00000000-0000-4000-8000-000000000002'
  const alice = uriSigner('//Alice')

  // attestation with an encryption key (the e2e vector's recipient public key, as an example)
  const attestationFields = {
    version: 1, ss58Prefix: 42, publicKey: alice.publicKey, peerId: '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831', netuids: [1, 42],
    issuedAt: 1767225600000, expiresAt: 1767312000000, nonce: bytes('000102030405060708090a0b0c0d0e0f'), encryptionKey: recipient.publicKey
  }
  const attestation = encodeAttestation(attestationFields)
  const signature = keptSignature ?? hex(await alice.sign(attestation))

  // roots
  const roots = []
  for (const [what, size, chunkSize] of [['empty', 0, 1048576], ['3 bytes', 3, 1048576], ['150,000 bytes at 64 KiB', 150000, 65536], ['exactly 2 chunks (131,072 bytes at 64 KiB)', 131072, 65536]] as const) {
    const m = await manifestOf(transferId, 'f', pattern(size), chunkSize)
    roots.push({ what, size, chunkSize, chunkHashes: hex(m.chunkHashes), chunkCount: m.chunkHashes.byteLength / 32, root: hex(m.root) })
  }

  // purpose 2 (an RPC request, id = its type), its streamed reply (purpose 3) with the end marker
  const reqContext = { purpose: E2ePurpose.Request, sender, recipient: to, id: 'echo' }
  const reqPlain = encodeValue({ hello: 'world' })
  const req = await sealEnvelope(backend, recipient.publicKey, reqContext, reqPlain, { ephemeral })
  const reply = await replyCipher(backend, req.state.ikm, reqContext, req.envelope.ek, req.envelope.rk)
  const streamed = []
  for (const [i, body, last] of [[0, 'a', false], [1, 'b', false], [2, null, true]] as const) {
    const plaintext = encodeValue(body)
    streamed.push({ index: i, last, plaintext: hex(plaintext), sealed: hex(await reply.seal(i, plaintext, last)) })
  }

  const singlePlain = encodeValue({ hello: 'world' })
  const single = { index: 0, last: true, plaintext: hex(singlePlain), sealed: hex(await reply.seal(0, singlePlain, true)) }

  // purpose 4 (the sealed manifest of a 3-byte file, id = the transfer id)
  const small = await manifestOf(transferId, 'abc.txt', new TextEncoder().encode('abc'), 1048576)
  const manifestContext = { purpose: E2ePurpose.FileManifest, sender, recipient: to, id: transferId }
  const manifestPlain = encodeValue(manifestToWire(small))
  const offer = await sealEnvelope(backend, recipient.publicKey, manifestContext, manifestPlain, { ephemeral })

  // a folder of the 3-byte file at docs/abc.txt and an empty file
  const folderId = '00000000-0000-4000-8000-000000000004'
  const empty = await manifestOf(transferId, 'empty', new Uint8Array(), 1048576)
  const folderEntries = [{ path: 'docs/abc.txt', size: 3, root: small.root }, { path: 'empty', size: 0, root: empty.root }]
  const folder = { id: folderId, name: 'data', entries: folderEntries, root: await folderRoot(folderEntries) }
  // its encrypted offer: the folder map sealed under purpose 4 with the folder id
  const folderContext = { purpose: E2ePurpose.FileManifest, sender, recipient: to, id: folderId }
  const folderPlain = encodeValue(folderToWire(folder))
  const sealedFolder = await sealEnvelope(backend, recipient.publicKey, folderContext, folderPlain, { ephemeral })

  const frames: Array<[string, string, unknown]> = [
    ['auth', 'hello', { v: 1, a: attestation, s: bytes(signature), addrs: ['/ip4/192.0.2.1/udp/4001/quic-v1'], mc: 1024 }],
    ['auth', 'reply: accepted', { ok: true, v: 1, a: attestation, s: bytes(signature), addrs: [], mc: 1024 }],
    ['auth', 'reply: refused', { ok: false, e: errorToWire(new AccessDeniedError('5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y is not allowed')) }],
    ['rpc', 'k 0 request, timeout 30 s', { k: 0, id: 1, t: 'echo', b: { hello: 'world' }, to: 30000 }],
    ['rpc', 'k 0 request with a u64 body field and timeout', { k: 0, id: 2, t: 'echo', b: { size: 5 * 2 ** 30 }, to: 2 ** 33 }],
    ['rpc', 'k 0 request, streamed reply', { k: 0, id: 3, t: 'stream', b: null, s: 1 }],
    ['rpc', 'k 0 request, encrypted (purpose 2 below)', { k: 0, id: 4, t: 'echo', x: req.envelope }],
    ['rpc', 'k 1 cancel', { k: 1, id: 1 }],
    ['rpc', 'k 2 reply', { k: 2, id: 1, b: { hello: 'world' } }],
    ['rpc', 'k 2 reply of a handler that returned nothing (no b)', { k: 2, id: 2 }],
    ['rpc', 'k 2 reply, encrypted (x = sealed chunk 0, last)', { k: 2, id: 4, x: bytes(single.sealed) }],
    ['rpc', 'k 3 error reply', { k: 3, id: 1, e: errorToWire(new UnknownRpcTypeError('No handler for "x" on subnet 42')) }],
    ['rpc', 'k 4 streamed chunk', { k: 4, id: 3, b: 'a' }],
    ['rpc', 'k 4 streamed chunk, encrypted', { k: 4, id: 4, x: bytes(streamed[0]?.sealed as string) }],
    ['rpc', 'k 5 end', { k: 5, id: 3 }],
    ['rpc', 'k 5 end, encrypted (sealed nil, last)', { k: 5, id: 4, x: bytes(streamed[2]?.sealed as string) }],
    ['rpc', 'k 6 credit', { k: 6, id: 3, n: 8 }],
    ['rpc', 'k 7 channel refused', { k: 7, e: errorToWire(new SubnetFirewallError('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY is not admitted to subnet 42 on this peer')) }],
    ['msg', 'k 0 message (plaintext)', { k: 0, id: 5, t: 'note', b: { a: 1 }, m: '00000000-0000-4000-8000-000000000001' }],
    ['msg', 'k 2 ack', { k: 2, id: 5 }],
    ['file', 'offer (plaintext, the 3-byte file)', { k: 'offer', m: manifestToWire(small) }],
    ['file', 'offer (encrypted, purpose 4 below)', { k: 'offer', id: transferId, x: offer.envelope }],
    ['file', 'accept', { k: 'accept', from: 0, w: 8 }],
    ['file', 'accept (encrypted: receiver ephemeral eR)', { k: 'accept', from: 0, w: 8, ek: bytes(v.file.receiverEphemeralPublic) }],
    ['file', 'refuse', { k: 'refuse', e: errorToWire(new FileTooLargeError('5 GiB is above this peer\'s limit of 1 GiB')) }],
    ['file', 'chunk', { k: 'chunk', i: 0, d: new TextEncoder().encode('abc') }],
    ['file', 'credit', { k: 'credit', n: 1, at: 1 }],
    ['file', 'credit keepalive while finalising', { k: 'credit', n: 0, at: 1 }],
    ['file', 'done', { k: 'done', r: small.root }],
    ['file', 'done (duplicate)', { k: 'done', r: small.root, dup: true }],
    ['file', 'cancel', { k: 'cancel', e: errorToWire(new TransferCancelledError('The sender cancelled the transfer')) }],
    ['file', 'folder offer (plaintext: docs/abc.txt and an empty file)', { k: 'folder', m: folderToWire(folder) }],
    ['file', 'folder offer (encrypted, folderManifest below)', { k: 'folder', id: folderId, x: sealedFolder.envelope }],
    ['file', 'folder wait (at once: this receiver understands folders)', { k: 'wait' }],
    ['file', 'folder accept', { k: 'accept' }],
    ['file', 'offer of folder entry 0 (the manifest names its folder in f)', { k: 'offer', m: manifestToWire({ ...small, name: 'docs/abc.txt', folder: { id: folderId, index: 0 } }) }],
    ['file', 'folder end', { k: 'end' }],
    ['file', 'folder done (the folder root)', { k: 'done', r: folder.root }]
  ]

  return {
    dialect: [
      { value: 4294967295, hex: hex(encodeValue(4294967295)) },
      { value: 5368709120, hex: hex(encodeValue(5368709120)) },
      { value: -1, hex: hex(encodeValue(-1)) },
      { value: null, hex: hex(encodeValue(null)) },
      { value: { a: 1 }, hex: hex(encodeValue({ a: 1 })) }
    ],
    frames: frames.map(([protocol, what, value]) => ({ protocol, what, value: toJson(value), frame: hex(encodeFrame(value, 16 * 1024 * 1024)) })),
    roots,
    request: { purpose: 2, sender, recipient: to, id: 'echo', info: hex(e2eInfo(reqContext, [req.envelope.ek, req.envelope.rk])), plaintext: hex(reqPlain), c: hex(req.envelope.c), sharedSecret: hex(req.state.ikm) },
    reply: { purpose: 3, id: 'echo', single, streamed },
    manifest: { purpose: 4, sender, recipient: to, id: transferId, info: hex(e2eInfo(manifestContext, [offer.envelope.ek, offer.envelope.rk])), plaintext: hex(manifestPlain), c: hex(offer.envelope.c) },
    folderManifest: { purpose: 4, sender, recipient: to, id: folderId, info: hex(e2eInfo(folderContext, [sealedFolder.envelope.ek, sealedFolder.envelope.rk])), plaintext: hex(folderPlain), c: hex(sealedFolder.envelope.c) },
    attestationWithKey: { bytes: hex(attestation), signature }
  }
}

/** One vector a line, so the block reads as a table. */
function format (built: Record<string, unknown>): string {
  const entries = Object.entries(built).map(([k, v]) => `  ${JSON.stringify(k)}: ${Array.isArray(v) ? `[\n${v.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]` : JSON.stringify(v)}`)
  return `{\n${entries.join(',\n')}\n}`
}

function docBlock (): { doc: string, block: Record<string, unknown> | undefined } {
  const doc = readFileSync(DOC, 'utf8')
  const match = BLOCK.exec(doc)
  return { doc, block: match?.[2] === undefined ? undefined : JSON.parse(match[2]) as Record<string, unknown> }
}

describe('frame vectors in docs/PROTOCOL.md', () => {
  for (const backend of [webCryptoBackend(), nobleBackend()]) {
    it(`are what the code produces (${backend.name})`, async () => {
      const { doc, block } = docBlock()
      const kept = (block?.attestationWithKey as { signature?: string } | undefined)?.signature
      const built = await build(backend, kept)
      if (process.env.SUBWIRE_WRITE_VECTORS === '1') {
        writeFileSync(DOC, doc.replace(BLOCK, (_m, open: string, _b: string, close: string) => `${open}${format(built)}\n${close}`))
        return
      }
      assert.ok(block !== undefined, 'docs/PROTOCOL.md has the frame-vectors block')
      assert.deepEqual(block, built)
    })
  }

  it('every documented frame re-encodes from its JSON to its bytes, and the attestation signature verifies', () => {
    const { block } = docBlock()
    assert.ok(block !== undefined)
    for (const f of block.frames as Array<{ what: string, value: unknown, frame: string }>) {
      assert.equal(hex(encodeFrame(fromJson(f.value), 16 * 1024 * 1024)), f.frame, f.what)
    }
    const a = block.attestationWithKey as { bytes: string, signature: string }
    const verified = verifyAttestation(bytes(a.bytes), bytes(a.signature), { expectedPeerId: '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831', now: 1767225601000, ss58Prefix: 42 })
    assert.equal(verified.encryptionKey?.byteLength, 32)
  })
})
