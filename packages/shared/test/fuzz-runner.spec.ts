import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

// The coverage-guided runner itself (`npm run fuzz`): a bug planted behind four nested
// byte checks is out of reach of blind mutation in the budget (1 in 2^32 per input) and
// must be found through coverage feedback, batched samples included; the finding is
// written and the run exits 1, and the same seed finds the same input again (every
// mutation comes from the seeded generator). Then --execs bounds a clean run exactly.
const RUN = new URL('./fuzz/run.ts', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'subwire-fuzz-runner-'))
after(() => { rmSync(dir, { recursive: true, force: true }) })

const planted = `
class TypedFailure extends Error { name = 'InvalidFrameError' }
export const targets = [{
  name: 'planted',
  seeds: async () => [Uint8Array.of(0, 0, 0, 0, 0, 0)],
  run: (input) => {
    if (input.byteLength < 4) throw new TypedFailure('short')
    if (input[0] === 0x53) {
      if (input[1] === 0x57) {
        if (input[2] === 0x49) {
          if (input[3] === 0x52) throw new TypeError('planted bug reached')
        }
      }
    }
  }
}]
`
const clean = `export const targets = [{ name: 'clean', seeds: async () => [Uint8Array.of(1, 2, 3)], run: (input) => input.byteLength }]`

function fuzz (module: string, args: string[], findings = join(dir, 'findings')): { status: number | null, out: string } {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.mjs`)
  writeFileSync(path, module)
  const r = spawnSync(process.execPath, [RUN, '--module', path, '--findings', findings, '--seed', '12345', ...args], { encoding: 'utf8', timeout: 110_000 })
  return { status: r.status, out: r.stdout + r.stderr }
}

describe('the coverage-guided fuzz runner', () => {
  it('finds a bug behind four nested byte checks by coverage, writes the input and exits 1', () => {
    // seed 12345 reaches it after ~243,000 inputs; blind mutation would need ~4 billion
    const r = fuzz(planted, ['--execs', '1000000', '--json', join(dir, 'planted.json')])
    assert.equal(r.status, 1, r.out)
    assert.match(r.out, /planted: TypeError: planted bug reached/)
    const found = readdirSync(join(dir, 'findings')).filter((f) => f.startsWith('planted-'))
    assert.equal(found.length, 1)
    const input = readFileSync(join(dir, 'findings', found[0] as string))
    assert.deepEqual([...input.subarray(0, 4)], [0x53, 0x57, 0x49, 0x52])
    const report = JSON.parse(readFileSync(join(dir, 'planted.json'), 'utf8')) as { rows: Array<{ execs: number, samples: number }> }
    const row = report.rows[0] as { execs: number, samples: number }
    // coverage was sampled (else it was luck), and fewer times than inputs ran (batched)
    assert.ok(row.samples > 4 && row.samples < row.execs, JSON.stringify(row))
    // --seed replays: the same seed finds the same input
    const again = fuzz(planted, ['--execs', '1000000'], join(dir, 'findings-again'))
    assert.equal(again.status, 1, again.out)
    assert.deepEqual(readdirSync(join(dir, 'findings-again')), found)
  })

  it('runs exactly --execs inputs on a target without findings and batches its coverage samples', () => {
    const r = fuzz(clean, ['--execs', '20000', '--json', join(dir, 'clean.json')])
    assert.equal(r.status, 0, r.out)
    const row = (JSON.parse(readFileSync(join(dir, 'clean.json'), 'utf8')) as { rows: Array<{ execs: number, samples: number }> }).rows[0] as { execs: number, samples: number }
    assert.equal(row.execs, 20000)
    assert.ok(row.samples < 2000, `${row.samples} coverage samples for 20,000 inputs`)
    assert.match(r.out, /no findings \(1 targets, 20000 inputs each\)/)
  })
})
