/**
 * Access control and the subnet firewall on real peers: through the CLI against a
 * running listener (live reload of acl.json), and through the library for the
 * transport-stage rules (PeerId, IP) and a failing firewall source.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { AccessControl, AccessDeniedError, SubnetFirewallError } from '@subwire/shared'
import { addrOf, startPeer, tempDir, waitFor } from './helpers.ts'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

const BIN = fileURLToPath(new URL('../bin/subwire.js', import.meta.url))
const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'

interface Run { code: number | null, stdout: string, stderr: string }

async function run (args: string[]): Promise<Run> {
  // async: the listener under test runs in this process's event loop's child, and
  // spawnSync would also be fine, but this keeps the stdout reader of the listener going
  return await new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args])
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

describe('subwire acl, live against a running listener', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bob: ChildProcessWithoutNullStreams
  const events: Array<Record<string, unknown>> = []
  let bobAddr: string
  const home = (name: string): string => join(dir, name)
  let reloads = 0
  const reloaded = async (): Promise<void> => {
    const want = reloads + 1
    await waitFor(() => events.filter((e) => e.event === 'acl-reloaded').length >= want, 10_000, 'acl-reloaded')
    reloads = want
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-acl-'))
    for (const [name, uri] of [['alice', '//Alice'], ['bob', '//Bob'], ['charlie', '//Charlie']]) {
      const r = spawnSync(process.execPath, [BIN, '--home', home(name as string), '--json', 'init', '--hotkey-uri', uri as string, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
    // its own process group: the launcher runs the CLI in a child, and both must go at the end
    bob = spawn(process.execPath, [BIN, '--home', home('bob'), 'listen', '--json'], { detached: true })
    const lines = createInterface({ input: bob.stdout })
    const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
      lines.on('line', (l) => {
        const obj = JSON.parse(l) as Record<string, unknown>
        events.push(obj)
        if (obj.event === 'listening') resolve(obj)
      })
      bob.on('exit', (code) => { reject(new Error(`listener exited with ${code}`)) })
    })
    bobAddr = ((await listening).multiaddrs as string[])[0] as string
  })

  after(async () => {
    try { process.kill(-(bob.pid as number), 'SIGKILL') } catch {}
    bob.stdout.destroy()
    bob.stderr.destroy()
    await cleanup()
  })

  const query = async (who: string): Promise<Run> => await run(['--home', home(who), '--json', 'query', bobAddr, 'echo', '{"x":1}'])

  it('a blocked SS58 can neither query nor send a file; removed from the block list it can, without a restart', async () => {
    assert.equal((await query('alice')).code, 0)
    const block = await run(['--home', home('bob'), '--json', 'acl', 'block', ALICE])
    assert.equal(block.code, 0, block.stderr)
    await reloaded()
    const refused = await query('alice')
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /AccessDeniedError/)
    assert.match(refused.stderr, /is blocked/)
    const file = join(dir, 'f.bin')
    await writeFile(file, randomBytes(200_000))
    const send = await run(['--home', home('alice'), '--json', 'send', bobAddr, file])
    assert.equal(send.code, 1)
    assert.match(send.stderr, /AccessDeniedError/)
    assert.equal((await query('charlie')).code, 0, 'others are unaffected')

    const list = await run(['--home', home('bob'), '--json', 'acl', 'list'])
    assert.deepEqual((JSON.parse(list.stdout) as { block: string[] }).block, [ALICE])

    assert.equal((await run(['--home', home('bob'), 'acl', 'remove', ALICE])).code, 0)
    await reloaded()
    assert.equal((await query('alice')).code, 0)
    const sent = await run(['--home', home('alice'), '--json', 'send', bobAddr, file])
    assert.equal(sent.code, 0, sent.stderr)
  })

  it('with the firewall on and nobody admitted nobody gets in; an admitted hotkey does, others still not', async () => {
    assert.equal((await run(['--home', home('bob'), 'acl', 'firewall', 'on', '42'])).code, 0)
    await reloaded()
    for (const who of ['alice', 'charlie']) {
      const r = await query(who)
      assert.equal(r.code, 1, `${who} must be refused`)
      assert.match(r.stderr, /SubnetFirewallError/)
    }
    assert.equal((await run(['--home', home('bob'), 'acl', 'allow', '--netuid', '42', CHARLIE])).code, 0)
    await reloaded()
    assert.equal((await query('charlie')).code, 0)
    assert.match((await query('alice')).stderr, /SubnetFirewallError/)
    assert.equal((await run(['--home', home('bob'), 'acl', 'firewall', 'off', '42'])).code, 0)
    await reloaded()
    assert.equal((await query('alice')).code, 0)
  })

  it('an allow list admits only what it names', async () => {
    assert.equal((await run(['--home', home('bob'), 'acl', 'allow', CHARLIE])).code, 0)
    await reloaded()
    assert.equal((await query('charlie')).code, 0)
    const r = await query('alice')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /not on the allow list/)
    assert.equal((await run(['--home', home('bob'), 'acl', 'remove', CHARLIE])).code, 0)
    await reloaded()
  })

  it('rejects a bad entry with a clear error and leaves acl.json unchanged', async () => {
    const r = await run(['--home', home('bob'), 'acl', 'block', '10.0.0.0/99'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /not an SS58 address, a PeerId, an IP address or a CIDR range/)
    const list = await run(['--home', home('bob'), '--json', 'acl', 'list'])
    assert.equal(list.code, 0)
    assert.deepEqual((JSON.parse(list.stdout) as { block: string[] }).block, [])
  })

  it('a hand-edited acl.json that is invalid is reported and the old rules stay', async () => {
    await writeFile(join(home('bob'), 'acl.json'), '{ "block": [42] }')
    await waitFor(() => events.some((e) => e.event === 'acl-error'), 10_000, 'acl-error')
    assert.equal((await query('alice')).code, 0, 'still served under the previous rules')
    assert.equal(bob.exitCode, null, 'the listener keeps running')
  })
})

describe('access control at the transport stages', () => {
  it('refuses a blocked PeerId and a blocked IP range before the subwire handshake, and lets them in after removal', async () => {
    const acl = new AccessControl()
    const bob = await startPeer({ uri: '//Bob', acl })
    const alice = await startPeer({ uri: '//Alice', listen: [] })
    const attempts: string[] = []
    bob.on('handshake:failed', (e) => { attempts.push(e.error.name) })
    try {
      for (const transport of ['quic', 'tcp'] as const) {
        const addr = addrOf(bob, transport)
        acl.update({ allow: [], block: [alice.peerId] })
        await assert.rejects(alice.request(addr, 'echo', 1), (err: Error) => err.name === 'PeerUnreachableError' || err.name === 'ConnectionLostError' || err.name === 'ConnectionClosedError' || err.name === 'HandshakeFailedError', transport)
        acl.update({ allow: [], block: ['127.0.0.0/8'] })
        await assert.rejects(alice.request(addr, 'echo', 1), (err: Error) => err.name === 'PeerUnreachableError' || err.name === 'ConnectionLostError' || err.name === 'ConnectionClosedError' || err.name === 'HandshakeFailedError', transport)
        acl.update({ allow: [], block: [] })
        assert.equal(await alice.request(addr, 'echo', 1), 1, `${transport}: allowed again`)
        await alice.libp2p.hangUp(bob.libp2p.peerId)
      }
      assert.equal(attempts.length, 0, 'the gater refused them before any subwire handshake started')
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  it('disconnects a live peer when it becomes blocked', async () => {
    const acl = new AccessControl()
    const bob = await startPeer({ uri: '//Bob', acl })
    const alice = await startPeer({ uri: '//Alice', listen: [] })
    try {
      const addr = addrOf(bob, 'quic')
      assert.equal(await alice.request(addr, 'echo', 2), 2)
      acl.update({ allow: [], block: [alice.ss58] })
      assert.equal(await bob.subwire.recheckAccess(), 1)
      await waitFor(() => bob.subwire.peers().length === 0 && alice.subwire.peers().length === 0, 5_000, 'disconnect on both sides')
      await assert.rejects(alice.request(addr, 'echo', 3), (err: Error) => err.name === 'HandshakeFailedError' && (err.cause as Error | undefined)?.name === AccessDeniedError.name)
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  it('refuses each request and message of a peer blocked while its session lives with AccessDeniedError, keeping the connection', async () => {
    const acl = new AccessControl()
    const bob = await startPeer({ uri: '//Bob', acl })
    const alice = await startPeer({ uri: '//Alice', listen: [] })
    try {
      const addr = addrOf(bob, 'quic')
      assert.equal(await alice.request(addr, 'echo', 4), 4)
      acl.update({ allow: [], block: [alice.ss58] }) // no recheck: the session stays
      await assert.rejects(alice.request(addr, 'echo', 5), { name: AccessDeniedError.name })
      await assert.rejects(alice.message(addr, 'hello', {}), { name: AccessDeniedError.name })
      assert.equal(alice.subwire.peers().length, 1, 'the connection stays, so each refusal reaches the sender')
      acl.update({ allow: [], block: [] })
      assert.equal(await alice.request(addr, 'echo', 6), 6)
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  it('a failing firewall source denies everyone (fail-closed)', async () => {
    const bob = await startPeer({
      uri: '//Bob',
      protocol: { firewall: { netuids: [42], source: { allowed: async () => { throw new Error('metagraph unreachable') } } } }
    })
    const alice = await startPeer({ uri: '//Alice', listen: [] })
    try {
      await assert.rejects(alice.request(addrOf(bob, 'quic'), 'echo', 1), (err: Error) => (err.cause as Error | undefined)?.name === SubnetFirewallError.name)
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  it('admits per subnet: a hotkey admitted to one served subnet cannot open another firewalled one', async () => {
    const bob = await startPeer({
      uri: '//Bob',
      netuids: [1, 42],
      protocol: { firewall: { netuids: [1, 42], source: { allowed: async (n) => new Set(n === 1 ? [ALICE] : []) } } }
    })
    const alice = await startPeer({ uri: '//Alice', listen: [], netuids: [1, 42] })
    try {
      const addr = addrOf(bob, 'quic')
      assert.equal(await alice.request(addr, 'echo', 1, { netuid: 1 }), 1)
      await assert.rejects(alice.request(addr, 'echo', 1, { netuid: 42 }), (err: Error) => err.name === SubnetFirewallError.name)
      await assert.rejects(alice.message(addr, 'x', 1, { netuid: 42 }), (err: Error) => err.name === SubnetFirewallError.name)
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })

  it('a file to a firewalled subnet fails with SubnetFirewallError, and a queued one is dead-lettered at once', async () => {
    const { dir, cleanup } = await tempDir()
    const bob = await startPeer({
      uri: '//Bob',
      netuids: [1, 42],
      filesDir: join(dir, 'bob-files'),
      protocol: { files: { minFreeBytes: 0 }, firewall: { netuids: [1, 42], source: { allowed: async (n) => new Set(n === 1 ? [ALICE] : []) } } }
    })
    const alice = await startPeer({ uri: '//Alice', listen: [], netuids: [1, 42], home: join(dir, 'alice'), outbox: { backoff: { baseMs: 50, capMs: 200 }, maxAttempts: 50 } })
    try {
      const addr = addrOf(bob, 'quic')
      const file = join(dir, 'f.bin')
      await writeFile(file, randomBytes(100_000))
      await assert.rejects(alice.sendFile(addr, file, { netuid: 42 }), (err: Error) => err.name === SubnetFirewallError.name)
      const { id } = await alice.sendFile(addr, file, { netuid: 42, queue: true })
      await assert.rejects(alice.outbox?.waitFor(id) as Promise<unknown>, (e: Error) => e.name === 'DeadLetterError' && (e.cause as Error).name === SubnetFirewallError.name)
      const [dead] = await alice.outbox?.dead() ?? []
      assert.equal(dead?.attempts, 1, 'dead-lettered on the first refusal, not retried')
      assert.match(dead?.lastError?.name ?? '', /SubnetFirewallError/)
    } finally {
      await alice.stop()
      await bob.stop()
      await cleanup()
    }
  })
})
