// Integrity and durability of received files (issue 15): a partial copy changed between two
// attempts, truncated, zeroed or left with a progress record ahead of its data never lands
// in the inbox with other bytes than the source; a full disk is a typed refusal that recovers.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, open, readdir, readFile, rm, stat, statfs, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { isAbortError, createManifest, FILE_CHUNK_SIZE, InsufficientDiskSpaceError, PartialFileCorruptedError } from '@subwire/shared'
import { NodeFileSource, NodeFileStore } from '../src/index.ts'
import { abortingSource, addrOf, gatedSource, randomFile, sha256File, startPeer, tempDir, waitFor } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'
import type { FileManifest, FileSource, ReceivedFile } from '@subwire/shared'

const MiB = 1024 * 1024

describe('received files stay intact across attempts', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: NodePeer
  let alice: NodePeer
  let bobAddr: string
  const received: ReceivedFile[] = []
  const failed: Array<{ error: Error }> = []
  const partialDir = (): string => join(dir, 'bob', 'partial')

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-integrity-'))
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], filesDir: join(dir, 'bob'), protocol: { files: { minFreeBytes: 0 } } })
    bobAddr = addrOf(bob, 'quic')
    bob.on('file:received', (f) => { received.push(f) })
    bob.on('file:failed', (f) => { failed.push(f) })
    alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [] })
  })

  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup()
  })

  /** Sends `path` and stops it once `chunks` chunks are acknowledged, leaving a partial at Bob. */
  const sendPart = async (path: string, manifest: FileManifest, chunks: number): Promise<string> => {
    const controller = new AbortController()
    const source = await NodeFileSource.open(path)
    const failures = failed.length
    try {
      const src = abortingSource(source, chunks + 1, controller)
      await assert.rejects(alice.sendFile(bobAddr, src, {
        manifest,
        signal: controller.signal,
        onProgress: (e) => { if (e.type === 'transfer:bytes') src.armed = true }
      }), (e: Error) => isAbortError(e))
    } finally { await source.close() }
    // the receiver records what it has once it sees the cancel, then reports the failure
    await waitFor(() => failed.length > failures, 10_000, 'the receiver to record the cancelled transfer')
    await waitFor(async () => (await readdir(partialDir())).some((n) => n.endsWith('.part')), 5000, 'a partial file')
    const part = (await readdir(partialDir())).find((n) => n.endsWith('.part')) as string
    return join(partialDir(), part)
  }

  const flipByte = async (path: string, offset: number): Promise<void> => {
    const fh = await open(path, 'r+')
    try {
      const b = Buffer.alloc(1)
      await fh.read(b, 0, 1, offset)
      b[0] = (b[0] as number) ^ 0x5a
      await fh.write(b, 0, 1, offset)
    } finally { await fh.close() }
  }

  /** Sends the whole file again and checks what lands in the inbox against the source. */
  const resend = async (path: string, manifest: FileManifest): Promise<{ resumedFrom: number, bytesSent: number }> => {
    const source = await NodeFileSource.open(path)
    try {
      const result = await alice.sendFile(bobAddr, source, { manifest: { ...manifest, id: crypto.randomUUID() } })
      await waitFor(() => received.some((f) => f.id === result.id), 10_000, 'the file in the inbox')
      const got = received.find((f) => f.id === result.id) as ReceivedFile
      assert.equal(await sha256File(got.path), await sha256File(path), 'the inbox copy has the source bytes')
      assert.deepEqual(await readdir(partialDir()), [], 'no partial left behind')
      await unlink(got.path) // the next case sends the same name again
      return result
    } finally { await source.close() }
  }

  const manifestOf = async (path: string): Promise<FileManifest> => {
    const source = await NodeFileSource.open(path)
    try { return await createManifest(source) } finally { await source.close() }
  }

  /** Each damage returns the offset the resume may start from at the most. */
  const cases: Array<{ name: string, damage: (part: string) => Promise<number> }> = [
    { name: 'a byte flipped inside the verified prefix', damage: async (part) => { await flipByte(part, 3 * FILE_CHUNK_SIZE + 17); return 3 * FILE_CHUNK_SIZE } },
    {
      name: 'a byte flipped in the last chunk on disk',
      damage: async (part) => {
        const { size } = await stat(part)
        await flipByte(part, size - 1)
        return Math.floor((size - 1) / FILE_CHUNK_SIZE) * FILE_CHUNK_SIZE
      }
    },
    { name: 'the partial truncated mid-chunk', damage: async (part) => { await truncate(part, 5 * FILE_CHUNK_SIZE + 1000); return 5 * FILE_CHUNK_SIZE } },
    { name: 'the partial replaced with zeros', damage: async (part) => { const { size } = await stat(part); await writeFile(part, Buffer.alloc(size)); return 0 } }
  ]
  for (const c of cases) {
    it(`resumes to the source's bytes after ${c.name}`, async () => {
      const path = join(dir, 'weights.bin')
      await randomFile(path, 80 * FILE_CHUNK_SIZE + 123)
      const manifest = await manifestOf(path)
      const part = await sendPart(path, manifest, 12)
      const atMost = await c.damage(part)
      const result = await resend(path, manifest)
      assert.ok(result.resumedFrom <= atMost, `resumed from ${result.resumedFrom}, at most ${atMost}`)
    })
  }

  it('does not trust a progress record ahead of the data (a crash between the data write and the record)', async () => {
    const path = join(dir, 'ckpt.bin')
    await randomFile(path, 80 * FILE_CHUNK_SIZE)
    const manifest = await manifestOf(path)
    const part = await sendPart(path, manifest, 12)
    const record = part.replace(/\.part$/, '.json')
    const progress = JSON.parse(await readFile(record, 'utf8')) as { verifiedChunks: number }
    // the record claims every chunk; the data on disk stops after 6 and then holds stale bytes
    await writeFile(record, JSON.stringify({ ...progress, verifiedChunks: 80 }))
    const fh = await open(part, 'r+')
    await fh.write(Buffer.alloc(2 * FILE_CHUNK_SIZE, 7), 0, 2 * FILE_CHUNK_SIZE, 6 * FILE_CHUNK_SIZE)
    await fh.close()
    const result = await resend(path, manifest)
    assert.equal(result.resumedFrom, 6 * FILE_CHUNK_SIZE)
  })

  it('acknowledges the same content offered again under a new transfer id without sending it: one file lands', async () => {
    const path = join(dir, 'again.bin')
    await randomFile(path, 3 * FILE_CHUNK_SIZE + 77)
    const first = await alice.sendFile(bobAddr, path)
    assert.equal(first.bytesSent, first.size)
    await waitFor(() => received.some((f) => f.id === first.id), 10_000, 'the first copy in the inbox')
    const second = await alice.sendFile(bobAddr, path)
    assert.notEqual(second.id, first.id, 'a new transfer id')
    assert.equal(second.bytesSent, 0, 'nothing was sent again')
    assert.equal(second.blake3, first.blake3)
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.ok(!received.some((f) => f.id === second.id), 'no second delivery was reported')
    const inbox = join(dir, 'bob', 'inbox', alice.ss58)
    assert.deepEqual((await readdir(inbox)).filter((n) => n.startsWith('again')), ['again.bin'], 'one file, no "again (1).bin"')
    assert.equal(await sha256File(join(inbox, 'again.bin')), await sha256File(path))
    await unlink(join(inbox, 'again.bin'))
  })

  it('catches a partial changed during the transfer at the final check, cuts it back and resumes', async () => {
    const path = join(dir, 'late.bin')
    const size = 240 * FILE_CHUNK_SIZE
    await randomFile(path, size)
    let damaged = false
    // progress is reported every 200 ms: the first report comes well before the last chunk
    const off = bob.on('file:progress', (e) => {
      if (damaged || e.detail.bytes < 8 * FILE_CHUNK_SIZE || e.detail.bytes > size - 40 * FILE_CHUNK_SIZE) return
      damaged = true
      void readdir(partialDir()).then(async (names) => { await flipByte(join(partialDir(), names.find((n) => n.endsWith('.part')) as string), 2 * FILE_CHUNK_SIZE + 5) })
    })
    try {
      const result = await alice.sendFile(bobAddr, path)
      assert.ok(damaged)
      await waitFor(() => received.some((f) => f.id === result.id), 10_000, 'the file in the inbox')
      assert.equal(await sha256File((received.find((f) => f.id === result.id) as ReceivedFile).path), await sha256File(path))
      assert.ok(failed.some((f) => f.error.name === PartialFileCorruptedError.name), 'the first attempt failed its final check')
      assert.equal(result.resumedFrom, 2 * FILE_CHUNK_SIZE, 'the second offer resumed from the last good chunk')
    } finally { off() }
  })
})

