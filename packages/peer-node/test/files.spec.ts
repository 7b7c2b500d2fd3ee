import assert from 'node:assert/strict'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  ChunkHashMismatchError, FILE_CHUNK_SIZE, FileTooLargeError, FilesNotEnabledError, sanitizeFileName, TransferCancelledError,
  isAbortError, FileRefusedError, InsufficientDiskSpaceError
} from '@subwire/shared'
import { NodeFileSource } from '../src/index.ts'
import { abortingSource, addrOf, gatedSource, randomFile, sha256File, startPeer, tempDir, waitFor } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'
import type { FileSource, ReceivedFile } from '@subwire/shared'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'



/** A source whose bytes differ from what was hashed, from chunk `from` on, after the manifest is made. */
function tamperingSource (inner: FileSource, from: number): FileSource & { armed: boolean } {
  const src = {
    armed: false,
    name: inner.name,
    size: inner.size,
    read: async (offset: number, length: number) => {
      const data = new Uint8Array(await inner.read(offset, length))
      if (src.armed && offset >= from * FILE_CHUNK_SIZE) data[7] = (data[7] ?? 0) ^ 0xff
      return data
    }
  }
  return src
}

describe('file transfer', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: NodePeer
  let alice: NodePeer
  let bobAddr: string
  const received: ReceivedFile[] = []
  const failed: Array<{ id: string | undefined, error: Error }> = []

  const startBob = async (): Promise<void> => {
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], home: join(dir, 'bob-home'), filesDir: join(dir, 'bob'), protocol: { files: { maxFileSize: 300 * 1024 * 1024, minFreeBytes: 0 } } })
    bobAddr = addrOf(bob, 'quic')
    bob.on('file:received', (f) => { received.push(f) })
    bob.on('file:failed', (f) => { failed.push(f) })
  }
  const lastReceived = async (id: string): Promise<ReceivedFile> => {
    await waitFor(() => received.some((f) => f.id === id), 10_000, `file ${id} in the inbox`)
    return received.find((f) => f.id === id) as ReceivedFile
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-files-'))
    await startBob()
    alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [] })
  })

  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup()
  })

  for (const size of [0, 1, FILE_CHUNK_SIZE, FILE_CHUNK_SIZE + 1, 3 * FILE_CHUNK_SIZE - 1]) {
    it(`delivers a ${size}-byte file intact into inbox/<sender>/`, async () => {
      const path = join(dir, `f-${size}.bin`)
      await randomFile(path, size)
      const result = await alice.sendFile(bobAddr, path)
      assert.equal(result.size, size)
      assert.equal(result.bytesSent, size)
      assert.equal(result.resumedFrom, 0)
      const got = await lastReceived(result.id)
      assert.equal(got.path, join(dir, 'bob', 'inbox', ALICE, `f-${size}.bin`))
      assert.equal(got.blake3, result.blake3)
      assert.equal(got.from, ALICE)
      assert.equal(await sha256File(got.path), await sha256File(path))
    })
  }

  it('moves a few hundred MiB of random data intact, reporting progress', async () => {
    const path = join(dir, 'big.bin')
    await randomFile(path, 200 * 1024 * 1024 + 12345)
    const events: string[] = []
    const result = await alice.sendFile(bobAddr, path, { onProgress: (e) => { events.push(e.type) } })
    const got = await lastReceived(result.id)
    assert.equal(await sha256File(got.path), await sha256File(path))
    assert.ok(events.includes('transfer:hashing') && events.includes('transfer:bytes'))
    assert.deepEqual(await readdir(join(dir, 'bob', 'partial')), [])
  })

  it('never overwrites: a second file of the same name gets a unique suffix', async () => {
    const a = join(dir, 'same.txt')
    await writeFile(a, 'first')
    const r1 = await alice.sendFile(bobAddr, a)
    await writeFile(a, 'second')
    const r2 = await alice.sendFile(bobAddr, a)
    const p1 = (await lastReceived(r1.id)).path
    const p2 = (await lastReceived(r2.id)).path
    assert.notEqual(p1, p2)
    assert.equal(await readFile(p1, 'utf8'), 'first')
    assert.equal(await readFile(p2, 'utf8'), 'second')
    assert.match(p2, /same \(1\)\.txt$/)
  })

  it('keeps network names inside the inbox: traversal, absolute paths, control characters, reserved names', async () => {
    const src = join(dir, 'payload.txt')
    await writeFile(src, 'x')
    const inbox = join(dir, 'bob', 'inbox', ALICE)
    for (const evil of ['../../evil', '/etc/passwd', '..\\..\\win', 'a\u0000b\nc', '..', 'CON', '.bashrc']) {
      const r = await alice.sendFile(bobAddr, src, { name: evil })
      const got = await lastReceived(r.id)
      assert.ok(got.path.startsWith(inbox + '/'), `${JSON.stringify(evil)} landed at ${got.path}`)
      assert.ok(!got.name.includes('/') && !got.name.includes('\\') && !/[\u0000-\u001f]/.test(got.name))
      assert.ok(!got.name.startsWith('.'), got.name)
    }
    assert.equal(sanitizeFileName('../../evil'), 'evil')
    assert.equal(sanitizeFileName('CON'), '_CON')
    assert.equal(sanitizeFileName(''), 'file')
    assert.ok(new TextEncoder().encode(sanitizeFileName('x'.repeat(400) + '.tar.gz')).byteLength <= 200)
    assert.match(sanitizeFileName('x'.repeat(400) + '.safetensors'), /\.safetensors$/)
  })

  it('detects a chunk changed in flight and never puts it in the inbox', async () => {
    const path = join(dir, 'tamper.bin')
    await randomFile(path, 5 * FILE_CHUNK_SIZE)
    const inner = await NodeFileSource.open(path)
    const src = tamperingSource(inner, 2)
    const before = received.length
    // the manifest is made from the true bytes; chunk 2 onwards is changed when sent
    const sending = alice.subwire.sendFile(bobAddr, src, { onProgress: (e) => { if (e.type === 'transfer:bytes' || e.detail.bytes === e.detail.total) src.armed = true } })
    await assert.rejects(sending, (e: Error) => e.name === TransferCancelledError.name && e.message.includes(ChunkHashMismatchError.name))
    await inner.close()
    await waitFor(() => failed.some((f) => f.error.name === ChunkHashMismatchError.name), 5000, 'the receiver to report the mismatch')
    assert.equal(received.length, before)
    assert.ok(!(await readdir(join(dir, 'bob', 'inbox', ALICE))).includes('tamper.bin'))
    // the verified prefix is kept for a resume, nothing past it
    const partial = (await readdir(join(dir, 'bob', 'partial'))).filter((f) => f.endsWith('.part'))
    assert.equal(partial.length, 1)
    assert.equal((await stat(join(dir, 'bob', 'partial', partial[0] as string))).size, 2 * FILE_CHUNK_SIZE)
    // sending the real file now resumes after the two good chunks
    const ok = await alice.sendFile(bobAddr, path)
    assert.equal(ok.resumedFrom, 2 * FILE_CHUNK_SIZE)
    assert.equal(await sha256File((await lastReceived(ok.id)).path), await sha256File(path))
  })

  it('refuses a file above the size limit, and when the disk would get too full', async () => {
    const path = join(dir, 'huge.bin')
    const { open } = await import('node:fs/promises')
    const fh = await open(path, 'w'); await fh.truncate(301 * 1024 * 1024); await fh.close() // sparse
    await assert.rejects(alice.sendFile(bobAddr, path), (e: Error) => e.name === FileTooLargeError.name && /limit/.test(e.message))
    bob.subwire.onFileOffer(() => { throw new Error('not from you today') })
    const small = join(dir, 'small.txt'); await writeFile(small, 'hi')
    await assert.rejects(alice.sendFile(bobAddr, small), (e: Error) => e.name === FileRefusedError.name && /not from you today/.test(e.message))
    bob.subwire.onFileOffer(undefined)
    const carol = await startPeer({ uri: '//Charlie', transports: ['quic'], filesDir: join(dir, 'carol'), protocol: { files: { minFreeBytes: Number.MAX_SAFE_INTEGER } } })
    try {
      await assert.rejects(alice.sendFile(addrOf(carol, 'quic'), small), (e: Error) => e.name === InsufficientDiskSpaceError.name)
    } finally { await carol.stop() }
  })

  it('tells a sender clearly when the peer does not receive files', async () => {
    const dave = await startPeer({ uri: '//Dave', transports: ['quic'] })
    const small = join(dir, 'small2.txt'); await writeFile(small, 'hi')
    try {
      await assert.rejects(alice.sendFile(addrOf(dave, 'quic'), small), (e: Error) => e.name === FilesNotEnabledError.name)
    } finally { await dave.stop() }
  })

  it('cancels from the sender with a clear reason on the receiver, then resumes', async () => {
    const path = join(dir, 'cancel-s.bin')
    await randomFile(path, 40 * FILE_CHUNK_SIZE)
    const controller = new AbortController()
    const inner = await NodeFileSource.open(path)
    const src = abortingSource(inner, 11, controller)
    try {
      // armed by the first chunk sent (the hashing pass before it reads every chunk)
      const sending = alice.subwire.sendFile(bobAddr, src, { signal: controller.signal, onProgress: (e) => { if (e.type === 'transfer:bytes') src.armed = true } })
      await assert.rejects(sending, (e: Error) => isAbortError(e))
    } finally { await inner.close() }
    await waitFor(() => failed.some((f) => f.error.name === TransferCancelledError.name && /sender/.test(f.error.message)), 5000, () => `the receiver to see the cancel (it saw: ${JSON.stringify(failed.map((f) => `${f.error.name}: ${f.error.message}`))})`)
    const again = await alice.sendFile(bobAddr, path)
    assert.ok(again.resumedFrom >= 8 * FILE_CHUNK_SIZE, `resumed from ${again.resumedFrom}`)
    assert.equal(await sha256File((await lastReceived(again.id)).path), await sha256File(path))
  })

  it('cancels from the receiver with a clear reason on the sender', async () => {
    const path = join(dir, 'cancel-r.bin')
    await randomFile(path, 40 * FILE_CHUNK_SIZE)
    // held at chunk 10 while bob cancels (on a progress event the cancel raced the end: see abortingSource)
    let id: string | undefined
    const off = bob.on('file:accepted', (o) => { id = o.id })
    const inner = await NodeFileSource.open(path)
    const src = gatedSource(inner, 10)
    try {
      const sending = alice.subwire.sendFile(bobAddr, src, { onProgress: (e) => { if (e.type === 'transfer:bytes') src.armed = true } })
      sending.catch(() => {})
      await src.reached
      assert.ok(id !== undefined && bob.cancelTransfer(id, 'disk quota for miners reached'), 'bob has the transfer to cancel')
      src.release()
      await assert.rejects(sending, (e: Error) => e.name === TransferCancelledError.name && /receiver/.test(e.message) && /disk quota/.test(e.message))
    } finally { off(); src.release(); await inner.close() }
  })

  it('receives from three senders at once', async () => {
    const senders = await Promise.all(['//Charlie', '//Dave', '//Eve'].map(async (uri) => await startPeer({ uri, transports: ['quic'], listen: [] })))
    try {
      const files = await Promise.all(senders.map(async (_s, i) => {
        const p = join(dir, `multi-${i}.bin`)
        await randomFile(p, 20 * FILE_CHUNK_SIZE + i)
        return p
      }))
      const results = await Promise.all(senders.map(async (s, i) => await s.sendFile(bobAddr, files[i] as string)))
      for (let i = 0; i < 3; i++) {
        const got = await lastReceived(results[i]?.id as string)
        assert.equal(got.from, senders[i]?.ss58)
        assert.equal(await sha256File(got.path), await sha256File(files[i] as string))
      }
    } finally { await Promise.all(senders.map(async (s) => { await s.stop() })) }
  })

  it('resumes after the receiver stops mid-transfer and comes back', async () => {
    const path = join(dir, 'resume.bin')
    await randomFile(path, 60 * FILE_CHUNK_SIZE)
    // held at chunk 30; bob stops once 25 chunks are on its disk (a progress event could come only at the end)
    const inner = await NodeFileSource.open(path)
    const src = gatedSource(inner, 30)
    const written = async (): Promise<number> => {
      const partial = join(dir, 'bob', 'partial')
      const parts = (await readdir(partial)).filter((n) => n.endsWith('.part'))
      return Math.max(0, ...await Promise.all(parts.map(async (n) => (await stat(join(partial, n))).size)))
    }
    try {
      const sending = alice.subwire.sendFile(bobAddr, src, { signal: AbortSignal.timeout(30_000), onProgress: (e) => { if (e.type === 'transfer:bytes') src.armed = true } })
      sending.catch(() => {})
      await src.reached
      await waitFor(async () => await written() >= 25 * FILE_CHUNK_SIZE, 10_000, 'bob writing 25 chunks')
      await bob.stop()
      src.release()
      await assert.rejects(sending)
    } finally { src.release(); await inner.close() }
    const port = Number(/\/udp\/(\d+)/.exec(bobAddr)?.[1])
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], home: join(dir, 'bob-home'), filesDir: join(dir, 'bob'), listen: [`/ip4/127.0.0.1/udp/${port}/quic-v1`], protocol: { files: { minFreeBytes: 0 } } })
    bob.on('file:received', (f) => { received.push(f) })
    bob.on('file:failed', (f) => { failed.push(f) })
    const result = await alice.sendFile(bobAddr, path)
    assert.ok(result.resumedFrom >= 20 * FILE_CHUNK_SIZE, `resumed from ${result.resumedFrom}`)
    assert.ok(result.bytesSent <= 40 * FILE_CHUNK_SIZE, `sent ${result.bytesSent}`)
    assert.equal(await sha256File((await lastReceived(result.id)).path), await sha256File(path))
  })
})

