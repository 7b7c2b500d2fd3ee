/**
 * Wire conformance outside our own code: every frame kind real peers emit (auth, RPC,
 * messages, files and folders; plain and end-to-end encrypted, with the MessagePack
 * plaintexts of the AEAD), captured as the bytes each stream handed to its transport, is
 * split at its u32 headers, decoded by Debian's python3-msgpack with strict_map_key and no
 * extension hook, and checked field by field against docs/PROTOCOL.md by
 * scripts/conformance/check_frames.py: an integer field sent as a float, an extension type,
 * a field the spec does not list or a frame kind on the wrong protocol fails it. The same
 * checker passes every MessagePack vector of docs/PROTOCOL.md, so the two cannot drift apart.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { defaultE2eBackend, FileTooLargeError, SubnetFirewallError } from '@subwire/shared'
import { FramedStream, fileRoot } from '@subwire/shared/protocol'
import { addrOf, startPeer, tempDir, waitFor } from './helpers.ts'
import type { E2eBackend, FileManifest, FileSource } from '@subwire/shared'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const CHECKER = fileURLToPath(new URL('../../../scripts/conformance/check_frames.py', import.meta.url))
const PYTHON = process.env.SUBWIRE_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Captured { what: 'wire' | 'frame' | 'sealed' | 'value', protocol?: string, purpose?: number, hex: string, label?: string }

/** The short protocol name of a subwire protocol id (`/subwire/sn/1/file/1.0.0` is `file`). */
function protocolName (id: string): string {
  const name = /^\/subwire\/(?:auth|sn\/\d+\/(rpc|msg|file))\/1\.0\.0$/.exec(id)
  if (name === null) throw new Error(`not a subwire protocol: ${id}`)
  return name[1] ?? 'auth'
}

/**
 * Records the bytes every FramedStream in this process (both peers run here) hands to its
 * libp2p stream: the first `send` on a FramedStream wraps that stream's own `send`, the
 * sink, so what is captured is what went to the transport (headers, coalesced writes and
 * all), one record per stream, not a re-encoding of the frame values.
 */
function captureWire (into: Array<{ protocol: string, chunks: Uint8Array[] }>): () => void {
  const proto = FramedStream.prototype as unknown as { send: (frame: unknown) => void }
  const original = proto.send
  const tapped = new WeakSet<object>()
  proto.send = function (this: FramedStream, frame: unknown) {
    const stream = this.stream
    if (!tapped.has(stream)) {
      tapped.add(stream)
      const record = { protocol: protocolName(stream.protocol), chunks: [] as Uint8Array[] }
      into.push(record)
      const sink = stream.send.bind(stream)
      stream.send = (data) => {
        const accepted = sink(data) // throws if the stream took nothing
        record.chunks.push(data instanceof Uint8Array ? data.slice() : data.subarray())
        return accepted
      }
    }
    original.call(this, frame)
  }
  return () => { proto.send = original }
}

/**
 * Records the MessagePack plaintexts the process's E2E backend seals (not file data,
 * purpose 5), by HKDF purpose: both peers run here and share the one default backend.
 */
function recordSealed (backend: E2eBackend, into: Captured[]): () => void {
  const { hkdf, aead } = backend
  const purposeOfKey = new Map<string, number>()
  backend.hkdf = async (ikm, info, length) => {
    const okm = await hkdf.call(backend, ikm, info, length)
    purposeOfKey.set(hex(okm.subarray(0, 32)), info[14] as number) // after "SUBWIRE-E2E-V1"
    return okm
  }
  backend.aead = async (key) => {
    const inner = await aead.call(backend, key)
    const purpose = purposeOfKey.get(hex(key))
    return {
      seal: async (nonce, plaintext) => {
        if (purpose !== undefined && purpose !== 5) into.push({ what: 'sealed', purpose, hex: hex(plaintext) })
        return await inner.seal(nonce, plaintext)
      },
      open: async (nonce, ciphertext) => await inner.open(nonce, ciphertext)
    }
  }
  return () => { backend.hkdf = hkdf; backend.aead = aead }
}