describe('a partial changed while the receiver is down', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: NodePeer | undefined
  let alice: NodePeer
  const received: ReceivedFile[] = []
  const failed: Array<{ error: Error }> = []
  const files = (): string => join(dir, 'bob')
  const partialDir = (): string => join(files(), 'partial')

  const startBob = async (): Promise<NodePeer> => {
    const peer = await startPeer({ uri: '//Bob', transports: ['quic'], home: join(dir, 'bob-home'), filesDir: files(), protocol: { files: { minFreeBytes: 0 } } })
    peer.on('file:received', (f) => { received.push(f) })
    peer.on('file:failed', (f) => { failed.push(f) })
    return peer
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-integrity-restart-'))
    alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [] })
  })

  after(async () => {
    await alice.stop()
    await bob?.stop()
    await cleanup()
  })

  it('re-checks the verified prefix after a restart: a byte flipped inside it is sent again, the inbox copy has the source bytes', async () => {
    const path = join(dir, 'model.bin')
    await randomFile(path, 120 * FILE_CHUNK_SIZE + 5)
    bob = await startBob()
    // the receiver is stopped mid-transfer, once it has recorded some verified chunks; the
    // sender's reads past chunk 48 wait until then, so the transfer cannot finish first
    const source = await NodeFileSource.open(path)
    const manifest = await createManifest(source)
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    const gated: FileSource = {
      name: source.name,
      size: source.size,
      read: async (offset, length, options) => {
        if (offset >= 48 * FILE_CHUNK_SIZE) await gate
        return await source.read(offset, length, options)
      }
    }
    // its outcome is taken at once: the rejection comes while the receiver stops
    const sending = alice.sendFile(addrOf(bob, 'quic'), gated, { manifest, encrypt: false }).then(() => undefined, (e: Error) => e)
    const recorded = async (): Promise<{ part: string, verifiedChunks: number } | undefined> => {
      const names = await readdir(partialDir()).catch(() => [] as string[])
      const json = names.find((n) => n.endsWith('.json'))
      if (json === undefined) return undefined
      try {
        const { verifiedChunks } = JSON.parse(await readFile(join(partialDir(), json), 'utf8')) as { verifiedChunks: number }
        return { part: join(partialDir(), json.replace(/\.json$/, '.part')), verifiedChunks }
      } catch { return undefined } // caught while it was being written
    }
    await waitFor(async () => ((await recorded())?.verifiedChunks ?? 0) >= 16, 30_000, 'a progress record of 16 chunks')
    await bob.stop()
    bob = undefined
    release()
    assert.ok((await sending) instanceof Error, 'the first attempt fails when the receiver goes away')
    await source.close()
    const state = await recorded()
    assert.ok(state !== undefined && state.verifiedChunks >= 16 && state.verifiedChunks <= 48, `the partial is kept with its record (${JSON.stringify(state)})`)
    assert.ok((await stat(state.part)).size >= state.verifiedChunks * FILE_CHUNK_SIZE, 'the recorded chunks are on disk')
    // a byte inside the recorded, verified prefix changes while the receiver is down
    const flipped = Math.floor(state.verifiedChunks / 2)
    const fh = await open(state.part, 'r+')
    try {
      const b = Buffer.alloc(1)
      await fh.read(b, 0, 1, flipped * FILE_CHUNK_SIZE + 4242)
      b[0] = (b[0] as number) ^ 0xff
      await fh.write(b, 0, 1, flipped * FILE_CHUNK_SIZE + 4242)
    } finally { await fh.close() }
    bob = await startBob()
    const result = await alice.sendFile(addrOf(bob, 'quic'), path, { encrypt: false })
    assert.ok(result.resumedFrom <= flipped * FILE_CHUNK_SIZE, `resumed from ${result.resumedFrom}, the flipped chunk starts at ${flipped * FILE_CHUNK_SIZE}`)
    // caught when the partial was reopened, not only by the final read-back before the inbox
    assert.deepEqual(failed.map((f) => f.error.name).filter((n) => n === PartialFileCorruptedError.name), [], 'the resume did not accept the changed chunk')
    await waitFor(() => received.some((f) => f.id === result.id), 10_000, 'the file in the inbox')
    const got = received.find((f) => f.id === result.id) as ReceivedFile
    assert.equal(await sha256File(got.path), await sha256File(path), 'the inbox copy has the source bytes')
    assert.deepEqual(await readdir(partialDir()), [], 'no partial left behind')
    assert.deepEqual(await readdir(join(files(), 'inbox', alice.ss58)), ['model.bin'], 'one file')
  })
})

