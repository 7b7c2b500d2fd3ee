// Streamed manifests (issue 19): the first send of a file not seen before leaves at once,
// its chunk hashes computed as the chunks go and the root sent after the last; the next
// send of the unchanged file takes the hashes kept on the way; a streamed send that was cut
// off resumes through the hashed manifest the receiver asks for.
import assert from 'node:assert/strict'
import { readdir, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createManifest, FILE_CHUNK_SIZE } from '@subwire/shared'
import { bytesToHex } from '@subwire/shared/protocol'
import { NodeFileSource } from '../src/index.ts'
import { addrOf, randomFile, sha256File, startPeer, tempDir, waitFor } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'
import type { FileOffer, ReceivedFile, TransferProgressEvent } from '@subwire/shared'

describe('a streamed manifest between Node peers', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let alice: NodePeer
  let bob: NodePeer
  const offers: FileOffer[] = []
  const received: ReceivedFile[] = []
  const failed: Error[] = []

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-streamed-'))
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], filesDir: join(dir, 'bob'), protocol: { files: { minFreeBytes: 0 } } })
    bob.on('file:accepted', (o) => { offers.push(o) })
    bob.on('file:received', (f) => { received.push(f) })
    bob.on('file:failed', (f) => { failed.push(f.error) })
    alice = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [], home: join(dir, 'alice') })
  })

  after(async () => {
    await alice.stop()
    await bob.stop()
    await cleanup()
  })

  /** The root of a file hashed the old way (a source with no outboard). */
  const rootOf = async (path: string): Promise<string> => {
    const src = await NodeFileSource.open(path)
    try { return bytesToHex((await createManifest(src)).root) } finally { await src.close() }
  }

  it('sends the first chunk of an unseen file before any hashing, and keeps its hashes for the next send', async () => {
    const path = join(dir, 'first.bin')
    await randomFile(path, 9 * FILE_CHUNK_SIZE + 3)
    const events: TransferProgressEvent[] = []
    const first = await alice.sendFile(addrOf(bob, 'quic'), path, { onProgress: (e) => { events.push(e) } })
    assert.equal(events[0]?.type, 'transfer:bytes', 'no hashing phase before the bytes')
    assert.ok(!events.some((e) => e.type === 'transfer:hashing'))
    assert.equal(offers.at(-1)?.root, '', 'the offer named no root')
    assert.equal(first.blake3, await rootOf(path))
    await waitFor(() => received.some((f) => f.id === first.id), 10_000, 'the file in the inbox')
    const got = received.find((f) => f.id === first.id) as ReceivedFile
    assert.equal(got.blake3, first.blake3)
    assert.equal(await sha256File(got.path), await sha256File(path))
    assert.equal((await readdir(join(dir, 'alice', 'outboard'))).length, 1, 'the hashes computed on the way are kept')
    // the unchanged file again: its kept hashes, a whole manifest, no hashing pass
    events.length = 0
    const again = await alice.sendFile(addrOf(bob, 'quic'), path, { name: 'again.bin', onProgress: (e) => { events.push(e) } })
    assert.equal(again.blake3, first.blake3)
    assert.deepEqual(events[0], { type: 'transfer:hashing', detail: { id: again.id, bytes: again.size, total: again.size, rate: 0 } }, 'the kept hashes, not a pass')
    assert.equal(offers.at(-1)?.root, first.blake3)
  })

  it('queues a file without hashing it: the first attempt streams its manifest, and the file arrives intact', async () => {
    const path = join(dir, 'queued.bin')
    await randomFile(path, 7 * FILE_CHUNK_SIZE + 11)
    const hashing: TransferProgressEvent[] = []
    const queued = await alice.sendFile(addrOf(bob, 'quic'), path, { queue: true, onProgress: (e) => { hashing.push(e) } })
    assert.deepEqual(hashing, [], 'nothing hashed when it was queued')
    await alice.outbox?.waitFor(queued.id)
    assert.equal(offers.at(-1)?.root, '', 'the offer named no root')
    await waitFor(() => received.some((f) => f.id === queued.id), 10_000, 'the file in the inbox')
    const got = received.find((f) => f.id === queued.id) as ReceivedFile
    assert.equal(got.blake3, await rootOf(path))
    assert.equal(await sha256File(got.path), await sha256File(path))
    assert.deepEqual(await alice.outbox?.list(), [])
    // the re-opened reference kept the hashes computed on the way: the next send offers them at once
    const events: TransferProgressEvent[] = []
    await alice.sendFile(addrOf(bob, 'quic'), path, { name: 'queued-again.bin', onProgress: (e) => { events.push(e) } })
    assert.equal(events[0]?.type, 'transfer:hashing')
    assert.equal(events[0]?.detail.rate, 0, 'the kept hashes, not a pass')
  })

  it('makes no second copy of content already delivered: queued twice, and sent again after a touch (no kept hashes)', async () => {
    const path = join(dir, 'twice.bin')
    await randomFile(path, 5 * FILE_CHUNK_SIZE + 1)
    const inbox = join(dir, 'bob', 'inbox', '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')
    const results = []
    for (let k = 0; k < 2; k++) {
      const q = await alice.sendFile(addrOf(bob, 'quic'), path, { queue: true })
      results.push(await alice.outbox?.waitFor(q.id))
    }
    // a touch: same bytes, another mtime, so no kept hashes and a streamed offer again
    const now = new Date()
    await utimes(path, now, new Date(now.getTime() + 5000))
    const direct = await alice.sendFile(addrOf(bob, 'quic'), path)
    assert.equal(direct.bytesSent, 0, 'acknowledged as delivered, nothing sent again')
    assert.equal(direct.blake3, await rootOf(path))
    assert.deepEqual((await readdir(inbox)).filter((n) => n.startsWith('twice')), ['twice.bin'], 'one copy')
    assert.equal(results.length, 2)
  })

  it('hashes first when asked (hashFirst)', async () => {
    const path = join(dir, 'hashed.bin')
    await randomFile(path, 3 * FILE_CHUNK_SIZE)
    const events: TransferProgressEvent[] = []
    const result = await alice.sendFile(addrOf(bob, 'quic'), path, { hashFirst: true, onProgress: (e) => { events.push(e) } })
    assert.equal(events[0]?.type, 'transfer:hashing')
    assert.ok(events.some((e) => e.type === 'transfer:hashing' && e.detail.rate > 0), 'a real pass')
    assert.equal(offers.at(-1)?.root, result.blake3)
  })

  it('resumes a streamed send that was cut off: the receiver asks for the hashed manifest and keeps what it had', async () => {
    const path = join(dir, 'cut.bin')
    await randomFile(path, 40 * FILE_CHUNK_SIZE)
    const controller = new AbortController()
    const failedBefore = failed.length
    const kept = (await readdir(join(dir, 'alice', 'outboard'))).length
    await assert.rejects(alice.sendFile(addrOf(bob, 'quic'), path, {
      signal: controller.signal,
      onProgress: (e) => { if (e.type === 'transfer:bytes' && e.detail.bytes >= 12 * FILE_CHUNK_SIZE) controller.abort() }
    }))
    assert.equal((await readdir(join(dir, 'alice', 'outboard'))).length, kept, 'no outboard kept for the cut send')
    await waitFor(() => failed.length > failedBefore, 10_000, 'bob giving the cut transfer up')
    const failedCut = failed.length
    const events: TransferProgressEvent[] = []
    const result = await alice.sendFile(addrOf(bob, 'quic'), path, { onProgress: (e) => { events.push(e) } })
    assert.ok(result.resumedFrom >= 8 * FILE_CHUNK_SIZE, `resumed from ${result.resumedFrom}`)
    assert.equal(result.bytesSent, result.size - result.resumedFrom)
    assert.ok(events.some((e) => e.type === 'transfer:hashing' && e.detail.rate > 0), 'the resume hashed the file for the receiver')
    assert.equal(failed.length, failedCut, `the request for the manifest is not a failure on the receiver: ${failed.slice(failedCut).map((e) => e.name).join(', ')}`)
    assert.equal(result.blake3, await rootOf(path))
    await waitFor(() => received.some((f) => f.id === result.id), 10_000, 'the file in the inbox')
    assert.equal(await sha256File((received.find((f) => f.id === result.id) as ReceivedFile).path), await sha256File(path))
  })
})
