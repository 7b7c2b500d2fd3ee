import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, kill9, sha256File, startCli, tempDir, throttle, until } from './helpers.ts'
import type { Proc } from './helpers.ts'

const SIZE = 192 * 1024 * 1024



describe('subwire send, with kill -9 on either side', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let file: string
  const procs: Proc[] = []
  const home = (n: string): string => join(dir, n)

  const listen = async (): Promise<{ proc: Proc, addr: string }> => {
    const proc = startCli(['--home', home('bob'), 'listen', '--json', '--min-free', '0'])
    procs.push(proc)
    const l = await until(() => proc.lines.find((x) => x.event === 'listening'), 20_000, 'the listener')
    return { proc, addr: (l.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string }
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-cli-files-'))
    for (const [n, uri] of [['alice', '//Alice'], ['bob', '//Bob']] as const) {
      const r = spawnSync(process.execPath, [BIN, '--home', home(n), 'init', '--hotkey-uri', uri, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
    file = join(dir, 'weights.safetensors')
    const fh = await open(file, 'w')
    for (let i = 0; i < SIZE / (16 << 20); i++) await fh.write(randomBytes(16 << 20))
    await fh.close()
  })

  after(async () => {
    for (const p of procs) { try { kill9(p) } catch {} }
    await cleanup()
  })

  it('resumes after the receiver is killed half way, re-sending about half', async () => {
    // Bob listens on a fixed port from now on, so Alice can find him again after the kill
    let bob = await listen()
    const port = /\/udp\/(\d+)\//.exec(bob.addr)?.[1] as string
    kill9(bob.proc); await bob.proc.exited
    const fixed = ['--listen', `/ip4/127.0.0.1/udp/${port}/quic-v1`]
    const relisten = async (): Promise<{ proc: Proc, addr: string }> => {
      const proc = startCli(['--home', home('bob'), 'listen', '--json', '--min-free', '0', ...fixed])
      procs.push(proc)
      const l = await until(() => proc.lines.find((x) => x.event === 'listening'), 20_000, 'the listener')
      return { proc, addr: (l.multiaddrs as string[])[0] as string }
    }
    bob = await relisten()
    const first = startCli(['--home', home('alice'), 'send', bob.addr, file, '--json', '--no-queue'])
    procs.push(first)
    // the receiver crawls from the first bytes on, so the kill lands near half way on any machine
    await until(() => first.lines.find((l) => l.event === 'progress'), 60_000, 'the first bytes')
    const unthrottle = throttle(bob.proc)
    try {
      await until(() => first.lines.find((l) => l.event === 'progress' && (l.bytes as number) >= SIZE / 2), 120_000, 'half of the file')
      kill9(bob.proc)
    } finally { unthrottle() }
    assert.notEqual(await first.exited, 0, 'the send fails when the receiver dies')
    bob = await relisten()
    const second = startCli(['--home', home('alice'), 'send', bob.addr, file, '--json', '--no-queue'])
    procs.push(second)
    assert.equal(await second.exited, 0)
    const sent = second.lines.find((l) => l.event === 'sent') as { resumedFrom: number, bytesSent: number, size: number, blake3: string }
    assert.ok(sent.resumedFrom >= SIZE / 3, `resumedFrom ${sent.resumedFrom}`)
    assert.ok(sent.bytesSent <= SIZE * 0.7, `bytesSent ${sent.bytesSent}`)
    const got = await until(() => bob.proc.lines.find((l) => l.event === 'file'), 10_000, 'the file event') as { path: string, blake3: string, from: string }
    assert.equal(got.blake3, sent.blake3)
    assert.equal(await sha256File(got.path), await sha256File(file))
    kill9(bob.proc)
  })

  it('resumes after the sender is killed half way', async () => {
    const bob = await listen()
    const first = startCli(['--home', home('alice'), 'send', bob.addr, file, '--json', '--no-queue', '--name', 'second.bin'])
    procs.push(first)
    await until(() => first.lines.find((l) => l.event === 'progress' && (l.bytes as number) >= SIZE / 2), 60_000, 'half of the file')
    kill9(first)
    await first.exited
    const second = startCli(['--home', home('alice'), 'send', bob.addr, file, '--json', '--no-queue', '--name', 'second.bin'])
    procs.push(second)
    assert.equal(await second.exited, 0)
    const sent = second.lines.find((l) => l.event === 'sent') as { resumedFrom: number, bytesSent: number }
    assert.ok(sent.resumedFrom >= SIZE / 3, `resumedFrom ${sent.resumedFrom}`)
    assert.ok(sent.bytesSent <= SIZE * 0.7, `bytesSent ${sent.bytesSent}`)
    const got = await until(() => bob.proc.lines.find((l) => l.event === 'file'), 10_000, 'the file event') as { path: string }
    assert.equal(await sha256File(got.path), await sha256File(file))
    kill9(bob.proc)
  })
})
