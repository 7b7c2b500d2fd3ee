// The `subwire` launcher under a supervisor: SIGTERM stops the peer cleanly, and a
// launcher killed with SIGKILL leaves no peer process behind holding the ports.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, kill9, startCli, tempDir, until, waitFor } from './helpers.ts'
import type { Proc } from './helpers.ts'

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** The peer process the launcher runs (its only child). */
async function childOf (pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')
  const child = Number(text.trim().split(/\s+/)[0])
  assert.ok(Number.isInteger(child) && child > 0, `the launcher ${pid} has a child (${text})`)
  return child
}

describe('the subwire launcher', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const procs: Proc[] = []

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-launcher-'))
    const r = spawnSync(process.execPath, [BIN, '--home', join(dir, 'bob'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
  })

  after(async () => {
    for (const p of procs) kill9(p)
    await cleanup()
  })

  const listen = async (): Promise<{ proc: Proc, peer: number }> => {
    const proc = startCli(['--home', join(dir, 'bob'), 'listen', '--json'])
    procs.push(proc)
    await until(() => proc.lines.find((l) => l.event === 'listening'), 20_000, 'the listener')
    return { proc, peer: await childOf(proc.child.pid as number) }
  }

  it('prints its version with --version', () => {
    const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/)
  })

  it('says in one line which address is busy when another listener holds the port', async () => {
    const { proc } = await listen()
    const listening = proc.lines.find((l) => l.event === 'listening') as { multiaddrs: string[] }
    const port = /\/udp\/(\d+)\//.exec(listening.multiaddrs[0] as string)?.[1] as string
    const other = join(dir, 'dave')
    assert.equal(spawnSync(process.execPath, [BIN, '--home', other, 'init', '--hotkey-uri', '//Dave', '--listen', `/ip4/127.0.0.1/udp/${port}/quic-v1`], { encoding: 'utf8' }).status, 0)
    const r = spawnSync(process.execPath, [BIN, '--home', other, 'listen'], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(r.status, 1)
    assert.equal(r.stderr.trim(), `subwire: 127.0.0.1:${port}/udp is already in use (another listener? choose another with --listen)`)
    process.kill(proc.child.pid as number, 'SIGTERM')
    assert.equal(await proc.exited, 0)
  })

  it('stops the peer cleanly on SIGTERM, with exit code 0', async () => {
    const { proc, peer } = await listen()
    process.kill(proc.child.pid as number, 'SIGTERM')
    assert.equal(await proc.exited, 0)
    assert.ok(proc.lines.some((l) => l.event === 'stopping' && l.signal === 'SIGTERM'))
    await waitFor(() => !alive(peer), 5000, 'the peer process to end')
  })

  it('leaves no peer process behind when the launcher itself is killed with SIGKILL', async () => {
    const { proc, peer } = await listen()
    process.kill(proc.child.pid as number, 'SIGKILL') // the launcher only, not its process group
    await proc.exited
    await waitFor(() => !alive(peer), 5000, 'the orphaned peer to stop by itself')
    // and its home can be listened on again at once
    const again = await listen()
    process.kill(again.proc.child.pid as number, 'SIGTERM')
    assert.equal(await again.proc.exited, 0)
  })
})
