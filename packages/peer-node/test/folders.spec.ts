import assert from 'node:assert/strict'
import { mkdir, readdir, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { createManifest, fileProtocol, FolderLimitError, InvalidManifestError, isAbortError, UnsafePathError } from '@subwire/shared'
import { FramedStream, folderRoot, folderToWire, manifestToWire } from '@subwire/shared/protocol'
import { randomFile, sha256File, startPeer, tempDir, waitFor, addrOf } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'
import type { FileOffer, FolderProgressEvent, ReceivedFolder } from '@subwire/shared'
import type { Logger } from '@libp2p/interface'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'

/** Every regular file under `dir`, by relative path. */
async function tree (dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else out.set(relative(dir, p).split('\\').join('/'), await sha256File(p))
    }
  }
  await walk(dir)
  return out
}

/** A folder of 50 files in nested directories: empty, small, a few MiB-chunked ones. */
async function makeFolder (dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const sub = i % 5 === 0 ? '' : i % 5 === 1 ? 'a' : i % 5 === 2 ? 'a/b' : i % 5 === 3 ? 'a/b/c d' : 'z'
    await mkdir(join(dir, sub), { recursive: true })
    const size = i === 7 ? 0 : i % 10 === 3 ? 2 * 1024 * 1024 + 12345 : 1000 + i * 997
    await randomFile(join(dir, sub, `file-${i}.bin`), size)
  }
}

