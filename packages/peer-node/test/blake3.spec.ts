// Native BLAKE3 on Node and the outboard of sent files (issue 19): the same roots as the
// WebAssembly BLAKE3, chosen once and reported; a re-send of an unchanged file skips the
// hashing pass, and a file changed behind an unchanged mtime is refused, never sent.
import assert from 'node:assert/strict'
import { open, utimes, stat, writeFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createManifest, SourceChangedError } from '@subwire/shared'
import { blake3BackendName, bytesToHex, useBlake3, wasmBlake3 } from '@subwire/shared/protocol'
import { chooseBlake3 } from '../src/blake3.ts'
import { addrOf, randomFile, startPeer, tempDir } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'
import type { FileSource } from '@subwire/shared'

const memorySource = (bytes: Uint8Array): FileSource => ({ name: 'x', size: bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) })

describe('BLAKE3 backends', () => {
  it('native and WebAssembly BLAKE3 give the same chunk hashes and roots (empty, 3 bytes, 150,000 bytes at 64 KiB, exactly 2 chunks)', async () => {
    const inputs = [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(150_000).map((_, i) => i & 0xff), new Uint8Array(2 * 65536).map((_, i) => (i * 7) & 0xff)]
    const roots = async (): Promise<string[]> => await Promise.all(inputs.map(async (b) => {
      const m = await createManifest(memorySource(b), { chunkSize: 65536 })
      return bytesToHex(m.root) + bytesToHex(m.chunkHashes)
    }))
    await useBlake3(wasmBlake3)
    const wasm = await roots()
    assert.equal(await chooseBlake3(), 'native (@napi-rs/blake-hash)')
    assert.equal(blake3BackendName(), 'native (@napi-rs/blake-hash)')
    assert.deepEqual(await roots(), wasm)
  })

  it('refuses a backend that is not BLAKE3 and keeps the one in use', async () => {
    const before = blake3BackendName()
    const wrong = { name: 'wrong', create: () => ({ init: () => {}, update: () => {}, digest: () => new Uint8Array(32) }) }
    await assert.rejects(useBlake3(wrong), /not BLAKE3/)
    assert.equal(blake3BackendName(), before)
  })
})

describe('the outboard of sent files', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let alice: NodePeer
  let bob: NodePeer

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-outboard-'))
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], filesDir: join(dir, 'bob'), protocol: { files: { minFreeBytes: 0 } } })
    alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [], home: join(dir, 'alice') })
  })

  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup()
  })

  it('keeps a sent file\'s hashes, so a re-send takes them instead of hashing, and refuses a file changed behind its mtime', async () => {
    const path = join(dir, 'w.bin')
    await randomFile(path, 5 * 1024 * 1024 + 7)
    const when = new Date(1_700_000_000_000) // a whole millisecond, so it can be put back exactly
    await utimes(path, when, when)
    const first = await alice.sendFile(addrOf(bob, 'quic'), path)
    assert.equal((await readdir(join(dir, 'alice', 'outboard'))).length, 1)
    const src = await alice.openFile(path, 'again.bin')
    try {
      assert.ok(await src.outboard?.get(1024 * 1024) !== undefined, 'the kept hashes are there')
      const m = await createManifest(src)
      assert.equal(bytesToHex(m.root), first.blake3)
    } finally { await src.close() }
    const again = await alice.sendFile(addrOf(bob, 'quic'), path, { name: 'again.bin' })
    assert.equal(again.blake3, first.blake3)
    // the same size and mtime, other bytes: the kept hashes no longer match what is read
    const fh = await open(path, 'r+')
    await fh.write(Buffer.from('changed'), 0, 7, 2 * 1024 * 1024)
    await fh.close()
    await utimes(path, when, when)
    assert.equal((await stat(path)).mtimeMs, when.getTime())
    await assert.rejects(alice.sendFile(addrOf(bob, 'quic'), path, { name: 'third.bin' }), (e: Error) => e.name === SourceChangedError.name)
    // a real change of mtime hashes afresh and sends
    await writeFile(path, 'new content')
    const fresh = await alice.sendFile(addrOf(bob, 'quic'), path, { name: 'fresh.bin' })
    assert.notEqual(fresh.blake3, first.blake3)
  })
})
