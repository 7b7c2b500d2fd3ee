import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, kill9, randomFile, sha256File, startCli, tempDir, throttle, until } from './helpers.ts'
import type { Proc } from './helpers.ts'

/** SHA-256 of every regular file under `dir`, by relative path. */
async function tree (dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.isFile()) out[relative(dir, p)] = await sha256File(p)
    }
  }
  await walk(dir)
  return out
}

describe('subwire send DEST DIR', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const procs: Proc[] = []
  const home = (n: string): string => join(dir, n)
  const fixed: string[] = []

  const listeners: Proc[] = []
  const listen = async (): Promise<{ proc: Proc, addr: string }> => {
    // one listener per home: an earlier test's (if it failed before killing it) goes first
    for (const l of listeners.splice(0)) { if (l.child.exitCode === null && l.child.signalCode === null) { kill9(l); await l.exited } }
    const proc = startCli(['--home', home('bob'), 'listen', '--json', '--min-free', '0', ...fixed])
    procs.push(proc)
    listeners.push(proc)
    const l = await until(() => proc.lines.find((x) => x.event === 'listening'), 30_000, 'the listener')
    return { proc, addr: (l.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string }
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-cli-folders-'))
    for (const [n, uri] of [['alice', '//Alice'], ['bob', '//Bob']] as const) {
      const r = spawnSync(process.execPath, [BIN, '--home', home(n), 'init', '--hotkey-uri', uri, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
  })

  after(async () => {
    for (const p of procs) { try { kill9(p) } catch {} }
    await cleanup()
  })

  it('sends a directory tree as one folder with per-file and total progress (--json); listen emits one folder event', async () => {
    const src = join(dir, 'photos')
    for (let i = 0; i < 24; i++) {
      const sub = ['', '2024', '2024/summer', 'raw'][i % 4] as string
      await mkdir(join(src, sub), { recursive: true })
      await randomFile(join(src, sub, `img-${i}.jpg`), i === 5 ? 3 * 1024 * 1024 : 500 + i * 1500)
    }
    await writeFile(join(src, 'raw', 'empty.txt'), '')
    await symlink('/etc/passwd', join(src, 'link-out'))
    const bob = await listen()
    const send = startCli(['--home', home('alice'), 'send', bob.addr, src, '--json'])
    procs.push(send)
    assert.equal(await send.exited, 0)
    const sent = send.lines.find((l) => l.event === 'folder-sent') as { files: number, size: number, blake3: string, bytesSent: number, skipped: string[] }
    assert.equal(sent.files, 25)
    assert.deepEqual(sent.skipped, ['link-out'])
    const progress = send.lines.filter((l) => l.event === 'progress') as Array<{ bytes: number, total: number, files: number, file: { path: string, bytes: number, total: number } }>
    assert.ok(progress.length >= 25, `${progress.length} progress lines: each file's end is one`)
    assert.equal(progress.at(-1)?.bytes, sent.size)
    assert.ok(progress.some((p) => p.file.path === '2024/summer/img-6.jpg' && p.file.bytes === p.file.total))
    assert.ok(send.lines.some((l) => l.event === 'hashing'))
    const got = await until(() => bob.proc.lines.find((l) => l.event === 'folder'), 10_000, 'the folder event') as { path: string, files: number, blake3: string, from: string }
    assert.equal(got.files, 25)
    assert.equal(got.blake3, sent.blake3)
    assert.equal(got.path, join(home('bob'), 'files', 'inbox', got.from, 'photos'))
    const expected = await tree(src)
    assert.deepEqual(await tree(got.path), expected)
    assert.equal(bob.proc.lines.filter((l) => l.event === 'file').length, 0, 'no file event per entry')
    kill9(bob.proc)
    await bob.proc.exited
  })

  it('prints a human summary, and a single file still sends as before', async () => {
    const src = join(dir, 'small')
    await mkdir(join(src, 'a'), { recursive: true })
    await writeFile(join(src, 'a', 'x.txt'), 'x')
    await writeFile(join(dir, 'one.txt'), 'one')
    const bob = await listen()
    const r = spawnSync(process.execPath, [BIN, '--home', home('alice'), 'send', bob.addr, src], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /sent folder small \(1 file, 1 B\)/)
    assert.match(r.stdout, /blake3 folder root [0-9a-f]{64}/)
    const one = spawnSync(process.execPath, [BIN, '--home', home('alice'), 'send', bob.addr, join(dir, 'one.txt'), '--no-queue', '--json'], { encoding: 'utf8' })
    assert.equal(one.status, 0, one.stderr)
    assert.ok(one.stdout.split('\n').some((l) => l.includes('"event":"sent"')))
    await until(() => bob.proc.lines.find((l) => l.event === 'file'), 10_000, 'the file event')
    kill9(bob.proc)
    await bob.proc.exited
  })

  it('resumes a folder after the receiver is killed -9 mid-way: nothing of it in the inbox until it is whole', async () => {
    const src = join(dir, 'weights')
    await mkdir(join(src, 'shards'), { recursive: true })
    for (let i = 0; i < 6; i++) await randomFile(join(src, 'shards', `s${i}.bin`), 8 * 1024 * 1024)
    let bob = await listen()
    const port = /\/udp\/(\d+)\//.exec(bob.addr)?.[1] as string
    fixed.push('--listen', `/ip4/127.0.0.1/udp/${port}/quic-v1`)
    kill9(bob.proc); await bob.proc.exited
    bob = await listen()
    const first = startCli(['--home', home('alice'), 'send', bob.addr, src, '--json'])
    procs.push(first)
    // the receiver crawls from the first bytes on, so the kill lands past half way but well before the end on any machine
    await until(() => first.lines.find((l) => l.event === 'progress'), 60_000, 'the first bytes')
    const unthrottle = throttle(bob.proc)
    try {
      await until(() => first.lines.find((l) => l.event === 'progress' && (l.bytes as number) >= 28 * 1024 * 1024), 120_000, 'over half of the folder')
      kill9(bob.proc)
    } finally { unthrottle() }
    assert.notEqual(await first.exited, 0, 'the send fails when the receiver dies')
    const inbox = join(home('bob'), 'files', 'inbox')
    const senders = await readdir(inbox).catch(() => [] as string[]) // none yet when this test runs alone
    for (const s of senders) assert.ok(!(await readdir(join(inbox, s))).includes('weights'), 'no half folder in the inbox')
    bob = await listen()
    const second = startCli(['--home', home('alice'), 'send', bob.addr, src, '--json'])
    procs.push(second)
    assert.equal(await second.exited, 0)
    const sent = second.lines.find((l) => l.event === 'folder-sent') as { resumedFrom: number, bytesSent: number, size: number }
    assert.ok(sent.resumedFrom >= 16 * 1024 * 1024, `resumedFrom ${sent.resumedFrom}`)
    assert.ok(sent.bytesSent <= 32 * 1024 * 1024, `bytesSent ${sent.bytesSent}`)
    const got = await until(() => bob.proc.lines.find((l) => l.event === 'folder'), 10_000, 'the folder event') as { path: string }
    assert.deepEqual(await tree(got.path), await tree(src))
    kill9(bob.proc)
  })
})