/** A 5 GiB source whose manifest is made up (the receiver refuses it before any chunk is read). */
async function hugeOffer (): Promise<{ source: FileSource, manifest: FileManifest }> {
  const size = 5 * 2 ** 30
  const chunkSize = 1024 * 1024
  const chunkHashes = new Uint8Array(randomBytes((size / chunkSize) * 32))
  const manifest: FileManifest = { id: crypto.randomUUID(), name: 'five-gib.bin', size, chunkSize, chunkHashes, root: await fileRoot(size, chunkSize, chunkHashes) }
  return { source: { name: manifest.name, size, read: async () => { throw new Error('not read') } }, manifest }
}

describe('wire conformance (strict MessagePack decoder in Python)', () => {
  it('every frame kind real peers send decodes strictly and has exactly the fields the spec lists', async () => {
    const { dir, cleanup } = await tempDir()
    const captured: Captured[] = []
    const wire: Array<{ protocol: string, chunks: Uint8Array[] }> = []
    const releaseFrames = captureWire(wire)
    const releaseSealed = recordSealed(await defaultE2eBackend(), captured)
    const firewall = { netuids: [1, 42], source: { allowed: async (n: number) => new Set(n === 1 ? [ALICE] : []) } }
    const bob = await startPeer({
      uri: '//Bob',
      netuids: [1, 42],
      filesDir: join(dir, 'bob-files'),
      protocol: { firewall, files: { minFreeBytes: 0, maxFileSize: 2 ** 30 } }
    })
    const alice = await startPeer({ uri: '//Alice', listen: [], netuids: [1, 42] })
    const charlie = await startPeer({ uri: '//Charlie', listen: [], netuids: [1] })
    try {
      const addr = addrOf(bob, 'quic')
      const opts = { netuid: 1 }
      bob.handle('stream', async function * () { for (let i = 0; i < 20; i++) yield { i, big: 2 ** 40 + i } }, opts)
      bob.handle('hang', async (_b, ctx) => { await new Promise((resolve) => { ctx.signal.addEventListener('abort', resolve) }) }, opts)
      bob.handle('nothing', async () => undefined, opts)
      // RPC: plain with a long timeout, encrypted, an error, streamed (credit), cancel, a handler returning nothing
      assert.deepEqual(await alice.request(addr, 'echo', { size: 5 * 2 ** 30, when: new Date(0) }, { ...opts, timeout: 2 ** 33 }), { size: 5 * 2 ** 30, when: '1970-01-01T00:00:00.000Z' })
      assert.equal(await alice.request(addr, 'echo', 'sealed', { ...opts, encrypt: true }), 'sealed')
      assert.equal(await alice.request(addr, 'nothing', 1, opts), undefined)
      await assert.rejects(alice.request(addr, 'no-such-type', 1, opts), { name: 'UnknownRpcTypeError' })
      for (const encrypt of [false, true]) {
        let n = 0
        for await (const _ of alice.requestStream(addr, 'stream', null, { ...opts, encrypt })) n++
        assert.equal(n, 20)
      }
      await assert.rejects(alice.request(addr, 'hang', 1, { ...opts, timeout: 300 }), { name: 'RequestTimeoutError' })
      // messages, encrypted (the default) and plain; a channel refusal (k 7) on a firewalled subnet
      await alice.message(addr, 'note', { a: 1 }, opts)
      await alice.message(addr, 'note', { a: 2 }, { ...opts, encrypt: false })
      await assert.rejects(alice.request(addr, 'echo', 1, { netuid: 42 }), { name: SubnetFirewallError.name })
      // files: plain, encrypted, a retry of a delivered transfer (done dup), an empty file,
      // a 5 GiB offer refused plain and sealed, and a transfer the receiver cancels
      const small = join(dir, 'small.bin')
      await writeFile(small, randomBytes(100_000))
      await alice.sendFile(addr, small, { ...opts, encrypt: false, id: 'plain-1' })
      await alice.sendFile(addr, small, { ...opts, encrypt: false, id: 'plain-1' })
      const other = join(dir, 'other.bin')
      await writeFile(other, randomBytes(200_000))
      await alice.sendFile(addr, other, { ...opts, id: 'sealed-1' })
      const empty = join(dir, 'empty.bin')
      await writeFile(empty, new Uint8Array(0))
      await alice.sendFile(addr, empty, { ...opts, encrypt: false })
      for (const encrypt of [false, true]) {
        const { source, manifest } = await hugeOffer()
        await assert.rejects(alice.sendFileFrom(addr, source, { ...opts, encrypt, manifest }), { name: FileTooLargeError.name })
      }
      const large = join(dir, 'large.bin')
      await writeFile(large, randomBytes(16 * 1024 * 1024))
      let cancelling = true
      bob.on('file:accepted', (offer) => { if (cancelling) bob.cancelTransfer(offer.id, 'conformance test') })
      await assert.rejects(alice.sendFile(addr, large, { ...opts, encrypt: false }), { name: 'TransferCancelledError' })
      cancelling = false
      // the handshake refused: Charlie is admitted to no subnet
      await assert.rejects(charlie.request(addr, 'echo', 1, opts), (err: Error) => err.name === 'HandshakeFailedError')
      // a folder, plain and encrypted (nested paths and an empty file), and a retry of the delivered one
      const tree = join(dir, 'tree')
      await mkdir(join(tree, 'docs', 'deep'), { recursive: true })
      await writeFile(join(tree, 'docs', 'a.bin'), randomBytes(70_000))
      await writeFile(join(tree, 'docs', 'deep', 'b.txt'), 'b')
      await writeFile(join(tree, 'empty'), new Uint8Array(0))
      const plainFolder = await alice.sendFolder(addr, tree, { ...opts, encrypt: false, id: 'folder-plain-1' })
      assert.equal(plainFolder.files, 3)
      await alice.sendFolder(addr, tree, { ...opts, encrypt: false, id: 'folder-plain-1' })
      assert.equal((await alice.sendFolder(addr, tree, { ...opts, name: 'tree-sealed', id: 'folder-sealed-1' })).files, 3)
      const refusal = Buffer.from('SubnetFirewallError')
      await waitFor(() => wire.some((w) => w.protocol === 'auth' && w.chunks.some((c) => Buffer.from(c).includes(refusal))), 5_000, 'the handshake refusal')
    } finally {
      releaseFrames()
      releaseSealed()
      await charlie.stop()
      await alice.stop()
      await bob.stop()
    }
    try {
      // one item per stream: every byte it wrote, for the checker to split at the headers
      for (const w of wire) captured.push({ what: 'wire', protocol: w.protocol, hex: hex(Buffer.concat(w.chunks)) })
      const file = join(dir, 'frames.json')
      await writeFile(file, JSON.stringify(captured))
      const r = spawnSync(PYTHON, [CHECKER, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      assert.equal(r.error, undefined, `cannot run ${PYTHON} (apt-get install python3-msgpack)`)
      const report = JSON.parse(r.stdout) as { errors: unknown[], kinds: Record<string, number>, offers: unknown[] }
      assert.deepEqual(report.errors, [], 'every captured frame passes the strict check')
      assert.equal(r.status, 0, r.stderr)
      const expected = [
        'auth:hello', 'auth:reply', 'auth:refusal',
        'rpc:0', 'rpc:0:x', 'rpc:0:s', 'rpc:0:x:s', 'rpc:1', 'rpc:2', 'rpc:2:x', 'rpc:3', 'rpc:4', 'rpc:4:x', 'rpc:5', 'rpc:5:x', 'rpc:6', 'rpc:7',
        'file:offer', 'file:offer:x', 'file:accept', 'file:accept:ek', 'file:refuse', 'file:chunk', 'file:credit', 'file:done', 'file:done:dup', 'file:cancel',
        'file:folder', 'file:folder:x', 'file:wait', 'file:accept:folder', 'file:offer:f', 'file:end',
        'sealed:1', 'sealed:2', 'sealed:3', 'sealed:4', 'sealed:4:f', 'sealed:4:folder'
      ]
      for (const kind of expected) assert.ok((report.kinds[kind] ?? 0) > 0, `a ${kind} frame was captured (${JSON.stringify(report.kinds)})`)
      // the 5 GiB offer: `size` an integer to a strict decoder, in the plain and the sealed manifest
      assert.equal(report.offers.filter((s) => s === 5 * 2 ** 30).length, 2)
    } finally {
      await cleanup()
    }
  })
})

/**
 * Every MessagePack vector in docs/PROTOCOL.md's frame-vectors block as checker input: each
 * frame (with its header, on its protocol), each dialect value and each sealed plaintext
 * (request, reply, manifests) by purpose. Every other hex string of the block (keys, info,
 * ciphertexts, roots, attestation bytes) is not MessagePack and is named here, so a new
 * kind of vector cannot be left out unnoticed.
 */
function specVectors (doc: string): Captured[] {
  const block = /```json frame-vectors\n([\s\S]*?)\n```/.exec(doc)?.[1]
  assert.ok(block !== undefined, 'docs/PROTOCOL.md has the frame-vectors block')
  const v = JSON.parse(block) as Record<string, unknown>
  const items: Captured[] = []
  const known = new Set(['dialect', 'frames', 'roots', 'request', 'reply', 'manifest', 'folderManifest', 'attestationWithKey'])
  for (const key of Object.keys(v)) assert.ok(known.has(key), `the checker test knows what the vectors' ${key} is`)
  for (const d of v.dialect as Array<{ hex: string }>) items.push({ what: 'value', hex: d.hex, label: `dialect ${d.hex}` })
  for (const f of v.frames as Array<{ protocol: string, what: string, frame: string }>) items.push({ what: 'wire', protocol: f.protocol, hex: f.frame, label: f.what })
  const sealed = (purpose: number, hexText: string, label: string): void => { items.push({ what: 'sealed', purpose, hex: hexText, label }) }
  const request = v.request as { purpose: number, plaintext: string }
  sealed(request.purpose, request.plaintext, 'request')
  const reply = v.reply as { purpose: number, single: { plaintext: string }, streamed: Array<{ plaintext: string }> }
  sealed(reply.purpose, reply.single.plaintext, 'reply')
  reply.streamed.forEach((c, i) => { sealed(reply.purpose, c.plaintext, `streamed reply ${i}`) })
  for (const key of ['manifest', 'folderManifest']) {
    const m = v[key] as { purpose: number, plaintext: string } | undefined
    if (m !== undefined) sealed(m.purpose, m.plaintext, key)
  }
  return items
}

describe('the spec and the checker agree', () => {
  it('every MessagePack vector in docs/PROTOCOL.md passes the strict checker', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const doc = await readFile(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8')
      const items = specVectors(doc)
      const file = join(dir, 'vectors.json')
      await writeFile(file, JSON.stringify(items))
      const r = spawnSync(PYTHON, [CHECKER, file], { encoding: 'utf8' })
      assert.equal(r.error, undefined, `cannot run ${PYTHON} (apt-get install python3-msgpack)`)
      const report = JSON.parse(r.stdout) as { errors: Array<{ label?: string, error: string }>, kinds: Record<string, number>, frames: number }
      assert.deepEqual(report.errors.map((e) => `${e.label ?? ''}: ${e.error}`), [], 'every vector passes')
      assert.equal(r.status, 0, r.stderr)
      const frames = items.filter((i) => i.what === 'wire').length
      assert.ok(frames >= 37, `the block's ${frames} frames were all read`)
      assert.equal(report.frames, frames, 'one frame per frame vector')
      assert.equal(Object.values(report.kinds).reduce((a, b) => a + b, 0), items.length, 'every item was checked')
    } finally {
      await cleanup()
    }
  })
})

describe('the strict checker itself', () => {
  const run = async (items: Captured[]): Promise<{ status: number | null, errors: Array<{ n: number, error: string }> }> => {
    const { dir, cleanup } = await tempDir()
    try {
      const file = join(dir, 'bad.json')
      await writeFile(file, JSON.stringify(items))
      const r = spawnSync(PYTHON, [CHECKER, file], { encoding: 'utf8' })
      return { status: r.status, errors: (JSON.parse(r.stdout) as { errors: Array<{ n: number, error: string }> }).errors }
    } finally {
      await cleanup()
    }
  }

  it('fails a float for an integer field, an extension type and a field the spec does not list', async () => {
    const bad = [
      // { k: 'credit', n: 1.0 as float64 }
      '82a16ba6637265646974a16ecb3ff0000000000000',
      // { k: 2, id: 1, b: undefined as the extension d4 00 00 }
      '83a16b02a2696401a162d40000',
      // { k: 1, id: 1, zz: 0 }
      '83a16b01a2696401a27a7a00'
    ]
    const r = await run(bad.map((h) => ({ what: 'frame', hex: h })))
    assert.equal(r.status, 1)
    assert.deepEqual(r.errors.map((e) => e.n), [0, 1, 2])
    assert.match(r.errors[0]?.error ?? '', /unsigned integer, got float/)
    assert.match(r.errors[1]?.error ?? '', /extension type 0/)
    assert.match(r.errors[2]?.error ?? '', /'zz' is not in the spec/)
  })

  it('is as strict with the folder frames: no unlisted field, no float, no half-shaped accept', async () => {
    const bad: Captured[] = [
      // { k: 'wait', x: 1 }
      { what: 'frame', hex: '82a16ba477616974a17801' },
      // { k: 'end', dup: true }
      { what: 'frame', hex: '82a16ba3656e64a3647570c3' },
      // { k: 'accept', w: 8 }: neither a folder's accept nor a file's
      { what: 'frame', hex: '82a16ba6616363657074a17708' },
      // a folder offer whose entry size is the float64 1.0
      { what: 'frame', hex: '82a16ba6666f6c646572a16d84a26964a166a46e616d65a164a1659193a161cb3ff0000000000000c4200000000000000000000000000000000000000000000000000000000000000000a172c4200000000000000000000000000000000000000000000000000000000000000000' },
      // an entry's offer whose f carries a field z
      { what: 'frame', hex: '82a16ba56f66666572a16d87a26964a169a46e616d65a16ea473697a6500a26373ce00100000a168c400a172c4200000000000000000000000000000000000000000000000000000000000000000a16683a26964a166a16900a17a01' },
      // bytes on a file stream: a header one byte longer than its body
      { what: 'wire', protocol: 'file', hex: '0000000881a16ba3656e64' },
      // an RPC cancel on a file stream
      { what: 'wire', protocol: 'file', hex: '0000000882a16b01a2696401' }
    ]
    const r = await run(bad)
    assert.equal(r.status, 1)
    assert.deepEqual(r.errors.map((e) => e.n), [0, 1, 2, 3, 4, 5, 6])
    assert.match(r.errors[0]?.error ?? '', /'x' is not in the spec/)
    assert.match(r.errors[1]?.error ?? '', /'dup' is not in the spec/)
    assert.match(r.errors[2]?.error ?? '', /missing field 'from'/)
    assert.match(r.errors[3]?.error ?? '', /e\[0\]\.size: expected an unsigned integer, got float/)
    assert.match(r.errors[4]?.error ?? '', /'z' is not in the spec/)
    assert.match(r.errors[5]?.error ?? '', /cut off/)
    assert.match(r.errors[6]?.error ?? '', /RPC kind 1 on a file stream/)
  })
})
