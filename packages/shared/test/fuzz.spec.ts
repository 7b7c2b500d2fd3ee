import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isTypedError, targets } from './fuzz/targets.ts'

// The same targets as the coverage-guided `npm run fuzz`, driven by fast-check: random
// bytes, and random corruptions of each target's valid seeds.
describe('decoders under random input (property)', () => {
  for (const target of targets) {
    it(`${target.name}: succeeds or throws a typed subwire error, never anything else`, async () => {
      const seeds = await target.seeds()
      const corrupted = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat())
        .map(([seed, edits, cut]) => {
          const out = Uint8Array.from(seed)
          for (const [at, v] of edits) if (out.byteLength > 0) out[at % out.byteLength] = v
          return cut % 3 === 0 ? out.subarray(0, cut % (out.byteLength + 1)) : out
        })
      await fc.assert(fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 512 }), corrupted), async (input) => {
        try {
          await target.run(input)
        } catch (err) {
          assert.ok(isTypedError(err), `${target.name} threw an untyped ${(err as Error).name}: ${(err as Error).message}`)
        }
      }), { numRuns: 300 })
    })
  }
})