describe('folder transfer', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: NodePeer
  let alice: NodePeer
  let bobAddr: string
  const folders: ReceivedFolder[] = []
  const offers: FileOffer[] = []
  const fileEvents: string[] = []

  const startBob = async (): Promise<void> => {
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], home: join(dir, 'bob-home'), filesDir: join(dir, 'bob'), protocol: { files: { minFreeBytes: 0 } } })
    bobAddr = addrOf(bob, 'quic')
    bob.on('folder:received', (f) => { folders.push(f) })
    bob.on('file:received', (f) => { fileEvents.push(f.name) })
    bob.subwire.onFileOffer((offer) => { offers.push(offer) })
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-folders-'))
    await startBob()
    alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [], home: join(dir, 'alice-home') })
  })

  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup()
  })

  it('sends a folder of 50 files in nested directories as one transfer, asked once, every SHA-256 equal, landing in inbox/<sender>/<name>', async () => {
    const src = join(dir, 'dataset')
    await makeFolder(src)
    const progress: FolderProgressEvent[] = []
    const result = await alice.sendFolder(bobAddr, src, { onProgress: (e) => { progress.push(e) } })
    assert.equal(result.files, 50)
    assert.equal(result.bytesSent, result.size)
    await waitFor(() => folders.some((f) => f.id === result.id), 10_000, 'the folder event')
    const got = folders.find((f) => f.id === result.id) as ReceivedFolder
    assert.equal(got.path, join(dir, 'bob', 'inbox', ALICE, 'dataset'))
    assert.equal(got.files, 50)
    assert.equal(got.blake3, result.blake3)
    assert.deepEqual(await tree(got.path), await tree(src))
    // consent once, for the folder, with its count and total size
    const folderOffers = offers.filter((o) => o.id === result.id)
    assert.equal(folderOffers.length, 1)
    assert.equal(folderOffers[0]?.files, 50)
    assert.equal(folderOffers[0]?.size, result.size)
    assert.equal(offers.length, 1, 'no per-file consent')
    assert.deepEqual(fileEvents, [], 'no file:received per entry')
    // per-file and total progress
    const last = progress.filter((e) => e.type === 'folder:bytes').at(-1) as FolderProgressEvent
    assert.equal(last.detail.bytes, result.size)
    assert.equal(last.detail.total, result.size)
    assert.ok(progress.some((e) => e.type === 'folder:hashing'))
    assert.ok(progress.some((e) => e.detail.file.path === 'a/b/c d/file-3.bin' && e.detail.file.bytes === e.detail.file.total))
    // nothing left in the staging
    assert.deepEqual((await readdir(join(dir, 'bob', 'partial'))).filter((n) => n.endsWith('.d')), [])
  })

  it('a second folder of the same name lands beside the first, never into it (sent in plaintext this time)', async () => {
    const src = join(dir, 'dataset')
    const result = await alice.sendFolder(bobAddr, src, { encrypt: false })
    await waitFor(() => folders.some((f) => f.id === result.id), 10_000, 'the folder event')
    assert.equal(folders.find((f) => f.id === result.id)?.path, join(dir, 'bob', 'inbox', ALICE, 'dataset (1)'))
    assert.deepEqual(await tree(join(dir, 'bob', 'inbox', ALICE, 'dataset (1)')), await tree(src))
  })

  it('resumes a folder interrupted mid-way, across a receiver restart: staged files are re-checked, not re-sent', async () => {
    const src = join(dir, 'big')
    await mkdir(join(src, 'nested'), { recursive: true })
    for (let i = 0; i < 6; i++) await randomFile(join(src, i % 2 === 0 ? '' : 'nested', `part-${i}.bin`), 4 * 1024 * 1024)
    const controller = new AbortController()
    const first = alice.sendFolder(bobAddr, src, {
      signal: controller.signal,
      onProgress: (e) => { if (e.type === 'folder:bytes' && e.detail.bytes > 14 * 1024 * 1024) controller.abort() }
    })
    await assert.rejects(first, (e: Error) => isAbortError(e))
    await waitFor(async () => (await readdir(join(dir, 'bob', 'partial'))).some((n) => n.endsWith('.d')), 5000, 'a staging directory')
    // the receiver goes down and comes back: the staging and the partial stay on disk
    await bob.stop()
    await startBob()
    await alice.connect(bobAddr)
    const before = folders.length
    const second = await alice.sendFolder(bobAddr, src)
    assert.ok(second.resumedFrom >= 12 * 1024 * 1024, `resumed from ${second.resumedFrom}`)
    assert.ok(second.bytesSent <= second.size - 12 * 1024 * 1024, `sent ${second.bytesSent}`)
    await waitFor(() => folders.length > before, 10_000, 'the folder event')
    const got = folders.at(-1) as ReceivedFolder
    assert.equal(got.path, join(dir, 'bob', 'inbox', ALICE, 'big'))
    assert.deepEqual(await tree(got.path), await tree(src))
  })

  it('refuses a crafted folder offer with a hostile path with UnsafePathError, creating nothing', async () => {
    const before = await readdir(join(dir, 'bob', 'inbox', ALICE))
    for (const [path, name] of [['../../escape.txt', UnsafePathError.name], ['/etc/passwd', UnsafePathError.name], ['a/./b', UnsafePathError.name], ['x'.repeat(2000), FolderLimitError.name]] as const) {
      const entries = [{ path: 'ok.txt', size: 0, root: new Uint8Array(32) }, { path, size: 0, root: new Uint8Array(32) }]
      const folder = { id: crypto.randomUUID(), name: 'evil', entries, root: await folderRoot(entries) }
      const connection = await alice.libp2p.dial(multiaddr(bobAddr))
      await alice.connect(bobAddr)
      const stream = await connection.newStream(fileProtocol(42))
      const framed = new FramedStream(stream, { maxFrameBytes: 1024 * 1024, log: Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as unknown as Logger })
      framed.send({ k: 'folder', m: folderToWire(folder) })
      assert.deepEqual(await framed.readFrame(), { k: 'wait' }, 'a receiver that knows folders says so at once')
      const reply = await framed.readFrame() as { k: string, e: { name: string } }
      assert.equal(reply.k, 'refuse')
      assert.equal(reply.e.name, name, path)
    }
    assert.deepEqual(await readdir(join(dir, 'bob', 'inbox', ALICE)), before)
  })

  it('refuses a file offer naming a folder that is not in progress (InvalidManifestError)', async () => {
    const data = new TextEncoder().encode('stray')
    const manifest = await createManifest({ name: 'x', size: data.byteLength, read: async (o, l) => data.slice(o, o + l) })
    const connection = await alice.libp2p.dial(multiaddr(bobAddr))
    const stream = await connection.newStream(fileProtocol(42))
    const framed = new FramedStream(stream, { maxFrameBytes: 1024 * 1024, log: Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as unknown as Logger })
    framed.send({ k: 'offer', m: manifestToWire({ ...manifest, folder: { id: crypto.randomUUID(), index: 0 } }) })
    const reply = await framed.readFrame() as { k: string, e: { name: string } }
    assert.equal(reply.k, 'refuse')
    assert.equal(reply.e.name, InvalidManifestError.name)
  })

  it('tells the sender FilesNotEnabledError when the receiver never answers the folder offer (a peer older than folders)', async () => {
    // an older receiver's file handler: reads the unknown frame and says nothing
    const old = await startPeer({ uri: '//Dave', transports: ['quic'] })
    try {
      await old.libp2p.unhandle(fileProtocol(42))
      await old.libp2p.handle(fileProtocol(42), (stream) => { stream.addEventListener('message', () => {}) }, { runOnLimitedConnection: false })
      const started = Date.now()
      await assert.rejects(alice.sendFolder(addrOf(old, 'quic'), join(dir, 'dataset')), { name: 'FilesNotEnabledError' })
      assert.ok(Date.now() - started < 30_000)
    } finally {
      await old.stop()
    }
  })

  it('refuses a hostile path at the sender too, before hashing', async () => {
    await assert.rejects(alice.sendFolder(bobAddr, { name: 'x', entries: [{ path: '../up', size: 0, open: async () => { throw new Error('opened') } }] }), { name: UnsafePathError.name })
    await assert.rejects(alice.sendFolder(bobAddr, join(dir, 'dataset', 'file-0.bin')), { name: 'InvalidConfigError' })
    assert.ok((await stat(join(dir, 'dataset'))).isDirectory())
  })
})