describe('a receiver whose storage fails', () => {
  it('tells the sender "could not store" without its local paths, and the outbox dead-letters that at once', async () => {
    const { dir, cleanup } = await tempDir('subwire-store-fails-')
    const storage = join(dir, 'bob-files')
    const { mkdir } = await import('node:fs/promises')
    await mkdir(storage)
    // a real file-system failure whatever the user (root writes through any mode bits): the
    // directory for partial files is a regular file, so creating a partial fails with a path in it
    await writeFile(join(storage, 'partial'), 'not a directory')
    const bob = await startPeer({ uri: '//Bob', transports: ['quic'], filesDir: storage, protocol: { files: { minFreeBytes: 0 } } })
    const alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [], home: join(dir, 'alice') })
    try {
      const file = join(dir, 'x.bin')
      await writeFile(file, 'weights')
      const err = await alice.sendFile(addrOf(bob, 'quic'), file).then(() => undefined, (e: Error) => e)
      assert.equal(err?.name, FileRefusedError.name)
      assert.equal(err?.message, 'The receiver could not store the file')
      assert.ok(!JSON.stringify({ m: err?.message, c: String(err?.cause ?? '') }).includes(dir), 'no receiver path')
      const queued = await alice.sendFile(addrOf(bob, 'quic'), file, { queue: true })
      await assert.rejects(alice.outbox?.waitFor(queued.id) ?? Promise.reject(new Error('no outbox')), (e: Error) => (e.cause as Error).name === FileRefusedError.name)
      const [dead] = await alice.outbox?.dead() ?? []
      assert.deepEqual([dead?.attempts, dead?.lastError], [1, { name: 'FileRefusedError', message: 'The receiver could not store the file' }])
    } finally {
      await alice.stop()
      await bob.stop()
      await cleanup()
    }
  })
})
