/**
 * The durable outbox on real peers: library sends queued for an offline peer, receiver-side
 * de-duplication, a changed source, dead letters; and through the CLI, the listener killed
 * with `kill -9` while items are queued and while a file is mid-transfer.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { open, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createNodePeer, loadHotkey } from '../src/index.ts'
import { BIN, kill9, loopback, sha256File, startCli, startPeer, tempDir, throttle, until, waitFor } from './helpers.ts'
import type { Proc } from './helpers.ts'
import type { NodePeer } from '../src/index.ts'
import type { SubwireMessage } from '@subwire/shared'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'

async function freeUdpPort (): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((resolve) => { s.bind(0, '127.0.0.1', resolve) })
  const { port } = s.address()
  await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
  return port
}


/** Bob with a home (stable PeerId) on a fixed port: his address is known before he ever runs. */
async function bobAt (dir: string): Promise<{ addr: string, start: (extra?: Parameters<typeof createNodePeer>[0] extends infer T ? Partial<T> : never) => Promise<NodePeer> }> {
  const port = await freeUdpPort()
  const listen = [`/ip4/127.0.0.1/udp/${port}/quic-v1`]
  const home = join(dir, 'bob')
  const first = await createNodePeer({ signer: await loadHotkey({ uri: '//Bob' }), netuids: [42], listen, home, transports: ['quic'] })
  const addr = `${listen[0] as string}/p2p/${first.peerId}`
  await first.stop()
  return {
    addr,
    start: async (extra = {}) => {
      const peer = await createNodePeer({ signer: await loadHotkey({ uri: '//Bob' }), netuids: [42], listen, home, transports: ['quic'], filesDir: join(dir, 'bob-files'), protocol: { files: { minFreeBytes: 0 } }, ...extra })
      await peer.start()
      return peer
    }
  }
}

