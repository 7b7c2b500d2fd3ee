import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FanOut } from '../src/fanout/fanout.ts'
import type { ResolvedHotkey } from '@subwire/shared'

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never
const member = (ss58: string): ResolvedHotkey => ({ ss58, peerId: `peer-${ss58}`, multiaddrs: [], source: 'dht' })
/** Resolves after `ms`, or rejects with an AbortError when `signal` aborts first. */
async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(Object.assign(new Error('aborted'), { name: 'AbortError' })) }, { once: true })
  })
}

describe('fan-out over a streamed listing', () => {
  it('asks a member as soon as it is listed, not after the whole listing', async () => {
    const fan = new FanOut({
      members: async () => { throw new Error('the streamed listing should be used') },
      async * listMembers (_netuid, options) { yield member('A'); await sleep(1000, options.signal); yield member('B') },
      log
    })
    const t0 = performance.now()
    const at: Record<string, number> = {}
    const run = fan.run(7, async (ss58) => ss58, { timeout: 5000 })
    for await (const r of run) { assert.ok(r.ok); at[r.ss58] = performance.now() - t0 }
    assert.ok((at.A as number) < 500, `A answered at ${at.A} ms: it waited for the listing`)
    assert.ok((at.B as number) >= 1000, `B at ${at.B} ms`)
    const s = await run.summary
    assert.equal(s.members, 2)
    assert.equal(s.answered, 2)
  })

  it('a listing cut off at half the deadline still has what it found asked, and the fan-out ends in time', async () => {
    const fan = new FanOut({
      members: async () => [],
      async * listMembers (_netuid, options) { yield member('A'); await sleep(60_000, options.signal) },
      log
    })
    const t0 = performance.now()
    const run = fan.run(7, async (ss58) => ss58, { timeout: 1000 })
    const got = []
    for await (const r of run) got.push(r)
    const ms = performance.now() - t0
    assert.deepEqual(got.map((r) => [r.ss58, r.ok]), [['A', true]])
    assert.ok(ms < 1000, `the fan-out took ${ms} ms`)
    assert.equal((await run.summary).members, 1)
  })

  it('given members are asked as before, without a listing', async () => {
    const fan = new FanOut({ members: async () => [], async * listMembers () { throw new Error('not asked') }, log })
    const run = fan.run(7, async (ss58) => ss58, { timeout: 1000, members: ['X', 'Y'] })
    const got = []
    for await (const r of run) got.push(r.ss58)
    assert.deepEqual(got.sort(), ['X', 'Y'])
  })
})
