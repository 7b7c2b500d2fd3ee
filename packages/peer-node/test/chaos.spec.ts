/**
 * A short pass of the chaos harness (`npm run chaos`, bench/chaos.ts): two `subwire listen`
 * processes exchange files, queued messages and RPCs while one side's process group is
 * killed with SIGKILL at random moments and restarted. The harness decides; here we
 * assert its verdict and that the run did what it says (kills, files, messages, RPCs).
 * About 80 s of CPU over all its processes; 4.4 min wall on a 2-core machine at load 33.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'

const HARNESS = new URL('../../../bench/chaos.ts', import.meta.url).pathname

interface ChaosResult {
  passed: boolean
  problems: string[]
  counts: { kills: number, filesQueued: number, filesArrived: number, messagesQueued: number, messagesReceived: number, messagesDuplicated: number, rpcOk: number, rpcWrong: number }
}

describe('chaos (kill -9 at random moments)', () => {
  it('loses no file or message and delivers none twice while both sides are killed and restarted', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subwire-chaos-spec-'))
    const out = join(dir, 'result.json')
    try {
      const code = await new Promise<number | null>((resolve) => {
        const p = spawn(process.execPath, [HARNESS, '--kills', '5', '--max-mib', '16', '--seed', '20', '--min-gap', '500', '--max-gap', '3000', '--drain-timeout', '120', '--quiet', '--out', out], { stdio: ['ignore', 'pipe', 'inherit'] })
        let stdout = ''
        p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
        p.on('close', (c) => { if (c !== 0) process.stderr.write(stdout); resolve(c) })
      })
      const result = JSON.parse(await readFile(out, 'utf8')) as ChaosResult
      assert.deepEqual(result.problems, [])
      assert.equal(result.passed, true)
      assert.equal(code, 0)
      const c = result.counts
      assert.equal(c.kills, 5)
      assert.ok(c.filesQueued > 0 && c.filesArrived === c.filesQueued, `files ${c.filesArrived}/${c.filesQueued}`)
      assert.ok(c.messagesQueued > 0 && c.messagesReceived === c.messagesQueued, `messages ${c.messagesReceived}/${c.messagesQueued}`)
      assert.equal(c.messagesDuplicated, 0)
      assert.equal(c.rpcWrong, 0)
      assert.ok(c.rpcOk > 0, 'some RPCs were answered')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