describe('outbox, library', () => {
  it('queues for an offline peer and delivers each item exactly once, in order, when it starts', async () => {
    const { dir, cleanup } = await tempDir()
    const bob = await bobAt(dir)
    const alice = await startPeer({ uri: '//Alice', home: join(dir, 'alice'), transports: ['quic'], outbox: { backoff: { baseMs: 100, capMs: 1000 } } })
    let bobPeer: NodePeer | undefined
    try {
      const file = join(dir, 'model.bin')
      await writeFile(file, randomBytes(3 * 1024 * 1024 + 17))
      const ids: string[] = []
      for (let i = 0; i < 10; i++) ids.push(await alice.message(bob.addr, 'seq', { i }, { queue: true }))
      const fileItem = await alice.sendFile(bob.addr, file, { queue: true })
      ids.push(await alice.message(bob.addr, 'seq', { i: 10 }, { queue: true }))
      await waitFor(async () => ((await alice.outbox?.list()) ?? []).some((i) => i.attempts >= 2), 20_000, 'a few failed attempts')
      const listed = await alice.outbox?.list() ?? []
      assert.equal(listed.length, 12)
      assert.equal(listed[0]?.lastError?.name, 'PeerUnreachableError')
      assert.equal(listed[10]?.kind, 'file')
      assert.equal(listed[10]?.label, 'model.bin')

      bobPeer = await bob.start()
      const got: SubwireMessage[] = []
      const files: string[] = []
      bobPeer.on('message', (m) => { got.push(m) })
      bobPeer.on('file:received', (f) => { files.push(f.path) })
      // Bob's arrival does not wait out Alice's backoff: once he dials her or she reaches him, all goes
      const done = Promise.all([...ids, fileItem.id].map(async (id) => await alice.outbox?.waitFor(id)))
      await done
      assert.deepEqual(got.map((m) => (m.payload as { i: number }).i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'in order, each once')
      assert.ok(got.every((m) => m.from === ALICE))
      assert.equal(files.length, 1)
      assert.equal(await sha256File(files[0] as string), await sha256File(file))
      assert.equal((await alice.outbox?.list())?.length, 0, 'the outbox is empty')
    } finally {
      await alice.stop()
      await bobPeer?.stop()
      await cleanup()
    }
  })

  it('does not deliver a message or a file twice when a retry follows a lost ack', async () => {
    const { dir, cleanup } = await tempDir()
    const bob = await bobAt(dir)
    const bobPeer = await bob.start()
    const alice = await startPeer({ uri: '//Alice', transports: ['quic'] })
    try {
      const got: SubwireMessage[] = []
      bobPeer.on('message', (m) => { got.push(m) })
      let received = 0
      bobPeer.on('file:received', () => { received++ })
      // the same id twice is what a sender does after losing the first ack
      await alice.message(bob.addr, 'pay', { n: 1 }, { id: 'msg-1' })
      await alice.message(bob.addr, 'pay', { n: 1 }, { id: 'msg-1' })
      // ... also across a restart of the receiver: the delivery log is in its store
      await bobPeer.stop()
      const again = await bob.start()
      again.on('message', (m) => { got.push(m) })
      again.on('file:received', () => { received++ })
      await alice.message(bob.addr, 'pay', { n: 1 }, { id: 'msg-1' })
      assert.equal(got.length, 1, 'delivered to the application once')
      const file = join(dir, 'f.bin')
      await writeFile(file, randomBytes(2 * 1024 * 1024))
      const first = await alice.sendFile(bob.addr, file, { id: 'transfer-1' })
      const second = await alice.sendFile(bob.addr, file, { id: 'transfer-1' })
      assert.equal(first.bytesSent, 2 * 1024 * 1024)
      assert.equal(second.bytesSent, 0, 'the retry is acknowledged without sending the file again')
      assert.equal(second.blake3, first.blake3)
      assert.equal(received, 1)
      assert.equal((await readdir(join(dir, 'bob-files', 'inbox', ALICE))).length, 1, 'one file in the inbox')
      await again.stop()
    } finally {
      await alice.stop()
      await bobPeer.stop().catch(() => {})
      await cleanup()
    }
  })

  it('does not carry re-dial tags across restarts (a restarted peer would dial stale addresses first)', async () => {
    const { dir, cleanup } = await tempDir()
    const bob = await bobAt(dir)
    const bobPeer = await bob.start()
    try {
      const home = join(dir, 'alice')
      const first = await startPeer({ uri: '//Alice', home, transports: ['quic'] })
      await first.message(bob.addr, 'hi', 1)
      const tagged = await first.libp2p.peerStore.get(bobPeer.libp2p.peerId)
      assert.ok(tagged.tags.has('keep-alive-subwire'), 'during the session the peer is tagged for re-dial')
      await first.stop()
      const again = await createNodePeer({ signer: await loadHotkey({ uri: '//Alice' }), netuids: [42], listen: loopback(['quic']), home, transports: ['quic'] })
      await again.start()
      try {
        // the peer store lives in memory now: a restarted peer may not know Bob at all, and never with the tag
        const known = await again.libp2p.peerStore.has(bobPeer.libp2p.peerId)
        const after = known ? await again.libp2p.peerStore.get(bobPeer.libp2p.peerId) : undefined
        assert.equal(after?.tags.has('keep-alive-subwire') ?? false, false, 'the tag is gone after a restart')
      } finally {
        await again.stop()
      }
    } finally {
      await bobPeer.stop()
      await cleanup()
    }
  })

  it('refuses a source file modified after it was queued, and dead-letters after the maximum attempts', async () => {
    const { dir, cleanup } = await tempDir()
    const bob = await bobAt(dir)
    const alice = await startPeer({ uri: '//Alice', home: join(dir, 'alice'), transports: ['quic'], outbox: { backoff: { baseMs: 50, capMs: 200 }, maxAttempts: 3 } })
    let bobPeer: NodePeer | undefined
    try {
      const gone = await alice.message(bob.addr, 'x', 1, { queue: true })
      await assert.rejects(alice.outbox?.waitFor(gone) as Promise<unknown>, (e: Error) => e.name === 'DeadLetterError' && (e.cause as Error).name === 'MaxAttemptsError')
      const [dead] = await alice.outbox?.dead() ?? []
      assert.equal(dead?.attempts, 3)
      assert.match(dead?.lastError?.message ?? '', /PeerUnreachableError/)

      const file = join(dir, 'w.bin')
      await writeFile(file, randomBytes(1024 * 1024))
      const { id } = await alice.sendFile(bob.addr, file, { queue: true })
      const fh = await open(file, 'r+')
      await fh.write(Buffer.from('tampered'), 0, 8, 1000)
      await fh.close()
      bobPeer = await bob.start()
      let received = 0
      bobPeer.on('file:received', () => { received++ })
      await assert.rejects(alice.outbox?.waitFor(id) as Promise<unknown>, (e: Error) => (e.cause as Error).name === 'SourceChangedError')
      assert.equal(received, 0, 'nothing of the changed file was delivered')
      assert.equal((await alice.outbox?.dead())?.length, 2)
    } finally {
      await alice.stop()
      await bobPeer?.stop()
      await cleanup()
    }
  })
})


function cli (args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('outbox through the CLI, with kill -9', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const procs: Proc[] = []
  const home = (n: string): string => join(dir, n)
  let bobAddr: string
  let file: string
  const SIZE = 100 * 1024 * 1024

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-outbox-'))
    const bobPort = await freeUdpPort()
    const alicePort = await freeUdpPort()
    for (const [name, uri, port] of [['alice', '//Alice', alicePort], ['bob', '//Bob', bobPort]] as const) {
      const r = cli(['--home', home(name), 'init', '--hotkey-uri', uri, '--listen', `/ip4/127.0.0.1/udp/${port}/quic-v1`])
      assert.equal(r.code, 0, r.stderr)
    }
    const id = JSON.parse(cli(['--home', home('bob'), '--json', 'id']).stdout) as { peerId: string }
    bobAddr = `/ip4/127.0.0.1/udp/${bobPort}/quic-v1/p2p/${id.peerId}`
    file = join(dir, 'checkpoint.bin')
    const fh = await open(file, 'w')
    for (let i = 0; i < SIZE / (4 * 1024 * 1024); i++) await fh.write(randomBytes(4 * 1024 * 1024))
    await fh.close()
  })

  after(async () => {
    for (const p of procs) kill9(p)
    await cleanup()
  })

  const listen = async (who: string): Promise<Proc> => {
    const proc = startCli(['--home', home(who), 'listen', '--json', '--min-free', '0'])
    procs.push(proc)
    await until(() => proc.lines.find((x) => x.event === 'listening'), 20_000, `${who} listening`)
    return proc
  }

  it('50 messages and a 100 MiB file queued for an offline peer survive kill -9 and arrive in order, each once', async () => {
    let alice = await listen('alice')
    for (let i = 0; i < 50; i++) {
      const r = cli(['--home', home('alice'), '--json', 'message', bobAddr, 'step', JSON.stringify({ i }), '--detach'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal((JSON.parse(r.stdout.trim().split('\n')[0] as string) as { event: string }).event, 'queued')
    }
    const sent = cli(['--home', home('alice'), '--json', 'send', bobAddr, file, '--detach'])
    assert.equal(sent.code, 0, sent.stderr)
    const list = JSON.parse(`[${cli(['--home', home('alice'), '--json', 'queue', 'list']).stdout.trim().split('\n').join(',')}]`) as Array<{ kind: string, label: string }>
    assert.equal(list.length, 51, 'all 51 items wait in the outbox')
    assert.equal(list[50]?.kind, 'file')
    assert.equal(list[50]?.label, 'checkpoint.bin')
    kill9(alice)
    await alice.exited

    const bob = await listen('bob')
    alice = await listen('alice')
    const got = await until(() => bob.lines.find((l) => l.event === 'file'), 120_000, 'the file at Bob') as { blake3: string, path: string, size: number }
    await until(() => alice.lines.filter((l) => l.event === 'delivered').length >= 51 ? true : undefined, 30_000, '51 deliveries')
    const messages = bob.lines.filter((l) => l.event === 'message' && l.action === 'step').map((l) => (l.payload as { i: number }).i)
    assert.deepEqual(messages, Array.from({ length: 50 }, (_, i) => i), 'every message once, in order')
    assert.equal(got.size, SIZE)
    assert.equal(await sha256File(got.path), await sha256File(file), 'the file arrived intact')
    const after = cli(['--home', home('alice'), '--json', 'queue', 'list'])
    assert.equal(after.code, 0, after.stderr)
    assert.equal(after.stdout.trim(), '', 'the outbox is empty')
    kill9(alice)
    kill9(bob)
    await Promise.all([alice.exited, bob.exited])
  })

  it('a file mid-transfer when the sending listener is killed resumes from the receiver\'s verified offset', async () => {
    const bob = await listen('bob')
    let alice = await listen('alice')
    const send = startCli(['--home', home('alice'), '--json', 'send', bobAddr, file, '--name', 'mid.bin'])
    procs.push(send)
    // the receiver crawls from the first bytes on, so the sender is killed near a third on any machine
    await until(() => send.lines.find((l) => l.event === 'progress'), 60_000, 'the first bytes')
    const unthrottle = throttle(bob)
    try {
      await until(() => send.lines.find((l) => l.event === 'progress' && (l.bytes as number) >= SIZE / 3), 120_000, 'a third of the file')
      kill9(alice)
      await alice.exited
    } finally { unthrottle() }
    assert.notEqual(await send.exited, 0, 'the waiting send notices the listener is gone')
    alice = await listen('alice')
    const got = await until(() => bob.lines.find((l) => l.event === 'file' && l.name === 'mid.bin'), 120_000, 'the file at Bob') as { path: string, resumedFrom: number }
    assert.ok(got.resumedFrom >= SIZE / 4, `resumed from ${got.resumedFrom}`)
    assert.equal(await sha256File(got.path), await sha256File(file))
    await until(() => alice.lines.find((l) => l.event === 'delivered') ?? undefined, 20_000, 'the delivery at Alice')
    assert.equal(bob.lines.filter((l) => l.event === 'file' && l.name === 'mid.bin').length, 1, 'received once')
    assert.equal((await stat(got.path)).size, SIZE)
  })
})
