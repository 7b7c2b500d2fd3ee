import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { tempDir } from './helpers.ts'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

const BIN = fileURLToPath(new URL('../bin/subwire.js', import.meta.url))
const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'

interface Run { code: number | null, stdout: string, stderr: string }

function run (args: string[], node = process.execPath): Run {
  const r = spawnSync(node, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('subwire CLI', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: ChildProcessWithoutNullStreams
  let bobLines: Array<Record<string, unknown>>
  let bobAddr: string
  const home = (name: string): string => join(dir, name)

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-cli-'))
    for (const [name, uri] of [['alice', '//Alice'], ['bob', '//Bob']]) {
      const r = run(['--home', home(name as string), '--json', 'init', '--hotkey-uri', uri as string, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0'])
      assert.equal(r.code, 0, r.stderr)
    }
    bob = spawn(process.execPath, [BIN, '--home', home('bob'), 'listen', '--json'])
    bobLines = []
    const lines = createInterface({ input: bob.stdout })
    const first = new Promise<Record<string, unknown>>((resolve, reject) => {
      lines.on('line', (l) => {
        const obj = JSON.parse(l) as Record<string, unknown>
        bobLines.push(obj)
        if (obj.event === 'listening') resolve(obj)
      })
      bob.on('exit', (code) => { reject(new Error(`listener exited with ${code}`)) })
    })
    const listening = await first
    assert.equal(listening.ss58, BOB)
    bobAddr = (listening.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string
    assert.ok(bobAddr.endsWith(`/p2p/${listening.peerId as string}`))
  })

  after(async () => {
    if (bob.exitCode === null) bob.kill('SIGKILL')
    await cleanup()
  })

  it('init prints the hotkey and PeerId and writes owner-only files', () => {
    const r = run(['--home', home('alice'), '--json', 'id'])
    assert.equal(r.code, 0, r.stderr)
    const id = JSON.parse(r.stdout) as { ss58: string, peerId: string, netuids: number[] }
    assert.equal(id.ss58, ALICE)
    assert.deepEqual(id.netuids, [42])
    assert.match(id.peerId, /^12D3Koo/)
  })

  it('query echo returns the body, from Bob\'s verified hotkey', () => {
    const r = run(['--home', home('alice'), 'query', bobAddr, 'echo', '{"x":1}', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { from: string, body: unknown, ms: number }
    assert.deepEqual(out.body, { x: 1 })
    assert.equal(out.from, BOB)
    assert.equal(typeof out.ms, 'number')
  })

  it('message reaches the listener\'s stdout with Alice as the verified sender', async () => {
    const r = run(['--home', home('alice'), 'message', bobAddr, 'weights:ready', '{"epoch":3}', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string, to: string, id: string })
    assert.deepEqual(lines.map((l) => l.event), ['queued', 'attempt', 'acked'], 'one JSON object per line: queued, its attempt, the ack')
    const acked = lines[2] as { event: string, to: string, id: string }
    assert.equal(acked.id, lines[0]?.id, 'the ack is for the queued id')
    assert.equal(acked.to, BOB)
    const deadline = Date.now() + 5000
    let seen: Record<string, unknown> | undefined
    while (seen === undefined && Date.now() < deadline) {
      seen = bobLines.find((l) => l.event === 'message' && l.id === acked.id)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.deepEqual(seen, { event: 'message', from: ALICE, netuid: 42, id: acked.id, action: 'weights:ready', payload: { epoch: 3 } })
  })

  it('reaches Bob by SS58 once the address book learned him', () => {
    const r = run(['--home', home('alice'), 'query', BOB, 'echo', '"by hotkey"', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as { body: unknown }).body, 'by hotkey')
    const peers = run(['--home', home('alice'), 'peers', '--json'])
    assert.equal((JSON.parse(peers.stdout.split('\n')[0] as string) as { ss58: string }).ss58, BOB)
  })

  it('a wrong netuid gives one clear line and a non-zero exit', () => {
    const r = run(['--home', home('alice'), 'query', bobAddr, 'echo', '{}', '--netuid', '7'])
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.match(r.stderr, /^subwire: .*subnet 7/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
  })

  it('an unknown destination gives one clear line and a non-zero exit', () => {
    const r = run(['--home', home('alice'), 'query', '5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy', 'echo'])
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.match(r.stderr, /^subwire: No address is known for 5DAAnrj7/)
  })

  it('user mistakes are one line with exit 2, and --json adds an error object', () => {
    const badJson = run(['--home', home('alice'), 'query', bobAddr, 'echo', '{nope'])
    assert.equal(badJson.code, 2)
    assert.match(badJson.stderr, /^subwire: request body is not valid JSON/)
    const again = run(['--home', home('alice'), '--json', 'init', '--hotkey-uri', '//Alice'])
    assert.equal(again.code, 2)
    assert.equal((JSON.parse(again.stdout) as { event: string }).event, 'error')
    const noHome = run(['--home', join(dir, 'nowhere'), 'id'])
    assert.equal(noHome.code, 1)
    assert.match(noHome.stderr, /run "subwire init" first/)
  })

  it('runs on a system Node older than 22 by re-running itself on the bundled Node', { skip: !existsSync('/usr/bin/node') && 'no system node at /usr/bin/node' }, () => {
    const version = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).stdout.trim()
    const r = run(['--home', home('alice'), '--json', 'id'], '/usr/bin/node')
    assert.equal(r.code, 0, `${version}: ${r.stderr}`)
    assert.equal((JSON.parse(r.stdout) as { ss58: string }).ss58, ALICE)
  })

  it('listen stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => { bob.on('exit', (code) => { resolve(code) }) })
    bob.kill('SIGTERM')
    assert.equal(await exited, 0)
    assert.ok(bobLines.some((l) => l.event === 'stopping' && l.signal === 'SIGTERM'))
  })
})
