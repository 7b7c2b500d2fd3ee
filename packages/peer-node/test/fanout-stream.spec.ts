import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { isAbortError, RemoteHandlerError } from '@subwire/shared'
import { addrOf, startPeer } from './helpers.ts'
import type { FanOutResult } from '@subwire/shared'
import type { NodePeer } from '../src/index.ts'

/** A result with when it arrived (ms since the fan-out started) and what had happened by then. */
interface Arrival { r: FanOutResult, at: number, slowDone: boolean }

/**
 * Fan-out results stream: each member's result is yielded when that member answers, not
 * when the fan-out ends. Real peers over QUIC on 127.0.0.1: Bob answers at once, Charlie
 * after SLOW_MS, Dave's handler throws; Alice knows their addresses from her address book.
 */
describe('fan-out streams its results as each member answers (real peers)', () => {
  const SLOW_MS = 1200
  let alice: NodePeer
  let bob: NodePeer
  let charlie: NodePeer
  let dave: NodePeer
  let slowDone = false
  const slowAborted: Array<{ at: number }> = []

  before(async () => {
    const dht = false as const
    const start = async (uri: string): Promise<NodePeer> => await startPeer({ uri, transports: ['quic'], dht })
    ;[alice, bob, charlie, dave] = await Promise.all([start('//Alice'), start('//Bob'), start('//Charlie'), start('//Dave')])
    for (const p of [bob, charlie, dave]) {
      await alice.addressBook.put({ ss58: p.ss58, peerId: p.peerId, addrs: [addrOf(p, 'quic').split('/p2p/')[0] as string], updatedAt: Date.now() })
    }
    bob.handle('work', () => 'fast')
    charlie.handle('work', async (_body, ctx) => await new Promise((resolve, reject) => {
      const t = setTimeout(() => { slowDone = true; resolve('slow') }, SLOW_MS)
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); slowAborted.push({ at: Date.now() }); reject(new Error('cancelled')) }, { once: true })
    }))
    dave.handle('work', () => { throw new Error('dave cannot') })
    bob.handle('chunks', async function * () { yield 1; yield 2 })
    charlie.handle('chunks', async function * () { yield 'a'; await new Promise((resolve) => setTimeout(resolve, SLOW_MS)); yield 'b' })
    // sessions first, so the timings below measure answers, not handshakes
    for (const p of [bob, charlie, dave]) await alice.request(p.ss58, 'echo', 0, { timeout: 5000 })
  })

  after(async () => {
    for (const p of [alice, bob, charlie, dave]) await (p as NodePeer | undefined)?.stop()
  })

  const members = (): string[] => [charlie.ss58, bob.ss58, dave.ss58]

  async function arrivals (type: string, options: { signal?: AbortSignal, stream?: boolean } = {}): Promise<Arrival[]> {
    slowDone = false
    const out: Arrival[] = []
    const t0 = Date.now()
    for await (const r of alice.querySubnet(42, type, null, { timeout: 8000, members: members(), ...options })) out.push({ r, at: Date.now() - t0, slowDone })
    return out
  }

  it('yields a fast member\'s result while a slow one is still working, and the slow one\'s when it answers', async () => {
    const fan = alice.querySubnet(42, 'work', null, { timeout: 8000, members: members() })
    slowDone = false
    const t0 = Date.now()
    const got: Arrival[] = []
    let summaryAt = -1
    void fan.summary.then(() => { summaryAt = Date.now() - t0 })
    for await (const r of fan) got.push({ r, at: Date.now() - t0, slowDone })
    const by = new Map(got.map((a) => [a.r.ss58, a]))
    const fast = by.get(bob.ss58)
    const slow = by.get(charlie.ss58)
    assert.ok(fast?.r.ok === true && fast.r.body === 'fast', JSON.stringify(fast))
    assert.ok(slow?.r.ok === true && slow.r.body === 'slow', JSON.stringify(slow))
    // streamed: Bob's result came while Charlie was still working, well before Charlie's
    assert.equal(fast.slowDone, false, 'Bob\'s result waited for Charlie')
    assert.ok(got.indexOf(fast) < got.indexOf(slow))
    // and Charlie's when he answered, not at the 8 s deadline (bounds loose: a loaded machine is slow, never early)
    assert.ok(slow.at >= SLOW_MS - 50 && slow.at < SLOW_MS + 4000, `Charlie's result arrived after ${slow.at} ms`)
    const summary = await fan.summary
    assert.ok(summaryAt >= slow.at - 5, 'the summary came before the last result')
    assert.equal(summary.members, 3)
    assert.equal(summary.answered, 2)
  })

  it('reports the one failing member as a typed failure and the others as answers', async () => {
    const got = await arrivals('work')
    assert.equal(got.length, 3)
    const failed = got.filter((a) => !a.r.ok)
    assert.equal(failed.length, 1)
    const d = failed[0]?.r
    assert.ok(d !== undefined && !d.ok && d.ss58 === dave.ss58)
    assert.equal(d.reason, 'handler')
    assert.equal(d.error.name, RemoteHandlerError.name)
    assert.match(d.error.message, /dave cannot/)
    // Dave's failure is streamed too: it did not wait for Charlie
    assert.equal(got.find((a) => a.r.ss58 === dave.ss58)?.slowDone, false)
    assert.deepEqual(got.filter((a) => a.r.ok).map((a) => a.r.ss58).sort(), [bob.ss58, charlie.ss58].sort())
  })

  it('collects streamed replies per member (stream: true), each member\'s chunks when it ends', async () => {
    const got = await arrivals('chunks', { stream: true })
    const by = new Map(got.map((a) => [a.r.ss58, a]))
    assert.deepEqual(by.get(bob.ss58)?.r, { ...by.get(bob.ss58)?.r, ok: true, body: [1, 2] })
    assert.deepEqual(by.get(charlie.ss58)?.r, { ...by.get(charlie.ss58)?.r, ok: true, body: ['a', 'b'] })
    assert.ok((by.get(bob.ss58)?.at ?? Infinity) < SLOW_MS / 2, 'Bob\'s chunks waited for Charlie\'s')
    assert.ok((by.get(charlie.ss58)?.at ?? 0) >= SLOW_MS - 50)
    // Dave has no 'chunks' handler: a typed refusal, not a hole in the results
    const d = by.get(dave.ss58)?.r
    assert.ok(d !== undefined && !d.ok && d.reason === 'refused' && d.error.name === 'UnknownRpcTypeError', JSON.stringify(d))
  })

  it('cancelling with { signal } ends the fan-out at once and cancels the outstanding request at the member', async () => {
    slowAborted.length = 0
    const controller = new AbortController()
    const t0 = Date.now()
    const got: Arrival[] = []
    const fan = alice.querySubnet(42, 'work', null, { timeout: 8000, members: members(), signal: controller.signal })
    let abortedAt = -1
    await assert.rejects((async () => {
      for await (const r of fan) {
        got.push({ r, at: Date.now() - t0, slowDone })
        if (r.ss58 === bob.ss58) { abortedAt = Date.now(); controller.abort() }
      }
    })(), (err: Error) => isAbortError(err))
    const ended = Date.now()
    assert.ok(abortedAt > 0, 'Bob never answered')
    assert.ok(ended - abortedAt < 1000, `the fan-out ran on ${ended - abortedAt} ms after the abort (Charlie would answer ${SLOW_MS} ms after he was asked)`)
    await assert.rejects(fan.summary, (err: Error) => isAbortError(err))
    // Charlie's handler saw the cancel (a Cancel frame aborts its signal) long before it would have answered
    const deadline = Date.now() + 2000
    while (slowAborted.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(slowAborted.length, 1, 'Charlie\'s handler was not cancelled')
    assert.ok((slowAborted[0]?.at ?? Infinity) - abortedAt < 1000)
    assert.equal(slowDone, false)
    assert.ok(!got.some((a) => a.r.ss58 === charlie.ss58 && a.r.ok), 'Charlie answered despite the cancel')
  })

  it('stopping the iteration early (break) cancels the outstanding requests too', async () => {
    slowAborted.length = 0
    slowDone = false
    let brokeAt = -1
    for await (const r of alice.querySubnet(42, 'work', null, { timeout: 8000, members: [charlie.ss58, bob.ss58] })) {
      if (r.ss58 === bob.ss58) { brokeAt = Date.now(); break }
    }
    assert.ok(brokeAt > 0)
    const deadline = Date.now() + 2000
    while (slowAborted.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(slowAborted.length, 1, 'Charlie\'s handler was not cancelled after the break')
    assert.equal(slowDone, false)
  })
})
