// The CLI keeps the exactly-once promise (issue 15): `listen --json` acknowledges a message
// only once its line has left the process, so a slow consumer and a kill -9 lose nothing
// that was acknowledged; a re-run of a killed queued `send` joins the waiting item and
// leaves one file at the receiver; a `listen` killed with -9 mid-transfer resumes from the
// partial it kept and leaves one verified file and no partial.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BIN, gatedSource, kill9, randomFile, sha256File, startCli, startPeer, tempDir, throttle, until, waitFor } from './helpers.ts'
import { NodeFileSource } from '../src/index.ts'
import type { NodePeer } from '../src/index.ts'
import type { Proc } from './helpers.ts'

/** `subwire listen --json` whose stdout the test reads only when it wants to. */
function slowListener (args: string[]): { proc: Proc, text: () => string, pause: () => void, drain: () => Promise<string> } {
  const child = spawn(process.execPath, [BIN, ...args], { detached: true })
  let text = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d: string) => { text += d })
  const exited = new Promise<number | null>((resolve) => { child.on('exit', (code) => { resolve(code) }) })
  const ended = new Promise<void>((resolve) => { child.stdout.on('end', resolve) })
  return {
    proc: { child, lines: [], exited },
    text: () => text,
    pause: () => { child.stdout.pause() },
    // reads what the pipe still holds after the listener is gone
    drain: async () => { child.stdout.resume(); await ended; return text }
  }
}

/** A UDP port free right now on 127.0.0.1 (for a receiver that must be down first and then come up at a known address). */
async function freeUdpPort (): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => { socket.bind(0, '127.0.0.1', resolve) })
  const { port } = socket.address()
  await new Promise<void>((resolve) => { socket.close(() => { resolve() }) })
  return port
}

const messageIds = (text: string): string[] => text.split('\n').flatMap((l) => {
  try {
    const j = JSON.parse(l) as { event?: string, id?: string }
    return j.event === 'message' && typeof j.id === 'string' ? [j.id] : []
  } catch { return [] }
})

