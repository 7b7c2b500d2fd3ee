/**
 * `send`/`message --detach` hand their item to the running listener over the control
 * socket. The chaos harness kills listeners at random moments, some of them in the middle
 * of such a handoff: the command must then neither report success for an item nobody
 * queued nor queue a message twice when it is run again.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, tempDir } from './helpers.ts'
import type { Server } from 'node:net'

/** Runs the CLI without blocking this process's event loop (the fake listener lives here). */
async function run (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string, lines: Array<Record<string, unknown>> }> {
  return await new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    p.on('close', (code) => {
      const lines = stdout.split('\n').flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>] } catch { return [] } })
      resolve({ code, stdout, stderr, lines })
    })
  })
}

/** A "listener" that reads the request and dies before answering, as one killed with SIGKILL mid-handoff. */
async function dyingListener (path: string, requests: Array<Record<string, unknown>>): Promise<Server> {
  const server = createServer((socket) => {
    let buf = ''
    socket.on('data', (d: Buffer) => {
      buf += d.toString()
      if (!buf.includes('\n')) return
      requests.push(JSON.parse(buf.slice(0, buf.indexOf('\n'))) as Record<string, unknown>)
      socket.destroy()
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => { server.listen(path, resolve) })
  return server
}

describe('detached sends when the listener dies mid-handoff', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let home: string
  let dest: string
  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-handoff-'))
    home = join(dir, 'alice')
    for (const [h, uri] of [[home, '//Alice'], [join(dir, 'bob'), '//Bob']]) {
      const r = spawnSync(process.execPath, [BIN, '--home', h as string, 'init', '--hotkey-uri', uri as string, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
    const id = JSON.parse(spawnSync(process.execPath, [BIN, '--home', join(dir, 'bob'), '--json', 'id'], { encoding: 'utf8' }).stdout) as { peerId: string }
    dest = `/ip4/127.0.0.1/udp/9/quic-v1/p2p/${id.peerId}`
  })
  after(async () => { await cleanup() })

  const queueList = async (): Promise<Array<Record<string, unknown>>> => {
    const r = await run(['--home', home, '--json', 'queue', 'list'])
    assert.equal(r.code, 0, r.stderr)
    return r.lines
  }

  it('queues the message here, under the id it offered the listener, instead of reporting success for nothing', async () => {
    const requests: Array<Record<string, unknown>> = []
    const server = await dyingListener(join(home, 'control.sock'), requests)
    let r
    try {
      r = await run(['--home', home, '--json', 'message', dest, 'step', '{"seq":1}', '--detach'])
    } finally {
      await new Promise((resolve) => { server.close(resolve) })
    }
    assert.equal(r.code, 0, r.stderr)
    assert.equal(requests.length, 1, 'the listener was asked')
    const offered = requests[0]?.id
    assert.equal(typeof offered, 'string', 'the command chose the message id itself, so that a retry is idempotent')
    const queued = r.lines.find((l) => l.event === 'queued' || l.event === 'joined')
    assert.ok(queued !== undefined, `a queued line: ${r.stdout} ${r.stderr}`)
    assert.equal(queued.id, offered)
    const items = await queueList()
    assert.deepEqual(items.map((i) => [i.kind, i.id]), [['message', offered]], 'exactly this message waits in the outbox')
  })

  it('a re-run with the same --id joins the waiting message instead of queueing it twice', async () => {
    const first = await run(['--home', home, '--json', 'message', dest, 'step', '{"seq":2}', '--detach', '--id', 'chaos-2'])
    assert.equal(first.code, 0, first.stderr)
    assert.equal(first.lines[0]?.event, 'queued')
    const again = await run(['--home', home, '--json', 'message', dest, 'step', '{"seq":2}', '--detach', '--id', 'chaos-2'])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual([again.lines[0]?.event, again.lines[0]?.id], ['joined', 'chaos-2'])
    assert.equal((await queueList()).filter((i) => i.id === 'chaos-2').length, 1)
  })

  it('queues the file here when the listener dies before confirming', async () => {
    const file = join(dir, 'ckpt.bin')
    await writeFile(file, 'weights')
    const requests: Array<Record<string, unknown>> = []
    const server = await dyingListener(join(home, 'control.sock'), requests)
    let r
    try {
      r = await run(['--home', home, '--json', 'send', dest, file, '--detach'])
    } finally {
      await new Promise((resolve) => { server.close(resolve) })
    }
    assert.equal(r.code, 0, r.stderr)
    assert.equal(requests.length, 1)
    const queued = r.lines.find((l) => l.event === 'queued' || l.event === 'joined')
    assert.ok(queued !== undefined, `a queued line: ${r.stdout} ${r.stderr}`)
    assert.equal((await queueList()).filter((i) => i.kind === 'file' && i.label === 'ckpt.bin').length, 1)
  })
})
