// `subwire query --subnet` prints one line per member as that member answers: a fast
// member's line reaches stdout while a slow one is still working, then the slow one's,
// then the summary. The members are real in-process peers; the CLI is a one-shot process
// that finds them through the DHT from its home's bootstrap peer.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { readConfig, writeConfig } from '../src/index.ts'
import { addrOf, BIN, startPeer, tempDir, waitFor } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'

const SLOW_MS = 2500

describe('subwire query --subnet streams a line per member as it answers', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: NodePeer
  let charlie: NodePeer
  let charlieDone = 0

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-cli-fanout-'))
    bob = await startPeer({ uri: '//Bob', transports: ['quic'] })
    charlie = await startPeer({ uri: '//Charlie', transports: ['quic'], bootstrap: [addrOf(bob, 'quic')] })
    bob.handle('work', () => 'fast')
    charlie.handle('work', async () => await new Promise((resolve) => setTimeout(() => { charlieDone = Date.now(); resolve('slow') }, SLOW_MS)))
    await waitFor(async () => (await bob.members(42, { signal: AbortSignal.timeout(3000) })).some((m) => m.ss58 === charlie.ss58), 30_000, 'Charlie in the DHT')
    const r = spawnSync(process.execPath, [BIN, '--home', join(dir, 'alice'), 'init', '--hotkey-uri', '//Alice', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    await writeConfig(join(dir, 'alice'), { ...(await readConfig(join(dir, 'alice'))), bootstrap: [addrOf(bob, 'quic')] })
  })

  after(async () => {
    await charlie?.stop()
    await bob?.stop()
    await cleanup?.()
  })

  it('prints Bob\'s line before Charlie has answered, Charlie\'s when he does, then the summary', async () => {
    const child = spawn(process.execPath, [BIN, '--home', join(dir, 'alice'), 'query', '--subnet', '42', 'work', 'null', '--timeout', '12s', '--json'])
    const lines: Array<{ at: number, line: Record<string, unknown> }> = []
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    createInterface({ input: child.stdout }).on('line', (l) => { if (l.startsWith('{')) lines.push({ at: Date.now(), line: JSON.parse(l) as Record<string, unknown> }) })
    const code = await new Promise<number | null>((resolve) => { child.on('exit', resolve) })
    assert.equal(code, 0, stderr)
    const b = lines.find((l) => l.line.ss58 === bob.ss58)
    const c = lines.find((l) => l.line.ss58 === charlie.ss58)
    const s = lines.find((l) => l.line.summary === true)
    assert.ok(b?.line.ok === true && b.line.body === 'fast', JSON.stringify(lines))
    assert.ok(c?.line.ok === true && c.line.body === 'slow', JSON.stringify(lines))
    assert.ok(s !== undefined)
    // streamed: Bob's line was printed before Charlie's handler had even finished
    assert.ok(b.at < charlieDone, `Bob's line came ${b.at - charlieDone} ms after Charlie answered`)
    assert.ok(b.at < c.at && c.at <= s.at)
    assert.equal(s.line.answered, 2)
  })
})
