// A first run without surprises (issue 22): mistakes fail at once with one line and the
// documented exit code, and nothing is queued that could only be dead-lettered later.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, kill9, startCli, startPeer, tempDir, until } from './helpers.ts'
import { DEFAULT_DIAL_TIMEOUT_MS } from '../src/cli/destination.ts'
import type { Proc } from './helpers.ts'

const BOB_PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const UNKNOWN_SS58 = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'

describe('the CLI on a first run', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let file: string
  const procs: Proc[] = []
  const home = (n: string): string => join(dir, n)
  const run = (args: string[], input?: string): { status: number | null, stdout: string, stderr: string, ms: number } => {
    const t0 = Date.now()
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, ...(input === undefined ? {} : { input }) })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 }
  }
  const queueIsEmpty = (): void => {
    const r = run(['--home', home('alice'), 'queue', 'list'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'the outbox is empty')
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-first-run-'))
    for (const [n, uri] of [['alice', '//Alice'], ['bob', '//Bob']] as const) {
      const r = run(['--home', home(n), 'init', '--hotkey-uri', uri, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'])
      assert.equal(r.status, 0, r.stderr)
    }
    file = join(dir, 'ckpt.bin')
    await writeFile(file, 'weights')
  })

  after(async () => {
    for (const p of procs) kill9(p)
    await cleanup()
  })

  it('refuses a malformed address, an invalid IP and a truncated PeerId at once with exit 2, queueing nothing', () => {
    for (const dest of ['/ip4/999.0.0.1/udp/4701/quic-v1/p2p/' + BOB_PEER, '/ip4/127.0.0.1/udp/4701/quic-v1/p2p/12D3KooWABC', '/ip4/127.0.0.1/udp/4701/quic-v1', 'not-an-address']) {
      const r = run(['--home', home('alice'), 'send', dest, file])
      assert.equal(r.status, 2, `${dest}: ${r.stderr}`)
      assert.match(r.stderr, /^subwire: /)
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line')
      assert.ok(r.ms < 10_000, `${dest} took ${r.ms} ms`)
    }
    queueIsEmpty()
  })

  it('fails at once for a hotkey nothing can resolve (exit 1), saying how to add it, and for a missing file (exit 2)', () => {
    const r = run(['--home', home('alice'), 'send', UNKNOWN_SS58, file])
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr, /^subwire: No address is known for 5FLSigC9.*subwire peers add/)
    const m = run(['--home', home('alice'), 'message', UNKNOWN_SS58, 'hello', '{}'])
    assert.equal(m.status, 1, m.stderr)
    const f = run(['--home', home('alice'), 'send', '/ip4/127.0.0.1/udp/4701/quic-v1/p2p/' + BOB_PEER, join(dir, 'missing.bin')])
    assert.equal(f.status, 2, f.stderr)
    assert.match(f.stderr, /missing\.bin: no such file/)
    queueIsEmpty()
  })

  it('refuses a file it cannot read with exit 2, queueing nothing (also as root)', async () => {
    const unreadable = join(dir, 'unreadable.bin')
    await writeFile(unreadable, 'secret')
    await chmod(unreadable, 0o000)
    // root reads a mode-000 file: the CLI runs without the capabilities that let it
    const asRoot = process.getuid?.() === 0
    if (asRoot) assert.equal(spawnSync('setpriv', ['--version']).status, 0, 'setpriv (util-linux) runs the CLI as root without CAP_DAC_OVERRIDE')
    const args = [BIN, '--home', home('alice'), 'send', '/ip4/127.0.0.1/udp/4701/quic-v1/p2p/' + BOB_PEER, unreadable]
    const r = asRoot
      ? spawnSync('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', process.execPath, ...args], { encoding: 'utf8', timeout: 60_000 })
      : spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 2, r.stderr)
    assert.equal(r.stderr.trim().split('\n').at(-1), `subwire: ${unreadable}: cannot be read (EACCES)`)
    queueIsEmpty()
  })

  it('queues for a hotkey nobody knows yet only when a resolver is configured, and says which one will be asked', async () => {
    const carol = home('carol')
    assert.equal(run(['--home', carol, 'init', '--hotkey-uri', '//Charlie', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
    const configFile = join(carol, 'subwire.json')
    await writeFile(configFile, JSON.stringify({ ...(JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>), subtensor: 'ws://127.0.0.1:9' }))
    const r = run(['--home', carol, 'send', UNKNOWN_SS58, file, '--detach'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`^subwire: warning: ${UNKNOWN_SS58} is not in the address book: the metagraph \\(ws://127\\.0\\.0\\.1:9\\) will be asked for its address at each attempt`, 'm'))
    assert.match(r.stdout, /^queued /)
  })

  it('sends by hotkey to a peer that has no address but is connected to the running listener (a browser)', async () => {
    const bob = startCli(['--home', home('bob'), 'listen', '--json'])
    procs.push(bob)
    const l = await until(() => bob.lines.find((x) => x.event === 'listening'), 20_000, 'the listener')
    const addr = (l.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string
    const carol = await startPeer({ uri: '//Charlie', transports: ['quic'], listen: [], filesDir: join(dir, 'carol'), protocol: { files: { minFreeBytes: 0 } } })
    try {
      await carol.connect(addr)
      // not spawnSync: Carol runs in this process and must keep answering
      const send = startCli(['--home', home('bob'), 'send', carol.ss58, file, '--json'])
      procs.push(send)
      assert.equal(await send.exited, 0)
      assert.ok(send.lines.some((x) => x.event === 'sent'))
    } finally {
      await carol.stop()
      kill9(bob)
    }
  })

  it('--no-queue gives up after its --timeout, naming the address and the time: nothing waits but the start-up and the dial', async () => {
    const dest = '/ip4/127.0.0.1/udp/9/quic-v1/p2p/' + BOB_PEER
    // libp2p's log says when the dial starts; the rest of the run must be the timeout, and not
    // the time libp2p or the peer's stop would add (the start-up before it is the CLI's own)
    const timed = async (timeout?: number): Promise<{ status: number | null, stderr: string, total: number, afterDial: number }> => {
      const t0 = Date.now()
      const child = spawn(process.execPath, [BIN, '--home', home('alice'), 'send', dest, file, '--no-queue', ...(timeout === undefined ? [] : ['--timeout', String(timeout)])],
        { env: { ...process.env, DEBUG: 'libp2p:connection-manager' } })
      let stderr = ''
      let dialAt: number | undefined
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (d: string) => {
        stderr += d
        if (dialAt === undefined && /libp2p:connection-manager dial /.test(stderr)) dialAt = Date.now()
      })
      // 'close', not 'exit': the last lines of stderr may still be in the pipe when the process exits
      const status = await new Promise<number | null>((resolve) => { child.on('close', resolve) })
      const end = Date.now()
      assert.ok(dialAt !== undefined, `the dial was logged: ${stderr}`)
      return { status, stderr, total: end - t0, afterDial: end - dialAt }
    }
    // one after the other: two commands of one home at once may find its outbox database locked
    const runs = [await timed(1500), await timed()] as const
    for (const [r, timeout] of [[runs[0], 1500], [runs[1], DEFAULT_DIAL_TIMEOUT_MS]] as const) {
      assert.equal(r.status, 1, r.stderr)
      const line = r.stderr.trim().split('\n').at(-1) as string
      assert.equal(line, `subwire: could not reach ${dest} within ${timeout / 1000} s (--timeout to wait longer)`)
      assert.ok(r.afterDial >= timeout - 100 && r.afterDial < timeout + 1500, `--timeout ${timeout}: ${r.afterDial} ms from the dial to the exit (${r.total} ms in all)`)
    }
  })

  it('message validates JSON, takes --string, a payload file (@FILE) and stdin (-)', async () => {
    const bob = startCli(['--home', home('bob'), 'listen', '--json'])
    procs.push(bob)
    const l = await until(() => bob.lines.find((x) => x.event === 'listening'), 20_000, 'the listener')
    const addr = (l.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string
    const bad = run(['--home', home('alice'), 'message', addr, 'step', '{not json'])
    assert.equal(bad.status, 2, bad.stderr)
    assert.match(bad.stderr, /not valid JSON/)
    const payload = join(dir, 'payload.json')
    await writeFile(payload, JSON.stringify({ epoch: 7, uids: [1, 2, 3] }))
    assert.equal(run(['--home', home('alice'), 'message', addr, 'from-file', '@' + payload, '--no-queue']).status, 0)
    assert.equal(run(['--home', home('alice'), 'message', addr, 'from-stdin', '-', '--no-queue'], '{"k":"v"}').status, 0)
    assert.equal(run(['--home', home('alice'), 'message', addr, 'text', 'plain words', '--string', '--no-queue']).status, 0)
    const got = (action: string): unknown => bob.lines.find((x) => x.event === 'message' && x.action === action)?.payload
    await until(() => got('text'), 10_000, 'the messages')
    assert.deepEqual(got('from-file'), { epoch: 7, uids: [1, 2, 3] })
    assert.deepEqual(got('from-stdin'), { k: 'v' })
    assert.equal(got('text'), 'plain words')
    kill9(bob)
  })

  it('prints usage mistakes of the argument parser as one "subwire:" line with exit 2', () => {
    for (const args of [['--bogus'], ['send'], ['query', 'a', 'b', 'c', 'd']]) {
      const r = run(args)
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr.trim(), /^subwire: [^\n]+$/)
    }
  })

  it('id and status show the addresses a running listener uses; the listener summarises large payloads and escapes control characters', async () => {
    const bob = startCli(['--home', home('bob'), 'listen', '--json'])
    procs.push(bob)
    const l = await until(() => bob.lines.find((x) => x.event === 'listening'), 20_000, 'the listener')
    const addr = (l.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string
    const id = JSON.parse(run(['--home', home('bob'), '--json', 'id']).stdout) as { multiaddrs?: string[] }
    assert.deepEqual(id.multiaddrs, l.multiaddrs)
    const status = JSON.parse(run(['--home', home('bob'), '--json', 'status']).stdout) as { event: string, multiaddrs: string[], outbox: { pending: number } }
    assert.equal(status.event, 'status')
    assert.deepEqual(status.multiaddrs, l.multiaddrs)
    assert.equal(status.outbox.pending, 0)
    const big = join(dir, 'big.json')
    await writeFile(big, JSON.stringify({ blob: 'x'.repeat(200 * 1024) }))
    assert.equal(run(['--home', home('alice'), 'message', addr, 'big', '@' + big, '--no-queue']).status, 0)
    const m = await until(() => bob.lines.find((x) => x.event === 'message' && x.action === 'big'), 10_000, 'the big message')
    assert.equal(m.payloadTruncated, true)
    assert.ok((m.payloadBytes as number) > 200 * 1024)
    kill9(bob)
    // a person's terminal: an escape sequence in an action is shown, not executed
    const human = startCli(['--home', home('bob'), 'listen'])
    procs.push(human)
    const out: string[] = []
    human.child.stdout.on('data', (d: Buffer) => { out.push(d.toString('utf8')) })
    const humanAddr = await until(() => /(\/ip4\/\S+\/quic-v1\/p2p\/\S+)/.exec(out.join(''))?.[1], 20_000, 'the human listener')
    assert.equal(run(['--home', home('alice'), 'message', humanAddr, 'x\u001b[2Jy', '{}', '--no-queue']).status, 0)
    await until(() => out.join('').includes('message from') ? true : undefined, 10_000, 'the message line')
    assert.ok(!out.join('').includes('\u001b[2J'), 'no raw escape sequence reaches the terminal')
    assert.ok(out.join('').includes('x\\u001b[2Jy'), out.join(''))
    kill9(human)
  })

  it('refuses a secret URI with white space or a single slash, and warns that dev URIs are public', () => {
    const spaced = run(['--home', home('x1'), 'init', '--hotkey-uri', ' //Alice'])
    assert.equal(spaced.status, 2)
    assert.match(spaced.stderr, /white space/)
    const single = run(['--home', home('x2'), 'init', '--hotkey-uri', '/Alice'])
    assert.equal(single.status, 2)
    assert.match(single.stderr, /did you mean "\/\/Alice"/)
    const dev = run(['--home', home('x3'), 'init', '--hotkey-uri', '//Charlie'])
    assert.equal(dev.status, 0, dev.stderr)
    assert.match(dev.stderr, /development key that anyone can derive/)
  })

  it('refuses a listen --storage that is missing or not a directory, at start', async () => {
    const missing = run(['--home', home('bob'), 'listen', '--storage', join(dir, 'nope')])
    assert.equal(missing.status, 2)
    assert.match(missing.stderr, /no such directory/)
    const regular = run(['--home', home('bob'), 'listen', '--storage', file])
    assert.equal(regular.status, 2)
    assert.match(regular.stderr, /is not a directory/)
  })

  it('refuses a read-only listen --storage at start, in one line, before the peer starts (also as root)', async () => {
    const readOnly = join(dir, 'read-only')
    await mkdir(readOnly)
    await chmod(readOnly, 0o555)
    // root writes into a mode-555 directory: the CLI runs without the capabilities that let it
    const asRoot = process.getuid?.() === 0
    const args = [BIN, '--home', home('bob'), 'listen', '--storage', readOnly]
    const r = asRoot
      ? spawnSync('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', process.execPath, ...args], { encoding: 'utf8', timeout: 60_000 })
      : spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 2, r.stderr)
    assert.equal(r.stderr.trim(), `subwire: --storage ${readOnly} is not writable by this user`)
    assert.equal(r.stdout, '', 'it never said it was listening')
  })

  it('documents exit codes and environment variables in --help, and has peers list', () => {
    const help = run(['--help'])
    assert.equal(help.status, 0)
    for (const s of ['Exit codes', 'SUBWIRE_HOME', 'SUBWIRE_DEBUG', 'SUBWIRE_WEBTRANSPORT', 'SUBWIRE_DENO', 'DEBUG=']) assert.ok(help.stdout.includes(s), s)
    assert.match(run(['send', '--help']).stdout, /Examples:/)
    const list = run(['--home', home('alice'), 'peers', 'list'])
    assert.equal(list.status, 0, list.stderr)
  })
})
