import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { gcm } from '@noble/ciphers/aes.js'
import {
  AccessDeniedError,
  errorFromWire,
  FileRefusedError,
  InsufficientDiskSpaceError,
  errorToWire,
  InvalidConfigError,
  isRemoteError,
  createOutboxCipher,
  MemoryQueueStore,
  Outbox,
  PeerUnreachableError,
  SourceChangedError,
  TransferInProgressError
} from '@subwire/shared'
import { backoffDelay, decodeValue } from '@subwire/shared/protocol'
import { sampleRecord } from '@subwire/shared/testing'
import { DISK_SPACE_RETRY_AFTER_MS } from '../src/outbox/permanent.ts'
import type { FileSource, OutboxCipher, OutboxTransport, QueueClock, RemotePeer, SendFileResult, SubwireSendFileOptions } from '@subwire/shared'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'

/** A clock that moves only when the test says so. */
class FakeClock implements QueueClock {
  t = 1_800_000_000_000
  rand = 0.5
  readonly timers = new Map<number, { at: number, fn: () => void }>()
  #next = 0
  now (): number { return this.t }
  random (): number { return this.rand }
  setTimeout (fn: () => void, ms: number): unknown {
    const id = ++this.#next
    this.timers.set(id, { at: this.t + ms, fn })
    return id
  }

  clearTimeout (h: unknown): void { this.timers.delete(h as number) }
  /** Moves time forward, firing due timers in order, letting the outbox's promises settle after each. */
  async advance (ms: number): Promise<void> {
    const end = this.t + ms
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
      if (due === undefined) break
      this.timers.delete(due[0])
      this.t = Math.max(this.t, due[1].at)
      due[1].fn()
      await flush()
    }
    this.t = end
    await flush()
  }
}

async function flush (): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve))
}

interface Call { dest: string, id: string, at: number, action?: string, payload?: unknown, attempt: number }

/** A transport whose outcome per call the test scripts. */
class FakeTransport implements OutboxTransport {
  readonly netuids = [7]
  readonly calls: Call[] = []
  readonly delivered: Call[] = []
  readonly files: Array<{ dest: string, bytes: Uint8Array, options: SubwireSendFileOptions }> = []
  readonly #listeners = new Set<(p: RemotePeer) => void>()
  fail: (call: Call) => Error | undefined = () => undefined
  readonly clock: FakeClock
  constructor (clock: FakeClock) { this.clock = clock }

  async message (dest: string, action: string, payload: unknown, options: { id?: string } = {}): Promise<string> {
    const id = options.id ?? ''
    const call = { dest, id, action, payload, at: this.clock.now(), attempt: this.calls.filter((c) => c.id === id).length + 1 }
    this.calls.push(call)
    const e = this.fail(call)
    if (e !== undefined) throw e
    this.delivered.push(call)
    return id
  }

  async sendFile (dest: string, source: FileSource, options: SubwireSendFileOptions = {}): Promise<SendFileResult> {
    const id = options.manifest?.id ?? ''
    const call = { dest, id, at: this.clock.now(), attempt: this.calls.filter((c) => c.id === id).length + 1 }
    this.calls.push(call)
    const e = this.fail(call)
    if (e !== undefined) throw e
    const bytes = await source.read(0, source.size)
    this.files.push({ dest, bytes, options })
    this.delivered.push(call)
    return { id, name: source.name, size: source.size, blake3: '', bytesSent: source.size, resumedFrom: 0, ms: 1 }
  }

