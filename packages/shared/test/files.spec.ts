import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MIN_FILE_CHUNK_SIZE } from '../src/constants.ts'
import { bytesToHex } from '../src/bytes.ts'
import { createManifest, transferKey, verifyChunksOnDisk } from '../src/files/manifest.ts'
import { FileReceiver } from '../src/files/receiver.ts'
import { DiskReservations } from '../src/files/reservations.ts'
import { FileSender } from '../src/files/sender.ts'
import { framedPair, silentLog } from './fixtures/stub-duplex.ts'
import type { ReceiveFileInit } from '../src/files/receiver.ts'
import type { FileManifest, FileOpener, FileSealer, FileSource, FileStore, PartialFile, ReceivedFile, SendFileResult } from '../src/files/types.ts'

const CS = MIN_FILE_CHUNK_SIZE
const caller = { ss58: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY', peerId: '12D3KooWstub', netuid: 7 }

function bytes (n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}

function source (data: Uint8Array, name = 'data.bin'): FileSource & { reads: number[] } {
  const reads: number[] = []
  return {
    name,
    size: data.byteLength,
    reads,
    read: async (offset, length) => { reads.push(offset); return data.slice(offset, offset + length) }
  }
}

/** A file store in memory: partial files by key, the inbox by sender and name. */
class MemoryFileStore implements FileStore {
  readonly partials = new Map<string, { data: Uint8Array, verified: number }>()
  readonly inbox = new Map<string, Uint8Array>()
  free: number | undefined

  async freeBytes (): Promise<number | undefined> { return this.free }
  async partialBytes (key: string): Promise<number> { return this.partials.get(key)?.data.byteLength ?? 0 }
  async received (sender: string, name: string, size: number): Promise<boolean> { return this.inbox.get(`${sender}/${name}`)?.byteLength === size }

  async open (key: string, manifest: FileManifest, name: string, sender: string): Promise<PartialFile> {
    const p = this.partials.get(key) ?? { data: new Uint8Array(manifest.size), verified: 0 }
    this.partials.set(key, p)
    // a resumed partial is re-verified from its first chunk
    const verifiedChunks = p.verified === 0 ? 0 : await verifyChunksOnDisk(manifest, 0, p.verified * manifest.chunkSize, async (o, l) => p.data.slice(o, o + l))
    return {
      verifiedChunks,
      write: async (offset, b) => { p.data.set(b, offset) },
      commit: async (n) => { p.verified = n },
      read: async (offset, length) => p.data.slice(offset, offset + length),
      rewind: async (n) => { p.verified = n },
      complete: async () => {
        this.inbox.set(`${sender}/${name}`, p.data)
        this.partials.delete(key)
        return `inbox/${sender}/${name}`
      },
      close: async () => {}
    }
  }
}

/** End-to-end encryption from `caller` to a receiver with a published key: the sealer of transfer `id` and the receiver's opener. */
async function sealingPair (id: string): Promise<{ sealer: FileSealer, opener: FileOpener }> {
  const { E2eSealing } = await import('../src/encryption/sealing.ts')
  const receiverSs58 = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
  const s = new E2eSealing(caller.ss58)
  const r = new E2eSealing(receiverSs58)
  await s.start()
  await r.start()
  const key = await r.keys().rotate(0)
  const session = { remote: { ss58: receiverSs58 }, attestation: { encryptionKey: key.publicKey } } as unknown as Parameters<typeof s.fileSealer>[0]
  return { sealer: s.fileSealer(session, id), opener: r.fileOpener(caller) }
}

async function transfer (data: Uint8Array, store: MemoryFileStore, init: Partial<ReceiveFileInit> = {}, src = source(data)): Promise<{ sent: PromiseSettledResult<Omit<SendFileResult, 'ms'>>, received: PromiseSettledResult<ReceivedFile | undefined> }> {
  const manifest = await createManifest(src, { chunkSize: CS })
  const { a, b } = framedPair(CS + 64 * 1024)
  const receiver = new FileReceiver(b, { caller, store, policy: {}, log: silentLog, ...init })
  const sender = new FileSender(a, src, manifest, { stallTimeoutMs: 2000 })
  const [sent, received] = await Promise.allSettled([sender.send(), receiver.receive()])
  return { sent, received }
}

describe('file sender and receiver over a stub duplex pair', () => {
  it('delivers a file byte for byte into the inbox and reports the same root on both sides', async () => {
    const data = bytes(3 * CS + 1234)
    const store = new MemoryFileStore()
    const { sent, received } = await transfer(data, store)
    assert.equal(sent.status, 'fulfilled')
    assert.equal(received.status, 'fulfilled')
    const s = (sent as PromiseFulfilledResult<Omit<SendFileResult, 'ms'>>).value
    const r = (received as PromiseFulfilledResult<ReceivedFile | undefined>).value
    assert.equal(s.bytesSent, data.byteLength)
    assert.equal(s.resumedFrom, 0)
    assert.equal(r?.blake3, s.blake3)
    assert.equal(r?.path, `inbox/${caller.ss58}/data.bin`)
    assert.deepEqual(store.inbox.get(`${caller.ss58}/data.bin`), data)
  })

  it('resumes after the chunks a partial copy still verifies, and sends only the rest', async () => {
    const data = bytes(4 * CS, 7)
    const store = new MemoryFileStore()
    const src = source(data)
    const manifest = await createManifest(src, { chunkSize: CS })
    const key = await transferKey(caller.ss58, manifest)
    const partial = new Uint8Array(data.byteLength)
    partial.set(data.subarray(0, 2 * CS))
    store.partials.set(key, { data: partial, verified: 2 })
    const reading = source(data)
    const { a, b } = framedPair(CS + 64 * 1024)
    const [sent] = await Promise.all([
      new FileSender(a, reading, manifest).send(),
      new FileReceiver(b, { caller, store, policy: {}, log: silentLog }).receive()
    ])
    assert.equal(sent.resumedFrom, 2 * CS)
    assert.equal(sent.bytesSent, 2 * CS)
    assert.deepEqual(reading.reads, [2 * CS, 3 * CS], 'only the missing chunks were read')
    assert.deepEqual(store.inbox.get(`${caller.ss58}/data.bin`), data)
  })

  it('tells the sender a policy refusal as FileRefusedError with the receiver\'s reason', async () => {
    const store = new MemoryFileStore()
    const { sent, received } = await transfer(bytes(CS), store, { policy: { onOffer: () => { throw new Error('not from you') } } })
    assert.equal(sent.status, 'rejected')
    assert.equal((sent as PromiseRejectedResult).reason.name, 'FileRefusedError')
    assert.match((sent as PromiseRejectedResult).reason.message, /not from you/)
    assert.equal(received.status, 'rejected')
    assert.equal(store.partials.size, 0, 'a refused offer leaves nothing behind')
  })

  it('refuses an offer the disk cannot take, counting the space promised to other transfers', async () => {
    const store = new MemoryFileStore()
    const reservations = new DiskReservations()
    const held = reservations.reserve(10 * CS)
    store.free = 10 * CS + 2 * CS
    const { sent } = await transfer(bytes(2 * CS + 1), store, { reservations, policy: { minFreeBytes: CS } })
    assert.equal((sent as PromiseRejectedResult).reason?.name, 'InsufficientDiskSpaceError')
    held.release()
    assert.equal(reservations.total, 0)
  })

  it('cancels when a chunk does not match its hash, and writes nothing of it', async () => {
    const data = bytes(3 * CS, 3)
    const store = new MemoryFileStore()
    const src = source(data)
    const manifest = await createManifest(src, { chunkSize: CS })
    const changed = data.slice()
    changed[CS + 5] = (changed[CS + 5] as number) ^ 0xff
    const { a, b } = framedPair(CS + 64 * 1024)
    const [sent, received] = await Promise.allSettled([
      new FileSender(a, source(changed), manifest).send(),
      new FileReceiver(b, { caller, store, policy: {}, log: silentLog }).receive()
    ])
    assert.equal((received as PromiseRejectedResult).reason.name, 'ChunkHashMismatchError')
    const reason = (sent as PromiseRejectedResult).reason as Error
    assert.equal(reason.name, 'TransferCancelledError')
    assert.equal((reason.cause as Error).name, 'ChunkHashMismatchError')
    assert.equal(store.inbox.size, 0)
    const [partial] = store.partials.values()
    assert.equal(partial?.verified, 1, 'only the chunk before the bad one is recorded')
  })

  it('acks a re-send of a transfer already delivered without receiving it again', async () => {
    const store = new MemoryFileStore()
    const delivered = new Set<string>()
    const log = { was: async (id: string) => delivered.has(id), mark: async (id: string) => { delivered.add(id) } }
    const data = bytes(2 * CS, 9)
    const src = source(data)
    const manifest = await createManifest(src, { chunkSize: CS, id: 'fixed-id' })
    for (const round of [1, 2]) {
      const { a, b } = framedPair(CS + 64 * 1024)
      const [sent, received] = await Promise.all([
        new FileSender(a, src, manifest).send(),
        new FileReceiver(b, { caller, store, policy: {}, log: silentLog, delivered: log }).receive()
      ])
      if (round === 1) {
        assert.equal(sent.bytesSent, data.byteLength)
        assert.notEqual(received, undefined)
      } else {
        assert.equal(sent.bytesSent, 0, 'the second offer is acked at once')
        assert.equal(sent.resumedFrom, data.byteLength)
        assert.equal(received, undefined)
      }
    }
  })

  it('cancels from the sender with TransferCancelledError on the receiver', async () => {
    const store = new MemoryFileStore()
    const data = bytes(6 * CS, 5)
    const controller = new AbortController()
    const slow: FileSource = {
      name: 'slow.bin',
      size: data.byteLength,
      read: async (o, l, options) => {
        if (o >= 2 * CS) controller.abort()
        await new Promise((resolve) => setTimeout(resolve, 2))
        if (options?.signal?.aborted === true) throw new DOMException('The operation was aborted', 'AbortError')
        return data.slice(o, o + l)
      }
    }
    const manifest = await createManifest(source(data, 'slow.bin'), { chunkSize: CS })
    const { a, b } = framedPair(CS + 64 * 1024)
    const [sent, received] = await Promise.allSettled([
      new FileSender(a, slow, manifest, { signal: controller.signal }).send(),
      new FileReceiver(b, { caller, store, policy: {}, log: silentLog }).receive()
    ])
    // the source's own abort, or the sender's check of the signal before the next chunk
    assert.ok(['AbortError', 'OperationAbortedError'].includes((sent as PromiseRejectedResult).reason.name))
    assert.equal((received as PromiseRejectedResult).reason.name, 'TransferCancelledError')
  })
})

describe('a sender stopped before the receiver accepted', () => {
  it('tells the receiver, which gives the transfer up instead of waiting for chunks', async () => {
    const store = new MemoryFileStore()
    const data = bytes(4 * CS, 6)
    const src = source(data, 'asked.bin')
    const manifest = await createManifest(src, { chunkSize: CS })
    src.reads.length = 0
    const controller = new AbortController()
    const { a, b } = framedPair(CS + 64 * 1024)
    // the receiver asks its user (consent); the sender is paused meanwhile
    const onOffer = async (): Promise<void> => { controller.abort(); await new Promise((resolve) => setTimeout(resolve, 50)) }
    const started = performance.now()
    const [sent, received] = await Promise.allSettled([
      new FileSender(a, src, manifest, { signal: controller.signal }).send(),
      new FileReceiver(b, { caller, store, policy: { onOffer }, log: silentLog, idleTimeoutMs: 30_000 }).receive()
    ])
    assert.equal((sent as PromiseRejectedResult).reason.name, 'OperationAbortedError')
    assert.equal((received as PromiseRejectedResult).reason.name, 'TransferCancelledError')
    assert.ok(performance.now() - started < 5000, 'not after the idle timeout')
    assert.deepEqual(src.reads, [], 'no chunk read for sending')
  })
})

describe('file names from the network', () => {
  it('neutralises bidirectional overrides, line separators and invisible spaces, so a name reads as it is', async () => {
    const { sanitizeFileName } = await import('../src/files/names.ts')
    assert.equal(sanitizeFileName('invoice\u202Efdp.exe'), 'invoice_fdp.exe')
    assert.equal(sanitizeFileName('a\u2028b\u2029c'), 'a_b_c')
    assert.equal(sanitizeFileName('x\u2066y\u2069\u200e\u200f'), 'x_y___')
    assert.equal(sanitizeFileName('\ufeffzero\u200bwidth.txt'), '_zero_width.txt')
    // what people really name files survives: accents, CJK, emoji with a joiner
    assert.equal(sanitizeFileName('weights épocha 7 模型 👩\u200d💻.bin'), 'weights épocha 7 模型 👩\u200d💻.bin')
  })
})

describe('a manifest of the largest file (512 GiB at 1 MiB chunks)', () => {
  it('is sent encrypted: 524,288 chunk hashes sealed in one offer open on the receiver', async () => {
    const { E2eSealing } = await import('../src/encryption/sealing.ts')
    const { FILE_CHUNK_SIZE, MAX_FILE_CHUNKS } = await import('../src/constants.ts')
    const { fileRoot } = await import('../src/files/manifest.ts')
    const receiverSs58 = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
    const senderSealing = new E2eSealing(caller.ss58)
    const receiverSealing = new E2eSealing(receiverSs58)
    await senderSealing.start()
    await receiverSealing.start()
    const key = await receiverSealing.keys().rotate(0)
    const size = MAX_FILE_CHUNKS * FILE_CHUNK_SIZE
    const chunkHashes = bytes(MAX_FILE_CHUNKS * 32, 7)
    const manifest: FileManifest = { id: crypto.randomUUID(), name: 'huge.bin', size, chunkSize: FILE_CHUNK_SIZE, chunkHashes, root: await fileRoot(size, FILE_CHUNK_SIZE, chunkHashes) }
    const session = { remote: { ss58: receiverSs58 }, attestation: { encryptionKey: key.publicKey } } as unknown as Parameters<typeof senderSealing.fileSealer>[0]
    // the file stream's frame limit: 16 MiB + 64 KiB
    const { a, b } = framedPair(16 * 1024 * 1024 + 64 * 1024)
    let offered: { size: number } | undefined
    const receiver = new FileReceiver(b, {
      caller,
      store: new MemoryFileStore(),
      policy: { onOffer: (offer) => { offered = offer; throw new Error('only the offer is tested') } },
      e2e: receiverSealing.fileOpener(caller),
      log: silentLog
    })
    const src: FileSource = { name: 'huge.bin', size, read: async () => { throw new Error('no chunk is read') } }
    const sender = new FileSender(a, src, manifest, { e2e: senderSealing.fileSealer(session, manifest.id) })
    const [sent, received] = await Promise.allSettled([sender.send(), receiver.receive()])
    assert.equal(offered?.size, size, 'the receiver opened and checked the whole manifest')
    assert.equal(sent.status, 'rejected')
    assert.equal((sent as PromiseRejectedResult).reason.name, 'FileRefusedError')
    assert.match((sent as PromiseRejectedResult).reason.message, /only the offer is tested/)
    assert.equal(received.status, 'rejected')
  })
})

describe('read buffers reused chunk after chunk', () => {
  /**
   * A source that reads into the buffer it is given at once and answers later: had the sender read a
   * chunk into a buffer whose chunk was not yet copied out (sealed or framed), the receiver
   * would see other bytes than the manifest's and refuse the chunk.
   */
  function reusingSource (data: Uint8Array): FileSource & { buffers: Set<ArrayBufferLike>, fresh: number } {
    const buffers = new Set<ArrayBufferLike>()
    const src = {
      name: 'reused.bin',
      size: data.byteLength,
      buffers,
      fresh: 0,
      read: async (offset: number, length: number, options?: { into?: Uint8Array }) => {
        const into = options?.into
        if (into === undefined || into.byteLength < length) { src.fresh++; return data.slice(offset, offset + length) }
        buffers.add(into.buffer)
        // the bytes land at once (the worst case for the caller), the promise settles later
        const view = into.subarray(0, length)
        view.set(data.subarray(offset, offset + length))
        await new Promise((resolve) => setTimeout(resolve, 1))
        return view
      }
    }
    return src
  }

  for (const encrypted of [false, true]) {
    it(`hashes and sends a ${encrypted ? 'sealed' : 'plain'} file through two buffers, byte for byte`, async () => {
      const data = bytes(9 * CS + 77, 3)
      const src = reusingSource(data)
      const manifest = await createManifest(src, { chunkSize: CS })
      assert.ok(src.buffers.size <= 2, `the hashing pass used ${src.buffers.size} buffers`)
      const hashing = new Set(src.buffers)
      src.buffers.clear()
      const store = new MemoryFileStore()
      const { a, b } = framedPair(CS + 64 * 1024)
      const e2e: Partial<Awaited<ReturnType<typeof sealingPair>>> = encrypted ? await sealingPair(manifest.id) : {}
      const receiver = new FileReceiver(b, { caller, store, policy: {}, log: silentLog, ...(e2e.opener === undefined ? {} : { e2e: e2e.opener }) })
      const sender = new FileSender(a, src, manifest, { stallTimeoutMs: 2000, ...(e2e.sealer === undefined ? {} : { e2e: e2e.sealer }) })
      const [sent, received] = await Promise.allSettled([sender.send(), receiver.receive()])
      assert.equal(sent.status, 'fulfilled', sent.status === 'rejected' ? String(sent.reason) : '')
      assert.equal(received.status, 'fulfilled')
      assert.deepEqual(store.inbox.get(`${caller.ss58}/reused.bin`), data)
      assert.ok(src.buffers.size <= 2, `sending used ${src.buffers.size} buffers`)
      assert.equal(src.fresh, 0, 'every read was given a buffer')
      assert.ok(hashing.size >= 1)
    })
  }
})

describe('a streamed manifest (the first chunk leaves before the file is hashed)', () => {
  const SK = new Uint8Array(32).fill(0x5c)

  /** A source that can name its version: it may be sent with a streamed manifest. */
  function keyed (data: Uint8Array, sourceKey = SK): FileSource & { reads: number[] } {
    return { ...source(data), outboard: { get: async () => undefined, put: async () => {}, sourceKey } }
  }

  it('sends at once, then the root; the receiver checks it and the sender\'s manifest ends up whole', async () => {
    for (const size of [0, 1, CS, 5 * CS + 99]) {
      const data = bytes(size, 11)
      const src = keyed(data)
      const manifest = await createManifest(src, { chunkSize: CS, streamed: true })
      assert.equal(manifest.streamed, true)
      assert.equal(src.reads.length, 0, 'nothing was read to make the manifest')
      assert.equal(manifest.root.byteLength, 0)
      const store = new MemoryFileStore()
      const offers: string[] = []
      const { a, b } = framedPair(CS + 64 * 1024)
      const [sent, received] = await Promise.all([
        new FileSender(a, src, manifest, { stallTimeoutMs: 2000 }).send(),
        new FileReceiver(b, { caller, store, policy: {}, log: silentLog, onAccepted: (o) => { offers.push(o.root) } }).receive()
      ])
      const whole = await createManifest(source(data), { chunkSize: CS })
      assert.deepEqual(offers, [''], 'the offer names no root')
      assert.equal(sent.blake3, bytesToHex(whole.root))
      assert.equal(received?.blake3, bytesToHex(whole.root))
      assert.equal(manifest.streamed, false)
      assert.deepEqual(manifest.chunkHashes, whole.chunkHashes)
      assert.deepEqual(store.inbox.get(`${caller.ss58}/data.bin`), data)
      assert.equal(src.reads.length, Math.ceil(size / CS), 'each chunk was read once')
    }
  })

  it('is sealed end to end like any offer', async () => {
    const data = bytes(3 * CS + 5, 12)
    const src = keyed(data)
    const manifest = await createManifest(src, { chunkSize: CS, streamed: true })
    const { sealer, opener } = await sealingPair(manifest.id)
    const store = new MemoryFileStore()
    const { a, b } = framedPair(CS + 64 * 1024)
    const [sent] = await Promise.all([
      new FileSender(a, src, manifest, { e2e: sealer }).send(),
      new FileReceiver(b, { caller, store, policy: {}, log: silentLog, e2e: opener, requireEncryption: true }).receive()
    ])
    assert.equal(sent.blake3, bytesToHex((await createManifest(source(data), { chunkSize: CS })).root))
    assert.deepEqual(store.inbox.get(`${caller.ss58}/data.bin`), data)
  })

  it('drops what arrived when the root after the last chunk is not the root of the chunks (FileHashMismatchError)', async () => {
    const data = bytes(3 * CS, 13)
    const store = new MemoryFileStore()
    const { a, b } = framedPair(CS + 64 * 1024)
    const receiving = new FileReceiver(b, { caller, store, policy: {}, log: silentLog }).receive()
    a.send({ k: 'offer', m: { id: 'lying', name: 'data.bin', size: data.byteLength, cs: CS, st: true, sk: SK } })
    const accept = await a.readFrame() as Record<string, unknown>
    assert.equal(accept.k, 'accept')
    assert.equal(accept.from, 0)
    for (let i = 0; i < 3; i++) a.send({ k: 'chunk', i, d: data.subarray(i * CS, (i + 1) * CS) })
    a.send({ k: 'root', r: new Uint8Array(32).fill(1) })
    await assert.rejects(receiving, (e: Error) => e.name === 'FileHashMismatchError')
    assert.equal(store.inbox.size, 0, 'nothing reached the inbox')
    const [partial] = store.partials.values()
    assert.equal(partial?.verified, 0, 'nothing of it is kept for a resume')
  })

  it('asks for the hashed manifest when part of the file is here, and that offer resumes it', async () => {
    const data = bytes(6 * CS, 14)
    const store = new MemoryFileStore()
    // a streamed attempt that stops after two chunks (the sender cancelled)
    const controller = new AbortController()
    const first = keyed(data)
    const stopping: FileSource = { ...first, read: async (o, l, options) => { if (o >= 3 * CS) controller.abort(); return await first.read(o, l, options) } }
    const { a, b } = framedPair(CS + 64 * 1024)
    const cut = await Promise.allSettled([
      new FileSender(a, stopping, await createManifest(first, { chunkSize: CS, streamed: true }), { signal: controller.signal }).send(),
      new FileReceiver(b, { caller, store, policy: {}, log: silentLog }).receive()
    ])
    assert.equal(cut[0].status, "rejected", String((cut[1] as PromiseRejectedResult).reason))
    assert.equal(store.partials.size, 1, JSON.stringify(cut[1]) + String((cut[0] as PromiseRejectedResult).reason))
    const [held] = store.partials.values()
    assert.ok((held?.verified ?? 0) >= 2, `the receiver kept ${held?.verified} chunks`)
    // the same source streamed again: refused with ManifestRequiredError, nothing touched
    const again = framedPair(CS + 64 * 1024)
    const [asked, answered] = await Promise.allSettled([
      new FileSender(again.a, keyed(data), await createManifest(keyed(data), { chunkSize: CS, streamed: true })).send(),
      new FileReceiver(again.b, { caller, store, policy: {}, log: silentLog }).receive()
    ])
    assert.equal((asked as PromiseRejectedResult).reason?.name, 'ManifestRequiredError')
    assert.deepEqual(answered, { status: 'fulfilled', value: undefined }, 'not a failure on the receiver')
    // the hashed manifest of the same source resumes from the chunks that verify
    const hashed = await createManifest(keyed(data), { chunkSize: CS })
    assert.deepEqual(hashed.sourceKey, SK)
    const reading = keyed(data)
    const third = framedPair(CS + 64 * 1024)
    const [sent] = await Promise.all([
      new FileSender(third.a, reading, hashed).send(),
      new FileReceiver(third.b, { caller, store, policy: {}, log: silentLog }).receive()
    ])
    assert.equal(sent.resumedFrom, (held?.verified ?? 0) * CS)
    assert.ok(reading.reads.every((o) => o >= sent.resumedFrom), 'only the missing chunks were read')
    assert.deepEqual(store.inbox.get(`${caller.ss58}/data.bin`), data)
  })

  it('refuses a streamed manifest with hashes, a root, no source key or a folder entry, and a hashed one with a short source key', async () => {
    const { manifestFromWire } = await import('../src/files/manifest.ts')
    const base = { id: 'x', name: 'n', size: 10, cs: CS }
    for (const bad of [
      { ...base, st: true, sk: SK, h: new Uint8Array(32) },
      { ...base, st: true, sk: SK, r: new Uint8Array(32) },
      { ...base, st: true },
      { ...base, st: true, sk: SK, f: { id: 'f', i: 0 } },
      { ...base, st: false, sk: SK },
      { ...base, st: true, sk: new Uint8Array(31) }
    ]) await assert.rejects(manifestFromWire(bad), (e: Error) => e.name === 'InvalidManifestError', JSON.stringify(Object.keys(bad)))
    const m = await manifestFromWire({ ...base, st: true, sk: SK, size: 512 * 1024 * 1024 * 1024, cs: 1024 * 1024 })
    assert.equal(m.chunkHashes.byteLength, 0, 'nothing allocated for an offer not yet accepted')
    assert.equal(m.streamed, true)
  })

  it('asks for the hashed manifest when a file of the name and size is in the inbox, and that offer is acknowledged, not stored twice', async () => {
    const data = bytes(2 * CS + 3, 16)
    const store = new MemoryFileStore()
    const delivered = new Set<string>()
    const log = { was: async (id: string) => delivered.has(id), mark: async (id: string) => { delivered.add(id) } }
    const asked: string[] = []
    const init = { caller, store, policy: { onOffer: (o: { root: string }) => { asked.push(o.root) } }, log: silentLog, delivered: log }
    const first = framedPair(CS + 64 * 1024)
    await Promise.all([
      new FileSender(first.a, keyed(data), await createManifest(keyed(data), { chunkSize: CS, streamed: true })).send(),
      new FileReceiver(first.b, init).receive()
    ])
    const again = framedPair(CS + 64 * 1024)
    const [refused] = await Promise.allSettled([
      new FileSender(again.a, keyed(data), await createManifest(keyed(data), { chunkSize: CS, streamed: true, id: 'second' })).send(),
      new FileReceiver(again.b, init).receive()
    ])
    assert.equal((refused as PromiseRejectedResult).reason?.name, 'ManifestRequiredError')
    const third = framedPair(CS + 64 * 1024)
    const [sent, received] = await Promise.all([
      new FileSender(third.a, keyed(data), await createManifest(keyed(data), { chunkSize: CS, id: 'second' })).send(),
      new FileReceiver(third.b, init).receive()
    ])
    assert.equal(sent.bytesSent, 0)
    assert.equal(received, undefined, 'acknowledged as a duplicate')
    assert.equal(store.inbox.size, 1)
    // the streamed second offer was settled before the policy; the hashed one is asked with its root, as any re-send
    assert.deepEqual(asked, ['', bytesToHex((await createManifest(source(data), { chunkSize: CS })).root)])
  })

  it('lets the policy ask for the root of a streamed offer (ManifestRequiredError)', async () => {
    const data = bytes(CS, 17)
    const store = new MemoryFileStore()
    const roots: string[] = []
    const policy = { onOffer: (o: { root: string }) => { roots.push(o.root); if (o.root === '') throw Object.assign(new Error('root first'), { name: 'ManifestRequiredError' }) } }
    const one = framedPair(CS + 64 * 1024)
    const [asked] = await Promise.allSettled([
      new FileSender(one.a, keyed(data), await createManifest(keyed(data), { chunkSize: CS, streamed: true })).send(),
      new FileReceiver(one.b, { caller, store, policy, log: silentLog }).receive()
    ])
    assert.equal((asked as PromiseRejectedResult).reason?.name, 'ManifestRequiredError')
    const two = framedPair(CS + 64 * 1024)
    const hashed = await createManifest(keyed(data), { chunkSize: CS })
    await Promise.all([new FileSender(two.a, keyed(data), hashed).send(), new FileReceiver(two.b, { caller, store, policy, log: silentLog }).receive()])
    assert.deepEqual(roots, ['', bytesToHex(hashed.root)])
    assert.equal(store.inbox.size, 1)
  })

  it('keys the partial by the source, its size and chunk size, and the content by the root', async () => {
    const data = bytes(2 * CS, 15)
    const hashed = await createManifest(keyed(data), { chunkSize: CS })
    const plain = await createManifest(source(data), { chunkSize: CS })
    const { contentKey } = await import('../src/files/manifest.ts')
    assert.notEqual(await transferKey(caller.ss58, hashed), await transferKey(caller.ss58, plain))
    assert.equal(await transferKey(caller.ss58, plain), await contentKey(caller.ss58, plain.root))
    assert.equal(await transferKey(caller.ss58, hashed), await transferKey(caller.ss58, { ...hashed, root: new Uint8Array(0), streamed: true }))
    assert.notEqual(await transferKey(caller.ss58, hashed), await transferKey(caller.ss58, { ...hashed, size: hashed.size + 1 }))
  })
})