describe('the CLI keeps exactly-once', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const procs: Proc[] = []
  const home = (n: string): string => join(dir, n)

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-cli-integrity-'))
    for (const [n, uri] of [['alice', '//Alice'], ['bob', '//Bob']] as const) {
      const r = spawnSync(process.execPath, [BIN, '--home', home(n), 'init', '--hotkey-uri', uri, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
  })

  after(async () => {
    for (const p of procs) kill9(p)
    await cleanup()
  })

  it('listen --json acknowledges a message only after its line is written: a slow consumer, then kill -9, loses none', async () => {
    const first = slowListener(['--home', home('bob'), 'listen', '--json'])
    procs.push(first.proc)
    await waitFor(() => first.text().includes('"listening"'), 20_000, 'the listener')
    const listening = JSON.parse(first.text().split('\n').find((l) => l.includes('"listening"')) as string) as { multiaddrs: string[] }
    const addr = listening.multiaddrs.find((a) => a.includes('/quic-v1/')) as string
    first.pause() // the consumer stops reading: the pipe fills
    const alice: NodePeer = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [], home: join(dir, 'alice-lib') })
    let second: Proc | undefined
    try {
      const acked = new Set<string>()
      alice.outbox?.on('queue:delivered', ({ item }) => { acked.add(item.id) })
      const sent: string[] = []
      const pad = 'x'.repeat(150)
      for (let i = 0; i < 1500; i++) sent.push(await alice.message(addr, 'step', { i, pad }, { queue: true }))
      // deliveries stall once the pipe is full (with an unbounded buffer they would all be acked)
      await waitFor(() => acked.size >= 100, 30_000, 'some deliveries')
      let last = -1
      await waitFor(() => { const still = acked.size === last; last = acked.size; return still || acked.size === sent.length }, 30_000, 'deliveries to stall')
      const ackedAtKill = new Set(acked)
      kill9(first.proc)
      await first.proc.exited
      const firstRun = messageIds(await first.drain())
      const missing = [...ackedAtKill].filter((id) => !firstRun.includes(id))
      // every message acknowledged before the kill is in what the consumer could read
      assert.deepEqual(missing, [], `${missing.length} of ${ackedAtKill.size} acknowledged messages are not in the output`)
      // and the rest arrive when the listener is back
      const port = /\/udp\/(\d+)\//.exec(addr)?.[1] as string
      second = startCli(['--home', home('bob'), 'listen', '--json', '--listen', `/ip4/127.0.0.1/udp/${port}/quic-v1`])
      procs.push(second)
      const back = second
      await until(() => back.lines.find((l) => l.event === 'listening'), 30_000, 'the listener back')
      // the items wait out their backoff (1 s doubling while the listener was down): allow until
      // the latest next attempt is due, and a minute more for the deliveries themselves
      const due = Math.max(0, ...((await alice.outbox?.list()) ?? []).map((e) => e.nextAttemptAt - Date.now()))
      await waitFor(async () => (await alice.outbox?.list())?.length === 0, due + 60_000, 'the outbox to empty')
      const all = new Set([...firstRun, ...second.lines.filter((l) => l.event === 'message').map((l) => l.id as string)])
      assert.deepEqual(sent.filter((id) => !all.has(id)), [], 'every message was delivered')
    } finally {
      // a failure must not leave a listener holding bob's home for the next test
      kill9(first.proc)
      if (second !== undefined) kill9(second)
      await alice.stop()
    }
  })

  it('a re-run of a killed queued send joins the waiting item: one file at the receiver, an empty outbox', async () => {
    const bob = startCli(['--home', home('bob'), 'listen', '--json', '--min-free', '0'])
    procs.push(bob)
    const l = await until(() => bob.lines.find((x) => x.event === 'listening'), 20_000, 'the listener')
    const addr = (l.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string
    const file = join(dir, 'f2.bin')
    const size = 96 * 1024 * 1024
    await randomFile(file, size)
    const first = startCli(['--home', home('alice'), 'send', addr, file, '--json'])
    procs.push(first)
    // the receiver crawls from the first bytes on, so the send is killed before it ends on any machine
    await until(() => first.lines.find((x) => x.event === 'progress'), 60_000, 'the first bytes')
    const unthrottle = throttle(bob)
    try {
      await until(() => first.lines.find((x) => x.event === 'progress' && (x.bytes as number) >= size / 4 && (x.bytes as number) < size), 120_000, 'a quarter of the file')
      kill9(first)
      await first.exited
    } finally { unthrottle() }
    const again = startCli(['--home', home('alice'), 'send', addr, file, '--json'])
    procs.push(again)
    assert.equal(await again.exited, 0)
    assert.ok(again.lines.some((x) => x.event === 'joined'), 'the re-run says it joined the waiting item')
    await until(() => bob.lines.find((x) => x.event === 'file'), 10_000, 'the file event')
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const inbox = await readdir(join(home('bob'), 'files', 'inbox', '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'))
    assert.deepEqual(inbox, ['f2.bin'])
    assert.equal(await sha256File(join(home('bob'), 'files', 'inbox', '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY', 'f2.bin')), await sha256File(file))
    const list = spawnSync(process.execPath, [BIN, '--home', home('alice'), 'queue', 'list', '--json'], { encoding: 'utf8' })
    assert.equal(list.status, 0, list.stderr)
    assert.equal(list.stdout.trim(), '', 'the outbox is empty')
    kill9(bob)
  })

  it('a receiver killed with -9 mid-transfer resumes after a restart: one file, the source SHA-256, no partial left', async () => {
    // a home of its own: no listener of another test can hold it
    const r = spawnSync(process.execPath, [BIN, '--home', home('bob-k9'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const listen = async (): Promise<{ proc: Proc, addr: string }> => {
      const proc = startCli(['--home', home('bob-k9'), 'listen', '--json', '--min-free', '0'])
      procs.push(proc)
      const l = await until(() => proc.lines.find((x) => x.event === 'listening'), 20_000, 'the listener')
      return { proc, addr: (l.multiaddrs as string[]).find((a) => a.includes('/quic-v1/')) as string }
    }
    const files = join(home('bob-k9'), 'files')
    const inbox = join(files, 'inbox', '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')
    const file = join(dir, 'k9.bin')
    const size = 96 * 1024 * 1024
    await randomFile(file, size)
    const alice: NodePeer = await startPeer({ uri: '//Alice', transports: ['quic'], listen: [], home: join(dir, 'alice-k9') })
    try {
      const first = await listen()
      // held at chunk 48 (half way) while the receiver is killed: a progress event past half
      // way could be the last one on a fast machine, and the file would be complete
      const inner = await NodeFileSource.open(file)
      const src = gatedSource(inner, 48)
      const sending = alice.sendFile(first.addr, src, {
        onProgress: (e) => { if (e.type === 'transfer:bytes') src.armed = true }
      }).then(() => undefined, (e: Error) => e)
      await src.reached
      kill9(first.proc) // the whole process group: the launcher and the peer it runs
      const code = await first.proc.exited
      src.release()
      assert.equal(code, null, 'it died of the signal')
      const parts = (await readdir(join(files, 'partial'))).filter((n) => n.endsWith('.part'))
      assert.equal(parts.length, 1, 'the killed receiver left its partial')
      const second = await listen()
      const failure = await sending
      await inner.close()
      assert.ok(failure instanceof Error, 'the first attempt failed')
      const result = await alice.sendFile(second.addr, file)
      assert.ok(result.resumedFrom > 0 && result.resumedFrom < size, `resumed from what the killed receiver kept (${result.resumedFrom} of ${size})`)
      await until(() => second.proc.lines.find((x) => x.event === 'file' && x.blake3 === result.blake3), 10_000, 'the file event')
      assert.deepEqual(await readdir(inbox), ['k9.bin'], 'one file')
      assert.equal(await sha256File(join(inbox, 'k9.bin')), await sha256File(file))
      assert.deepEqual(await readdir(join(files, 'partial')), [], 'no partial left behind')
      kill9(second.proc)
    } finally { await alice.stop() }
  })
})

describe('Ctrl-C of a waiting send, then the same send again', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const procs: Proc[] = []
  const home = (n: string): string => join(dir, n)
  const cli = (args: string[]): { status: number | null, stdout: string, stderr: string } => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 })
  const outbox = (h: string): Array<{ id: string }> => {
    const r = cli(['--home', h, 'queue', 'list', '--json'])
    assert.equal(r.status, 0, r.stderr)
    return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { id: string })
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-cli-ctrl-c-'))
  })

  after(async () => {
    for (const p of procs) kill9(p)
    await cleanup()
  })

  for (const listener of [false, true]) {
    it(`exits 3 and keeps the item; the re-run joins it: one item meanwhile, one file at the receiver (${listener ? 'with' : 'without'} the sender's listener)`, async () => {
      const tag = listener ? 'with' : 'without'
      const [alice, bob] = [home(`alice-${tag}`), home(`bob-${tag}`)]
      // the receiver is down at a known address until the re-run has joined the item
      const port = await freeUdpPort()
      assert.equal(cli(['--home', alice, 'init', '--hotkey-uri', '//Alice', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
      assert.equal(cli(['--home', bob, 'init', '--hotkey-uri', '//Bob', '--listen', `/ip4/127.0.0.1/udp/${port}/quic-v1`]).status, 0)
      const bobId = JSON.parse(cli(['--home', bob, 'id', '--json']).stdout) as { peerId: string }
      const addr = `/ip4/127.0.0.1/udp/${port}/quic-v1/p2p/${bobId.peerId}`
      const file = join(dir, `ckpt-${tag}.bin`)
      await randomFile(file, 1024 * 1024)
      if (listener) {
        const own = startCli(['--home', alice, 'listen', '--json'])
        procs.push(own)
        await until(() => own.lines.find((x) => x.event === 'listening'), 30_000, 'the sender\'s listener')
      }
      const first = startCli(['--home', alice, 'send', addr, file, '--json'])
      procs.push(first)
      await until(() => first.lines.find((x) => x.event === 'retry'), 60_000, 'a failed attempt')
      // a terminal's Ctrl-C signals the whole foreground process group: the launcher and its child
      process.kill(-(first.child.pid as number), 'SIGINT')
      assert.equal(await first.exited, 3)
      const queued = first.lines.find((x) => x.event === 'queued')?.id
      assert.ok(first.lines.some((x) => x.event === 'interrupted' && x.id === queued), 'it says the item stays queued')
      assert.deepEqual(outbox(alice).map((i) => i.id), [queued])

      const again = startCli(['--home', alice, 'send', addr, file, '--json'])
      procs.push(again)
      await until(() => again.lines.find((x) => x.event === 'joined' && x.id === queued), 60_000, 'the re-run to join the item')
      assert.deepEqual(outbox(alice).map((i) => i.id), [queued], 'one item while the re-run waits')
      assert.ok(!again.lines.some((x) => x.event === 'queued'), 'nothing queued a second time')

      const receiver = startCli(['--home', bob, 'listen', '--json', '--min-free', '0'])
      procs.push(receiver)
      assert.equal(await again.exited, 0)
      assert.ok(again.lines.some((x) => x.event === 'sent' && x.id === queued), 'the re-run reports the delivery')
      await until(() => receiver.lines.find((x) => x.event === 'file'), 10_000, 'the file at the receiver')
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const inbox = join(bob, 'files', 'inbox', '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')
      assert.deepEqual(await readdir(inbox), [`ckpt-${tag}.bin`])
      assert.equal(await sha256File(join(inbox, `ckpt-${tag}.bin`)), await sha256File(file))
      assert.deepEqual(outbox(alice), [], 'the outbox is empty')
      for (const p of procs.splice(0)) kill9(p)
    })
  }
})