  on (_event: 'peer:authenticated', listener: (p: RemotePeer) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  comeBack (ss58: string): void {
    for (const l of this.#listeners) l({ ss58, peerId: '12D3KooWx', netuids: [7], connectionId: 'c', remoteAddr: '/ip4/127.0.0.1', direction: 'inbound', authenticatedAt: 0, e2e: false })
  }
}

/**
 * AES-256-GCM from noble: the same construction as the WebCrypto cipher, but it settles
 * within the microtask queue, so the fake clock's flushes see every step of the worker.
 */
function syncCipher (key: Uint8Array): OutboxCipher {
  return {
    seal: async (plaintext, aad) => {
      const iv = new Uint8Array(12).map(() => Math.floor(Math.random() * 256))
      const c = gcm(key, iv, aad).encrypt(plaintext)
      const out = new Uint8Array(12 + c.byteLength)
      out.set(iv)
      out.set(c, 12)
      return out
    },
    open: async (sealed, aad) => gcm(key, sealed.subarray(0, 12), aad).decrypt(sealed.subarray(12))
  }
}

async function setup (init: ConstructorParameters<typeof Outbox>[1] = {}, store = new MemoryQueueStore(), webCrypto = false): Promise<{ outbox: Outbox, clock: FakeClock, transport: FakeTransport, store: MemoryQueueStore }> {
  const clock = new FakeClock()
  const transport = new FakeTransport(clock)
  const key = new Uint8Array(32).fill(9)
  const cipher = webCrypto ? await createOutboxCipher(key) : syncCipher(key)
  const outbox = new Outbox({ store, cipher, transport, clock }, { backoff: { baseMs: 1000, capMs: 8000 }, ...init })
  return { outbox, clock, transport, store }
}

const unreachable = (): Error => new PeerUnreachableError('offline')

describe('Outbox', () => {
  it('delivers FIFO per destination: a later item never overtakes an undelivered earlier one', async () => {
    const { outbox, clock, transport } = await setup()
    let offline = true
    transport.fail = (c) => c.dest === BOB && offline ? unreachable() : undefined
    await outbox.start()
    for (let i = 0; i < 5; i++) await outbox.enqueueMessage(BOB, 'n', i)
    await outbox.enqueueMessage(CHARLIE, 'n', 'c')
    await flush()
    assert.deepEqual(transport.delivered.map((c) => c.payload), ['c'], 'the other destination is not held up')
    assert.ok(transport.calls.filter((c) => c.dest === BOB).every((c) => c.payload === 0), 'only the head of Bob\'s queue is tried while it fails')
    offline = false
    await clock.advance(60_000)
    assert.deepEqual(transport.delivered.filter((c) => c.dest === BOB).map((c) => c.payload), [0, 1, 2, 3, 4])
    assert.equal((await outbox.list()).length, 0, 'delivered items left the outbox')
    await outbox.stop()
  })

  it('backs off exponentially with full jitter, capped, and never attempts early', async () => {
    const { outbox, clock, transport } = await setup()
    transport.fail = unreachable
    const delays: number[] = []
    outbox.on('queue:retry', ({ delayMs }) => delays.push(delayMs))
    await outbox.start()
    const t0 = clock.now()
    await outbox.enqueueMessage(BOB, 'x', 1)
    await flush()
    await clock.advance(40_000)
    // random() = 0.5: half of min(cap 8000, 1000 * 2^step)
    assert.deepEqual(delays.slice(0, 7), [500, 1000, 2000, 4000, 4000, 4000, 4000])
    const at = transport.calls.map((c) => c.at - t0)
    assert.deepEqual(at.slice(0, 6), [0, 500, 1500, 3500, 7500, 11500], 'each attempt happens exactly when its delay is over')
    assert.equal(backoffDelay(3, () => 0.999999, { baseMs: 1000, capMs: 8000 }), 7999)
    assert.equal(backoffDelay(60, () => 0.25, { baseMs: 1000, capMs: 8000 }), 2000, 'a large step stays at the cap')
    await outbox.stop()
  })

  it('retries at once, with the backoff reset, when the destination comes back', async () => {
    const { outbox, clock, transport } = await setup({ backoff: { baseMs: 60_000, capMs: 3_600_000 } })
    let offline = true
    transport.fail = () => offline ? unreachable() : undefined
    await outbox.start()
    await outbox.enqueueMessage(BOB, 'x', 1)
    await flush()
    await clock.advance(150_000)
    const before = transport.calls.length
    const [item] = await outbox.list()
    assert.ok(item !== undefined && item.nextAttemptAt - clock.now() > 10_000 && item.backoffStep >= 2, 'the item waits a long backoff')
    offline = false
    transport.comeBack(BOB)
    await flush()
    assert.equal(transport.calls.length, before + 1, 'a prompt attempt, without waiting for the backoff')
    assert.equal(transport.delivered.length, 1)
    await outbox.stop()
  })

  it('dead-letters after the maximum attempts, with the last error, and revives on retry', async () => {
    const { outbox, clock, transport } = await setup({ maxAttempts: 3 })
    transport.fail = unreachable
    await outbox.start()
    const id = await outbox.enqueueMessage(BOB, 'x', 1)
    const waiting = assert.rejects(outbox.waitFor(id), (e: Error) => e.name === 'DeadLetterError' && (e.cause as Error).name === 'MaxAttemptsError')
    await clock.advance(60_000)
    await waiting
    assert.equal(transport.calls.length, 3)
    const [dead] = await outbox.dead()
    assert.equal(dead?.id, id)
    assert.equal(dead?.lastError?.name, 'MaxAttemptsError')
    assert.match(dead?.lastError?.message ?? '', /PeerUnreachableError: offline/)
    assert.equal(dead?.label, 'x')
    assert.equal((await outbox.list()).length, 0)
    transport.fail = () => undefined
    assert.equal(await outbox.retry(id), 1)
    await flush()
    assert.equal(transport.delivered.length, 1, 'a dead item retried by hand is delivered')
    assert.equal((await outbox.dead()).length, 0)
    await outbox.stop()
  })

  it('dead-letters an expired item without sending it', async () => {
    const { outbox, clock, transport } = await setup({ expiryMs: 5_000 })
    transport.fail = unreachable
    await outbox.start()
    const id = await outbox.enqueueMessage(BOB, 'x', 1)
    const waiting = assert.rejects(outbox.waitFor(id), (e: Error) => (e.cause as Error).name === 'QueueExpiredError')
    await clock.advance(20_000)
    await waiting
    assert.ok(transport.calls.every((c) => c.at - transport.calls[0]!.at < 5_000), 'no attempt after the expiry')
    await outbox.stop()
  })

  it('dead-letters at once on an error retrying cannot fix', async () => {
    const { outbox, transport } = await setup()
    transport.fail = () => new SourceChangedError('changed')
    await outbox.start()
    const id = await outbox.enqueueMessage(BOB, 'x', 1)
    await assert.rejects(outbox.waitFor(id), (e: Error) => (e.cause as Error).name === 'SourceChangedError')
    assert.equal(transport.calls.length, 1)
    await outbox.stop()
  })

  it('retries a remote handler\'s InvalidConfigError instead of dead-lettering it as a local misconfiguration', async () => {
    const { outbox, transport, clock } = await setup()
    transport.fail = (call) => call.attempt === 1 ? errorFromWire(errorToWire(new InvalidConfigError('the remote is misconfigured'))) : undefined
    await outbox.start()
    const id = await outbox.enqueueMessage(BOB, 'x', 1)
    const waiting = outbox.waitFor(id)
    await clock.advance(10_000)
    await waiting
    assert.equal(transport.calls.length, 2, 'retried after the remote\'s config error')
    assert.equal((await outbox.dead()).length, 0)
    await outbox.stop()
  })

  it('dead-letters at once on a local InvalidConfigError and on a remote refusal it names', async () => {
    for (const make of [() => new InvalidConfigError('local'), () => errorFromWire(errorToWire(new AccessDeniedError('blocked there')))]) {
      const { outbox, transport } = await setup()
      const err = make()
      transport.fail = () => err
      await outbox.start()
      const id = await outbox.enqueueMessage(BOB, 'x', 1)
      await assert.rejects(outbox.waitFor(id), (e: Error) => (e.cause as Error).name === err.name)
      assert.equal(transport.calls.length, 1)
      assert.equal(isRemoteError(err), err.name === AccessDeniedError.name)
      await outbox.stop()
    }
  })

  it('dead-letters a receiver\'s own refusal (its policy) with the reason, and retries one that wraps a passing reason', async () => {
    const { outbox, transport, clock } = await setup()
    const remote = (e: Error): Error => errorFromWire(errorToWire(e))
    transport.fail = () => remote(new FileRefusedError('not from you today'))
    await outbox.start()
    const id = await outbox.enqueueMessage(BOB, 'x', 1)
    await assert.rejects(outbox.waitFor(id), (e: Error) => (e.cause as Error).name === FileRefusedError.name && (e.cause as Error).message === 'not from you today')
    assert.equal(transport.calls.length, 1, 'not retried')
    const [dead] = await outbox.dead()
    assert.deepEqual(dead?.lastError, { name: 'FileRefusedError', message: 'not from you today' })
    // the receiver still finishing the same file from an earlier connection: a refusal that passes
    transport.fail = (call) => call.attempt === 1 ? new FileRefusedError('TransferInProgressError: busy', { cause: remote(new TransferInProgressError()) }) : undefined
    const again = await outbox.enqueueMessage(BOB, 'y', 2)
    const delivered = outbox.waitFor(again)
    await clock.advance(10_000)
    await delivered
    assert.equal(transport.calls.filter((c) => c.action === 'y').length, 2, 'retried')
    await outbox.stop()
  })

  it('retries a refusal for lack of disk space no sooner than its retry-after, even when the receiver reconnects', async () => {
    const { outbox, transport, clock } = await setup()
    let full = true
    transport.fail = () => full ? errorFromWire(errorToWire(new InsufficientDiskSpaceError('Not enough free disk space for 3.0 GiB (this peer keeps 1.0 GiB free); try again later'))) : undefined
    const delays: number[] = []
    outbox.on('queue:retry', ({ delayMs }) => delays.push(delayMs))
    await outbox.start()
    const id = await outbox.enqueueMessage(BOB, 'x', 1)
    await flush()
    assert.equal(transport.calls.length, 1)
    assert.deepEqual(delays, [DISK_SPACE_RETRY_AFTER_MS], 'the backoff (500 ms here) gives way to the retry-after')
    assert.ok(DISK_SPACE_RETRY_AFTER_MS >= 60_000, 'minutes, not seconds')
    transport.comeBack(BOB)
    await clock.advance(DISK_SPACE_RETRY_AFTER_MS - 1)
    assert.equal(transport.calls.length, 1, 'neither a reconnect nor the backoff tries it early')
    assert.equal((await outbox.dead()).length, 0, 'not dead-lettered')
    full = false
    const delivered = outbox.waitFor(id)
    await clock.advance(1)
    await delivered
    assert.equal(transport.calls.length, 2)
    await outbox.stop()
  })

  it('lets only the lease holder deliver, and hands over when it stops', async () => {
    const store = new MemoryQueueStore()
    const a = await setup({}, store)
    const b = await setup({}, store)
    b.clock.t = a.clock.t
    await a.outbox.start()
    await b.outbox.start()
    assert.equal(a.outbox.delivering, true)
    assert.equal(b.outbox.delivering, false)
    await b.outbox.enqueueMessage(BOB, 'x', 1)
    await a.clock.advance(6000)
    assert.equal(a.transport.delivered.length, 1, 'the lease holder delivered an item the other one queued')
    assert.equal(b.transport.calls.length, 0)
    await a.outbox.stop()
    await b.outbox.enqueueMessage(BOB, 'x', 2)
    b.clock.t = a.clock.t
    await b.clock.advance(6000)
    assert.equal(b.outbox.delivering, true, 'after the holder stopped, the other takes the lease')
    assert.equal(b.transport.delivered.length, 1)
    await b.outbox.stop()
  })

  it('removes an item a crash left half-queued, and can drop one by hand', async () => {
    const { outbox, store, transport } = await setup()
    transport.fail = unreachable
    await store.add(sampleRecord('torn', BOB, { state: 'staging' }))
    await outbox.start()
    assert.equal(await store.get('torn'), undefined)
    const id = await outbox.enqueueMessage(BOB, 'x', 1)
    await outbox.drop(id)
    assert.equal((await outbox.list()).length, 0)
    await assert.rejects(outbox.drop(id), (e: Error) => e.name === 'QueueItemNotFoundError')
    await outbox.stop()
  })

  it('copies a source that cannot be re-read, sealed at rest (WebCrypto), and sends the same bytes', async () => {
    const { outbox, store, transport } = await setup({}, new MemoryQueueStore(), true)
    const data = new Uint8Array(300 * 1024).map((_, i) => (i * 7) & 0xff)
    const marker = new TextEncoder().encode('SECRET-MARKER-BYTES')
    data.set(marker, 1000)
    const source: FileSource = { name: 'weights.bin', size: data.byteLength, read: async (o, l) => data.slice(o, o + l) }
    transport.fail = unreachable
    await outbox.start()
    const id = await outbox.enqueueFile(BOB, source, { chunkSize: 64 * 1024 })
    const rec = await store.get(id)
    assert.ok(rec !== undefined)
    const chunk0 = await store.getChunk(id, 0)
    assert.ok(chunk0 !== undefined && chunk0.byteLength > 64 * 1024, 'chunks are stored')
    const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1')
    assert.ok(!text(chunk0).includes('SECRET-MARKER'), 'the stored copy is encrypted')
    assert.ok(!text(rec.sealed).includes('weights.bin'), 'the file name is sealed too')
    assert.throws(() => decodeValue(rec.sealed))
    transport.fail = () => undefined
    await outbox.retry(id)
    await outbox.waitFor(id)
    assert.deepEqual(transport.files[0]?.bytes, data, 'the bytes sent are the bytes queued')
    assert.equal(transport.files[0]?.options.manifest?.id, id, 'the transfer id is the item id')
    assert.equal(await store.getChunk(id, 0), undefined, 'the copy is gone once delivered')
    await outbox.stop()
  })

  it('joins a send of the same source to the same destination and subnet instead of queueing a copy', async () => {
    const { outbox, transport } = await setup()
    transport.fail = unreachable
    await outbox.start()
    const joined: string[] = []
    outbox.on('queue:joined', (v) => { joined.push(v.id) })
    const data = new Uint8Array(5000).map((_, i) => i & 0xff)
    const source = (name: string, bytes = data): FileSource => ({ name, size: bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) })
    const first = await outbox.enqueueFile(BOB, source('ckpt.bin'))
    assert.equal(await outbox.enqueueFile(BOB, source('ckpt.bin')), first, 'the same content and name joins')
    assert.deepEqual(joined, [first])
    assert.notEqual(await outbox.enqueueFile(CHARLIE, source('ckpt.bin')), first, 'another destination is another item')
    assert.notEqual(await outbox.enqueueFile(BOB, source('other.bin')), first, 'another name is another item')
    assert.notEqual(await outbox.enqueueFile(BOB, source('ckpt.bin', data.map((b) => b ^ 1))), first, 'other content is another item')
    assert.equal((await outbox.list()).length, 4)
    // a message with an explicit id is idempotent in the same way
    const m = await outbox.enqueueMessage(BOB, 'step', { i: 1 }, { id: 'step-1' })
    assert.equal(await outbox.enqueueMessage(BOB, 'step', { i: 1 }, { id: 'step-1' }), m)
    assert.equal((await outbox.list()).filter((v) => v.kind === 'message').length, 1)
    await outbox.stop()
  })

  it('tries a joined item at once, with the backoff reset: sending it again is a fresh look', async () => {
    const { outbox, clock, transport } = await setup({ backoff: { baseMs: 60_000, capMs: 3_600_000 } })
    transport.fail = unreachable
    await outbox.start()
    const id = await outbox.enqueueMessage(BOB, 'step', { i: 1 }, { id: 'step-1' })
    await flush()
    await clock.advance(150_000)
    const [waiting] = await outbox.list()
    assert.ok(waiting !== undefined && waiting.nextAttemptAt - clock.now() > 10_000, 'the item waits a long backoff')
    const before = transport.calls.length
    transport.fail = () => undefined
    const joined: number[] = []
    outbox.on('queue:joined', (v) => { joined.push(v.nextAttemptAt) })
    assert.equal(await outbox.enqueueMessage(BOB, 'step', { i: 1 }, { id: 'step-1' }), id)
    assert.deepEqual(joined, [clock.now()], 'the joined item is announced as due now')
    await flush()
    assert.equal(transport.calls.length, before + 1, 'an attempt at once, not after the backoff')
    assert.equal(transport.delivered.length, 1)
    await outbox.stop()
  })

  it('keeps its invariants under any interleaving of failures and returns (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ dest: fc.constantFrom(ALICE, BOB, CHARLIE), fails: fc.integer({ min: 0, max: 4 }) }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.constantFrom('advance', 'back', 'flush'), { maxLength: 20 }),
      async (items, steps) => {
        const { outbox, clock, transport } = await setup({ maxAttempts: 100 })
        const failuresLeft = new Map<string, number>()
        transport.fail = (c) => {
          const left = failuresLeft.get(c.id) ?? 0
          if (left > 0) { failuresLeft.set(c.id, left - 1); return unreachable() }
          return undefined
        }
        await outbox.start()
        const ids: string[] = []
        for (const [n, item] of items.entries()) {
          const id = await outbox.enqueueMessage(item.dest, 'p', n)
          failuresLeft.set(id, item.fails)
          ids.push(id)
        }
        for (const s of steps) {
          if (s === 'advance') await clock.advance(3000)
          else if (s === 'back') transport.comeBack(BOB)
          else await flush()
        }
        await clock.advance(600_000)
        await outbox.stop()
        // exactly once, each
        assert.deepEqual([...transport.delivered.map((c) => c.id)].sort(), [...ids].sort())
        // per destination, in queue order
        for (const dest of [ALICE, BOB, CHARLIE]) {
          const order = transport.delivered.filter((c) => c.dest === dest).map((c) => c.payload as number)
          assert.deepEqual(order, [...order].sort((a, b) => a - b))
        }
        // never two attempts of one destination at once, never an item before its predecessor was delivered
        for (const c of transport.calls) {
          const earlier = items.findIndex((it, n) => it.dest === c.dest && n < (c.payload as number) && !transport.delivered.some((d) => d.payload === n && d.at <= c.at))
          assert.equal(earlier, -1, `item ${String(c.payload)} was tried before an earlier item of the same destination was delivered`)
        }
      }), { numRuns: 40 })
  })
})
