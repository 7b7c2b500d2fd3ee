import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { webTransportTargets } from './fuzz-targets.ts'

// The WebTransport listener's decoders under fast-check (as packages/shared/test/fuzz.spec.ts
// does for the shared ones): random bytes and corruptions of valid seeds; each succeeds,
// asks for more bytes or throws a typed error. `npm run fuzz` runs them coverage-guided.
describe('WebTransport decoders under random input (property)', () => {
  for (const target of webTransportTargets) {
    it(`${target.name}: succeeds or throws a typed error, never anything else`, async () => {
      const seeds = await target.seeds()
      const corrupted = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }))
        .map(([seed, edits]) => {
          const out = Uint8Array.from(seed)
          for (const [at, v] of edits) if (out.byteLength > 0) out[at % out.byteLength] = v
          return out
        })
      await fc.assert(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 64 }), corrupted), async (input) => {
        try {
          await target.run(input)
        } catch (err) {
          assert.ok(target.isTyped?.(err) === true, `${target.name} threw an untyped ${(err as Error).name}: ${(err as Error).message}`)
        }
      }), { numRuns: 500 })
    })
  }
})