describe('a full disk', () => {
  let dir: string
  let mnt: string
  let cleanup: () => Promise<void>
  let bob: NodePeer
  let alice: NodePeer
  let bobAddr: string
  const received: ReceivedFile[] = []

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-disk-'))
    mnt = join(dir, 'small')
    await mkdir(mnt)
    // a real 100 MiB filesystem (root is available in tests and CI)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=100m', 'tmpfs', mnt])
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], filesDir: join(mnt, 'files'), protocol: { files: { minFreeBytes: 1 * MiB } } })
    bobAddr = addrOf(bob, 'quic')
    bob.on('file:received', (f) => { received.push(f) })
    alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [] })
  })

  after(async () => {
    await alice?.stop()
    await bob?.stop()
    try { execFileSync('umount', [mnt]) } catch {}
    await cleanup()
  })

  const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length

  it('reserves space for accepted offers: of two 70 MiB offers one is refused with a typed error, and both land once space is freed', async () => {
    const a = join(dir, 'a.bin')
    const b = join(dir, 'b.bin')
    await randomFile(a, 70 * MiB)
    await randomFile(b, 70 * MiB + 1)
    const fdsBefore = await openFds()
    const results = await Promise.allSettled([alice.sendFile(bobAddr, a), alice.sendFile(bobAddr, b)])
    const ok = results.filter((r) => r.status === 'fulfilled')
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    assert.equal(ok.length, 1, 'one offer goes through')
    assert.equal(refused.length, 1, 'the other is refused')
    const error = refused[0]?.reason as Error
    assert.equal(error.name, InsufficientDiskSpaceError.name)
    assert.match(error.message, /MiB/)
    assert.doesNotMatch(error.message, /\d{6,}/, 'no exact byte counts reach the sender')
    assert.deepEqual(await readdir(join(mnt, 'files', 'partial')), [], 'the refused offer made no partial')
    // free the space and send the refused one again
    const first = received[0] as ReceivedFile
    const second = first.name === 'a.bin' ? b : a
    await unlink(first.path)
    const again = await alice.sendFile(bobAddr, second)
    await waitFor(() => received.some((f) => f.id === again.id), 10_000, 'the second file')
    assert.equal(await sha256File((received.find((f) => f.id === again.id) as ReceivedFile).path), await sha256File(second))
    assert.deepEqual(await readdir(join(mnt, 'files', 'partial')), [])
    assert.ok(await openFds() <= fdsBefore + 2, `file descriptors: ${fdsBefore} before, ${await openFds()} after`)
    await unlink((received.find((f) => f.id === again.id) as ReceivedFile).path)
  })

  it('turns a disk that fills up mid-transfer into a typed, resumable error', async () => {
    const path = join(dir, 'c.bin')
    await randomFile(path, 60 * MiB)
    const filler = join(mnt, 'filler')
    const fdsBefore = await openFds()
    // once the offer is accepted (its space promised), someone else takes all but 10 MiB of it.
    // The sender's reads from chunk 1 on wait until that filler is written: written while the
    // 60 MiB streamed in, a fast transfer could end before the disk filled up. Armed at the
    // accept (the hashing pass before the offer reads every chunk), so chunk 0 still goes
    // first and a resume has something kept to start from.
    const inner = await NodeFileSource.open(path)
    const src = gatedSource(inner, 1)
    let filling: Promise<void> | undefined
    const off = bob.on('file:accepted', () => {
      src.armed = true
      filling = (async () => {
        const s = await statfs(mnt)
        await writeFile(filler, Buffer.alloc(s.bavail * s.bsize - 10 * MiB))
      })().finally(() => { src.release() })
      filling.catch(() => {})
    })
    try {
      await assert.rejects(alice.sendFile(bobAddr, src), (e: Error) => e.name === InsufficientDiskSpaceError.name && /resumes/.test(e.message) && !/\//.test(e.message))
    } finally { off(); src.release(); await inner.close() }
    assert.ok(filling !== undefined, 'the offer was accepted')
    await filling
    await rm(filler)
    const again = await alice.sendFile(bobAddr, path)
    assert.ok(again.resumedFrom > 0, 'it resumed from what was kept')
    await waitFor(() => received.some((f) => f.id === again.id), 10_000, 'the file')
    assert.equal(await sha256File((received.find((f) => f.id === again.id) as ReceivedFile).path), await sha256File(path))
    assert.ok(await openFds() <= fdsBefore + 2, 'no file descriptor leaked')
  })

  it('collects partials abandoned longer than their maximum age, and keeps younger ones', async () => {
    const store = new NodeFileStore(join(dir, 'gc'), { partialMaxAgeMs: 60_000 })
    await mkdir(store.partial, { recursive: true })
    const old = 'a'.repeat(64)
    const young = 'b'.repeat(64)
    for (const k of [old, young]) {
      await writeFile(join(store.partial, `${k}.part`), 'x')
      await writeFile(join(store.partial, `${k}.json`), '{}')
    }
    const { utimes } = await import('node:fs/promises')
    const past = new Date(Date.now() - 120_000)
    await utimes(join(store.partial, `${old}.part`), past, past)
    await utimes(join(store.partial, `${old}.json`), past, past)
    assert.equal(await store.collect(), 1)
    assert.deepEqual((await readdir(store.partial)).sort(), [`${young}.json`, `${young}.part`])
  })
})
