/**
 * Fair handler turns ({@link FairScheduler}): a free turn is given at once; when every
 * turn is taken, callers are served in rotation, one request each; a waiter whose signal
 * aborts leaves its queue with the signal's reason.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FairScheduler } from '../src/rpc/scheduler.ts'

describe('fair handler turns', () => {
  it('gives a free turn synchronously, and counts it until released (once)', () => {
    const s = new FairScheduler({ maxRunning: 2 })
    const a = s.acquire('alice')
    const b = s.acquire('alice')
    assert.equal(typeof a, 'function')
    assert.equal(typeof b, 'function')
    assert.equal(s.running, 2)
    ;(a as () => void)()
    ;(a as () => void)() // a second release changes nothing
    assert.equal(s.running, 1)
  })

  it('serves waiting callers in rotation, one request each, whatever their backlog', async () => {
    const s = new FairScheduler({ maxRunning: 1 })
    const first = s.acquire('eve') as () => void
    const order: string[] = []
    const waits: Array<Promise<void>> = []
    // eve queues 5 first, then alice and bob one each
    for (let i = 0; i < 5; i++) waits.push((s.acquire('eve') as Promise<() => void>).then((release) => { order.push(`eve${i}`); release() }))
    waits.push((s.acquire('alice') as Promise<() => void>).then((release) => { order.push('alice'); release() }))
    waits.push((s.acquire('bob') as Promise<() => void>).then((release) => { order.push('bob'); release() }))
    assert.equal(s.waiting, 7)
    first()
    await Promise.all(waits)
    // eve gets one turn, then alice and bob, then eve's rest: alice and bob are not behind eve's backlog
    assert.deepEqual(order, ['eve0', 'alice', 'bob', 'eve1', 'eve2', 'eve3', 'eve4'])
    assert.equal(s.running, 0)
    assert.equal(s.waiting, 0)
  })

  it('drops a waiter whose signal aborts, with its reason, and keeps the rotation', async () => {
    const s = new FairScheduler({ maxRunning: 1 })
    const first = s.acquire('eve') as () => void
    const controller = new AbortController()
    const gone = s.acquire('alice', { signal: controller.signal }) as Promise<() => void>
    const next = s.acquire('bob') as Promise<() => void>
    const reason = new Error('cancelled by the caller')
    controller.abort(reason)
    await assert.rejects(gone, (e) => e === reason)
    assert.equal(s.waiting, 1)
    first()
    const release = await next
    assert.equal(s.running, 1)
    release()
    // an already aborted signal is refused at once when it would have to wait
    const busy = s.acquire('eve') as () => void
    await assert.rejects(s.acquire('alice', { signal: AbortSignal.abort(reason) }) as Promise<unknown>, (e) => e === reason)
    busy()
  })

  it('takes a limit below 1 as 1, not as 0 (which would never give a turn)', () => {
    const s = new FairScheduler({ maxRunning: 0.5 })
    assert.equal(typeof s.acquire('alice'), 'function')
    assert.ok(s.acquire('bob') instanceof Promise)
  })

  it('starts nobody ahead of those waiting, even when a turn is free', async () => {
    const s = new FairScheduler({ maxRunning: 1 })
    const first = s.acquire('eve') as () => void
    const waiting = s.acquire('alice') as Promise<() => void>
    first()
    // alice holds the turn now; a newcomer waits behind her instead of taking a turn synchronously
    const late = s.acquire('bob')
    assert.ok(late instanceof Promise)
    ;(await waiting)()
    ;(await late)()
    assert.equal(s.running, 0)
  })
})
