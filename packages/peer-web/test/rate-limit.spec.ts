// The upload limit: a pacer shared by every upload, on the reads of the sending pass.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LimitedFileSource, UploadLimiter } from '../src/rate-limit.ts'
import type { FileSource } from '@subwire/shared'

const MiB = 1024 * 1024

function memorySource (size: number): FileSource {
  return { name: 'm', size, read: async (offset, length) => new Uint8Array(length).fill(offset % 251) }
}

describe('UploadLimiter', () => {
  it('lets reads through at once when there is no limit', async () => {
    const limiter = new UploadLimiter()
    const started = performance.now()
    for (let i = 0; i < 64; i++) await limiter.take(MiB)
    assert.ok(performance.now() - started < 100)
  })

  it('paces reads of a limited source to the limit (4 MiB at 8 MiB/s takes at least 375 ms)', async () => {
    const limiter = new UploadLimiter()
    limiter.bytesPerSecond = 8 * MiB
    const source = new LimitedFileSource(memorySource(4 * MiB), limiter)
    const started = performance.now()
    for (let o = 0; o < source.size; o += MiB / 2) assert.equal((await source.read(o, MiB / 2)).byteLength, MiB / 2)
    const ms = performance.now() - started
    assert.ok(ms >= 375 && ms < 2000, `took ${ms.toFixed(0)} ms`)
  })

  it('shares one budget across uploads running at once', async () => {
    const limiter = new UploadLimiter()
    limiter.bytesPerSecond = 4 * MiB
    const started = performance.now()
    await Promise.all([0, 1].map(async () => { for (let i = 0; i < 4; i++) await limiter.take(MiB / 4) }))
    const ms = performance.now() - started
    assert.ok(ms >= 400, `2 MiB at 4 MiB/s took only ${ms.toFixed(0)} ms`)
  })

  it('gives up a wait when the signal aborts', async () => {
    const limiter = new UploadLimiter()
    limiter.bytesPerSecond = 1024
    await limiter.take(1024)
    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 20)
    await assert.rejects(limiter.take(1024, { signal: controller.signal }), { name: 'OperationAbortedError' })
  })

  it('refuses a limit that is not a number of bytes per second', () => {
    assert.throws(() => { new UploadLimiter().bytesPerSecond = -1 }, { name: 'InvalidConfigError' })
    assert.throws(() => { new UploadLimiter().bytesPerSecond = Number.NaN }, { name: 'InvalidConfigError' })
  })
})
