// The `subwire` launcher under a supervisor: SIGTERM stops the peer cleanly, and a
// launcher killed with SIGKILL leaves no peer process behind holding the ports.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdir, readFile, readlink } from 'node:fs/promises'
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

/** The processes of the tree under `pid` (itself first), while they exist. */
async function tree (pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')
  const kids = children.trim().split(/\s+/).filter((x) => x !== '').map(Number)
  return [pid, ...(await Promise.all(kids.map(tree))).flat()]
}

/** Inodes of every IPv4/IPv6 TCP and UDP socket of this machine (a bound port is one of them). */
async function inetInodes (): Promise<Set<string>> {
  const inodes = new Set<string>()
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const text = await readFile(`/proc/net/${table}`, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9]
      if (inode !== undefined && inode !== '0') inodes.add(inode)
    }
  }
  return inodes
}

/** The TCP and UDP sockets the processes under `pid` hold right now (as `pid:inode`). */
async function inetSocketsOf (pid: number): Promise<string[]> {
  const found: string[] = []
  const inet = await inetInodes()
  for (const p of await tree(pid)) {
    for (const fd of await readdir(`/proc/${p}/fd`).catch(() => [])) {
      const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${p}/fd/${fd}`).catch(() => ''))
      if (m !== null && inet.has(m[1] as string)) found.push(`${p}:${m[1] as string}`)
    }
  }
  return found
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

  it('refuses a second listener in the same home in one line, before it binds a port', async () => {
    const { proc, peer } = await listen()
    const first = proc.lines.find((l) => l.event === 'listening') as { multiaddrs: string[] }
    // the home's ports are 0 (any free port): a second peer would bind new ones, not fail on the first's
    const second = startCli(['--home', join(dir, 'bob'), 'listen', '--json'])
    procs.push(second)
    let stderr = ''
    second.child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
    const bound = new Set<string>()
    let done = false
    const code = second.exited.finally(() => { done = true })
    while (!done) {
      for (const s of await inetSocketsOf(second.child.pid as number)) bound.add(s)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.equal(await code, 1, stderr)
    assert.equal(stderr.trim(), `subwire: another subwire listener is running in this home (pid ${peer}): stop it first, or use another --home`)
    assert.deepEqual([...bound], [], 'the second listener bound no TCP or UDP socket')
    // the first one still owns the home: it answers on its control socket
    const status = spawnSync(process.execPath, [BIN, '--home', join(dir, 'bob'), 'id', '--json'], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(status.status, 0, status.stderr)
    assert.deepEqual((JSON.parse(status.stdout) as { multiaddrs: string[] }).multiaddrs, first.multiaddrs)
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
