/**
 * Wire conformance outside our own code: every frame kind real peers emit (auth, RPC,
 * messages, files; plain and end-to-end encrypted, with the MessagePack plaintexts of the
 * AEAD), captured as sent, is decoded by Debian's python3-msgpack with strict_map_key and
 * no extension hook, and checked field by field against docs/PROTOCOL.md by
 * scripts/conformance/check_frames.py: an integer field sent as a float, an extension type
 * or a field the spec does not list fails it.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { defaultE2eBackend, FileTooLargeError, SubnetFirewallError } from '@subwire/shared'
import { FramedStream, encodeValue, fileRoot } from '@subwire/shared/protocol'
import { addrOf, startPeer, tempDir, waitFor } from './helpers.ts'
import type { E2eBackend, FileManifest, FileSource } from '@subwire/shared'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const CHECKER = fileURLToPath(new URL('../../../scripts/conformance/check_frames.py', import.meta.url))
const PYTHON = process.env.SUBWIRE_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Captured { what: 'frame' | 'sealed', purpose?: number, hex: string }

/** Records every frame body sent by any FramedStream in this process (both peers run here). */
function captureFrames (into: Captured[]): () => void {
  const proto = FramedStream.prototype as unknown as { send: (frame: unknown) => void }
  const original = proto.send
  proto.send = function (this: FramedStream, frame: unknown) {
    original.call(this, frame)
    // the frame was accepted: its body is exactly this encoding
    into.push({ what: 'frame', hex: hex(encodeValue(frame)) })
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
    const releaseFrames = captureFrames(captured)
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
      await waitFor(() => captured.some((c) => c.hex.includes(Buffer.from('SubnetFirewallError').toString('hex')) && c.hex.startsWith('82a26f6b')), 5_000, 'the handshake refusal')
    } finally {
      releaseFrames()
      releaseSealed()
      await charlie.stop()
      await alice.stop()
      await bob.stop()
    }
    try {
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
        'sealed:1', 'sealed:2', 'sealed:3', 'sealed:4'
      ]
      for (const kind of expected) assert.ok((report.kinds[kind] ?? 0) > 0, `a ${kind} frame was captured (${JSON.stringify(report.kinds)})`)
      // the 5 GiB offer: `size` an integer to a strict decoder, in the plain and the sealed manifest
      assert.equal(report.offers.filter((s) => s === 5 * 2 ** 30).length, 2)
    } finally {
      await cleanup()
    }
  })
})

describe('the strict checker itself', () => {
  it('fails a float for an integer field, an extension type and a field the spec does not list', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const bad = [
        // { k: 'credit', n: 1.0 as float64 }
        '82a16ba6637265646974a16ecb3ff0000000000000',
        // { k: 2, id: 1, b: undefined as the extension d4 00 00 }
        '83a16b02a2696401a162d40000',
        // { k: 1, id: 1, zz: 0 }
        '83a16b01a2696401a27a7a00'
      ]
      const file = join(dir, 'bad.json')
      await writeFile(file, JSON.stringify(bad.map((h) => ({ what: 'frame', hex: h }))))
      const r = spawnSync(PYTHON, [CHECKER, file], { encoding: 'utf8' })
      const report = JSON.parse(r.stdout) as { errors: Array<{ n: number, error: string }> }
      assert.equal(r.status, 1)
      assert.deepEqual(report.errors.map((e) => e.n), [0, 1, 2])
      assert.match(report.errors[0]?.error ?? '', /unsigned integer, got float/)
      assert.match(report.errors[1]?.error ?? '', /extension type 0/)
      assert.match(report.errors[2]?.error ?? '', /'zz' is not in the spec/)
    } finally {
      await cleanup()
    }
  })
})
