/**
 * The compliance suite every {@link QueueStore} body must pass (memory, SQLite, IndexedDB).
 * Runner-agnostic: pass `describe`/`it` of your test runner (node:test, or the small
 * runner the browser page uses) and a factory for fresh stores.
 *
 * @packageDocumentation
 */
import type { OutboxRecord, QueueStore } from '../outbox/store.ts'
import type { SuiteRunner } from './address-book-suite.ts'

/** Creates a fresh, empty store; `reopen` (durable bodies) opens the same storage again after `close()`. */
export interface QueueStoreFactory {
  create: () => Promise<{ store: QueueStore, reopen?: () => Promise<QueueStore>, cleanup?: () => Promise<void> }>
}

function check (ok: boolean, message: string): void {
  if (!ok) throw new Error(`queue store compliance: ${message}`)
}

/** Pseudo-random bytes of any length (getRandomValues takes at most 64 KiB at once). */
function bytes (n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}

function same (a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** A record as a test would queue it. */
export function sampleRecord (id: string, dest = '5dest', over: Partial<OutboxRecord> = {}): Omit<OutboxRecord, 'seq'> {
  return {
    id,
    dest,
    kind: 'message',
    state: 'pending',
    netuid: 7,
    size: 3,
    createdAt: 1_700_000_000_000,
    expiresAt: 1_700_000_000_000 + 3_600_000,
    attempts: 0,
    backoffStep: 0,
    nextAttemptAt: 1_700_000_000_000,
    lastError: undefined,
    progress: 0,
    sealed: new Uint8Array([1, 2, 3, id.length]),
    ...over
  }
}

type WithStore = (fn: (ctx: Awaited<ReturnType<QueueStoreFactory['create']>>) => Promise<void>) => () => Promise<void>

/** Registers the suite. */
export function queueStoreSuite (name: string, factory: QueueStoreFactory, runner: SuiteRunner): void {
  runner.describe(`QueueStore compliance: ${name}`, () => {
    const withStore: WithStore = (fn) => async () => {
      const ctx = await factory.create()
      try { await fn(ctx) } finally { await ctx.cleanup?.() }
    }
    records(runner, withStore)
    chunksLeasesDeliveries(runner, withStore)
    concurrencyAndDurability(runner, withStore)
  })
}

/** The cases of the records: adding, listing, reading and updating. */
function records (runner: SuiteRunner, withStore: WithStore): void {
  runner.it('starts empty', withStore(async ({ store }) => {
    check((await store.list()).length === 0, 'a new store lists nothing')
    check(await store.get('nope') === undefined, 'get of an unknown id is undefined')
    check(await store.getChunk('nope', 0) === undefined, 'getChunk of an unknown item is undefined')
  }))

  runner.it('assigns increasing seqs and lists in seq order, filtered by state and destination', withStore(async ({ store }) => {
    const a = await store.add(sampleRecord('a', '5x'))
    const b = await store.add(sampleRecord('b', '5y'))
    const c = await store.add(sampleRecord('c', '5x', { state: 'dead' }))
    check(a < b && b < c, `seqs increase (${a}, ${b}, ${c})`)
    check((await store.list()).map((e) => e.id).join() === 'a,b,c', 'list is in seq order')
    check((await store.list({ state: 'pending' })).map((e) => e.id).join() === 'a,b', 'state filter')
    check((await store.list({ dest: '5x' })).map((e) => e.id).join() === 'a,c', 'dest filter')
    check((await store.list({ dest: '5x', state: 'dead' })).map((e) => e.id).join() === 'c', 'both filters')
    const listed = (await store.list())[0] as unknown as Record<string, unknown>
    check(!('sealed' in listed) || listed.sealed === undefined, 'list leaves the payload out')
  }))

  runner.it('keeps every field of a record, payload bytes included', withStore(async ({ store }) => {
    const r = sampleRecord('full', '/ip4/127.0.0.1/udp/1/quic-v1/p2p/12D3KooWabc', { kind: 'file', size: 2 ** 40, lastError: { name: 'PeerUnreachableError', message: 'gone' }, progress: 12345, sealed: bytes(70_000, 7) })
    const seq = await store.add(r)
    const got = await store.get('full')
    check(got !== undefined, 'the record is there')
    check(got?.seq === seq, 'seq is the one add returned')
    for (const k of ['id', 'dest', 'kind', 'state', 'netuid', 'size', 'createdAt', 'expiresAt', 'attempts', 'backoffStep', 'nextAttemptAt', 'progress'] as const) {
      check(got?.[k] === r[k], `field ${k} round-trips (${String(got?.[k])} vs ${String(r[k])})`)
    }
    check(got?.lastError?.name === 'PeerUnreachableError' && got.lastError.message === 'gone', 'lastError round-trips')
    check(same(got?.sealed, r.sealed), 'the sealed payload round-trips byte for byte')
  }))

  runner.it('refuses a duplicate id with QueueItemExistsError', withStore(async ({ store }) => {
    await store.add(sampleRecord('dup'))
    let name = ''
    try { await store.add(sampleRecord('dup', '5other')) } catch (err) { name = (err as Error).name }
    check(name === 'QueueItemExistsError', `a duplicate add throws QueueItemExistsError (got ${name || 'nothing'})`)
    check((await store.get('dup'))?.dest === '5dest', 'the first record is untouched')
  }))

  runner.it('updates only the fields given, and clears lastError when asked', withStore(async ({ store }) => {
    await store.add(sampleRecord('u'))
    check(await store.update('u', { attempts: 3, backoffStep: 2, nextAttemptAt: 42, lastError: { name: 'E', message: 'm' } }), 'update of an existing item is true')
    let got = await store.get('u')
    check(got?.attempts === 3 && got.backoffStep === 2 && got.nextAttemptAt === 42 && got.lastError?.name === 'E', 'patched fields changed')
    check(got?.state === 'pending' && got.dest === '5dest' && same(got.sealed, sampleRecord('u').sealed), 'other fields kept')
    await store.update('u', { state: 'dead', expiresAt: 99 })
    got = await store.get('u')
    check(got?.state === 'dead' && got.expiresAt === 99 && got.lastError?.name === 'E', 'state and expiry patched, lastError kept')
    await store.update('u', { lastError: undefined })
    check((await store.get('u'))?.lastError === undefined, 'lastError cleared')
    check(!(await store.update('missing', { attempts: 1 })), 'update of a missing item is false')
  }))
}

/** The cases of chunks, copies, the lease and the delivery log. */
function chunksLeasesDeliveries (runner: SuiteRunner, withStore: WithStore): void {
  runner.it('stores chunks and removes them with their item', withStore(async ({ store }) => {
    await store.add(sampleRecord('f', '5dest', { kind: 'file', state: 'staging' }))
    const big = bytes(1024 * 1024 + 28, 3)
    await store.putChunk('f', 0, big)
    await store.putChunk('f', 1, new Uint8Array([9]))
    check(same(await store.getChunk('f', 0), big), 'a 1 MiB chunk round-trips')
    check(same(await store.getChunk('f', 1), new Uint8Array([9])), 'a small chunk round-trips')
    check(await store.getChunk('f', 2) === undefined, 'a missing chunk is undefined')
    check(await store.remove('f'), 'remove of an existing item is true')
    check(await store.get('f') === undefined, 'the item is gone')
    check(await store.getChunk('f', 0) === undefined, 'its chunks are gone')
    check(!(await store.remove('f')), 'remove of a missing item is false')
  }))

  runner.it('hands out copies, never its own objects', withStore(async ({ store }) => {
    const r = sampleRecord('c')
    await store.add(r)
    r.sealed[0] = 200
    const got = await store.get('c')
    check(got?.sealed[0] === 1, 'mutating the added payload does not change the store')
    if (got !== undefined) { got.sealed[0] = 201; got.attempts = 99 }
    const again = await store.get('c')
    check(again?.sealed[0] === 1 && again.attempts === 0, 'mutating a returned record does not change the store')
  }))

  runner.it('gives the lease to one owner at a time, and to another once it lapses or is released', withStore(async ({ store }) => {
    const t = 1_000_000
    check(await store.lease('A', 1000, t), 'A takes a free lease')
    check(!(await store.lease('B', 1000, t + 500)), 'B is refused while A holds it')
    check(await store.lease('A', 1000, t + 900), 'A renews its own lease')
    check(!(await store.lease('B', 1000, t + 1500)), 'the renewal extended it past t+1500')
    check(await store.lease('B', 1000, t + 2000), 'B takes it once it lapsed')
    check(!(await store.lease('A', 1000, t + 2100)), 'now A is refused')
    await store.releaseLease('A')
    check(!(await store.lease('A', 1000, t + 2200)), 'releasing a lease one does not hold changes nothing')
    await store.releaseLease('B')
    check(await store.lease('A', 1000, t + 2300), 'after B released it, A takes it')
  }))

  runner.it('records deliveries per sender and prunes old ones', withStore(async ({ store }) => {
    await store.markDelivered('5alice', 'm:1', 100)
    await store.markDelivered('5alice', 'm:2', 300)
    check(await store.wasDelivered('5alice', 'm:1'), 'a recorded delivery is found')
    check(!(await store.wasDelivered('5bob', 'm:1')), 'the same id from another sender is not')
    check(!(await store.wasDelivered('5alice', 'm:3')), 'an unknown id is not')
    await store.markDelivered('5alice', 'm:1', 100)
    check(await store.pruneDelivered(200) === 1, 'pruning before 200 forgets one')
    check(!(await store.wasDelivered('5alice', 'm:1')) && await store.wasDelivered('5alice', 'm:2'), 'the old one is forgotten, the new one kept')
  }))
}

/** The cases of concurrent adds and reopening. */
function concurrencyAndDurability (runner: SuiteRunner, withStore: WithStore): void {
  runner.it('assigns distinct seqs to concurrent adds', withStore(async ({ store }) => {
    const seqs = await Promise.all(Array.from({ length: 25 }, async (_, i) => await store.add(sampleRecord(`p${i}`))))
    check(new Set(seqs).size === 25, 'every concurrent add got its own seq')
    check((await store.list()).length === 25, 'all 25 are listed')
  }))

  runner.it('keeps items, chunks, deliveries and seq order when reopened (durable bodies)', withStore(async ({ store, reopen }) => {
    if (reopen === undefined) return
    const first = await store.add(sampleRecord('d1'))
    await store.add(sampleRecord('d2', '5dest', { kind: 'file' }))
    await store.putChunk('d2', 0, new Uint8Array([7, 7]))
    await store.update('d1', { attempts: 5, lastError: { name: 'PeerUnreachableError', message: 'x' } })
    await store.markDelivered('5s', 'f:9', Date.now())
    await store.remove('d1')
    await store.close()
    const again = await reopen()
    try {
      check((await again.list()).map((e) => e.id).join() === 'd2', 'the surviving item is there')
      check(same(await again.getChunk('d2', 0), new Uint8Array([7, 7])), 'its chunk is there')
      check(await again.wasDelivered('5s', 'f:9'), 'the delivery log survived')
      const next = await again.add(sampleRecord('d3'))
      check(next > first + 1, `seq keeps increasing after a reopen (never reuses ${first}): got ${next}`)
    } finally {
      await again.close()
    }
  }))
}
