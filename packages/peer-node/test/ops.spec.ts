// Running subwire in production: Prometheus metrics during real traffic, JSON log lines
// that parse one by one and never hold a secret, and `status` with transfers in flight
// (a real 128 MiB receive, the sender throttled with SIGSTOP/SIGCONT while status is asked).
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { jsonComponentLogger, jsonLogLine, redact } from '../src/ops/log.ts'
import { controlRequest } from '../src/control.ts'
import { BIN, kill9, randomFile, startCli, tempDir, until, waitFor } from './helpers.ts'
import type { Proc } from './helpers.ts'
import type { TransferInFlight } from '../src/ops/transfers.ts'

/** A secret URI the logs must never show (a mnemonic-derived dev-looking key, not //Alice). */
const MNEMONIC = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk'
/** //Bob's hotkey: the sender of the files. */
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'

const run = (args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } })

/** `subwire ARGS` to its end, without blocking the test's own event loop. */
async function runAsync (args: string[]): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8') })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  const status = await new Promise<number | null>((resolve) => { child.once('close', (code) => { resolve(code) }) })
  return { status, stdout, stderr }
}

/** The value of one sample of the Prometheus text, 0 if absent. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z0-9_:]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3])
  }
  return 0
}

describe('subwire listen in production', () => {
  let dir: string
  let cleanup: () => Promise<void>
  const procs: Proc[] = []
  let listener: Proc
  let stderr = ''
  let addr: string
  let metricsUrl: string

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-ops-'))
    await writeFile(join(dir, 'mnemonic'), MNEMONIC)
    assert.equal(run(['--home', join(dir, 'a'), 'init', '--mnemonic-file', join(dir, 'mnemonic'), '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
    assert.equal(run(['--home', join(dir, 'b'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
    listener = startCli(['--home', join(dir, 'a'), '--log-format', 'json', 'listen', '--metrics', '127.0.0.1:0', '--api', '127.0.0.1:0'])
    procs.push(listener)
    listener.child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
    const listening = await until(() => listener.lines.find((l) => l.event === 'listening'), 30_000, 'the listener') as { multiaddrs: string[] }
    addr = listening.multiaddrs[0] as string
    metricsUrl = (listener.lines.find((l) => l.event === 'metrics') as { url: string }).url
  })

  after(async () => {
    for (const p of procs) kill9(p)
    await cleanup()
  })

  it('serves Prometheus text whose RPC, handshake and transfer counters move with real traffic', async () => {
    const before = await (await fetch(metricsUrl)).text()
    assert.match(before, /# TYPE subwire_rpc_requests_total counter/)
    assert.match(before, /# TYPE subwire_rpc_request_duration_seconds histogram/)
    assert.match(before, /libp2p_data_transfer_bytes_total|nodejs_memory_usage_bytes/)
    assert.equal(sample(before, 'subwire_rpc_requests_total', { type: 'echo', outcome: 'ok' }), 0)

    assert.equal(run(['--home', join(dir, 'b'), 'query', addr, 'echo', '{"x":1}']).status, 0)
    assert.equal(run(['--home', join(dir, 'b'), 'query', addr, 'no-such-type', '{}']).status, 1)
    const file = join(dir, 'f.bin')
    await randomFile(file, 8 * 1024 * 1024)
    const sent = run(['--home', join(dir, 'b'), 'send', addr, file])
    assert.equal(sent.status, 0, String(sent.stderr))

    const text = await (await fetch(metricsUrl)).text()
    assert.equal(sample(text, 'subwire_rpc_requests_total', { kind: 'rpc', type: 'echo', outcome: 'ok' }), 1)
    assert.equal(sample(text, 'subwire_rpc_requests_total', { kind: 'rpc', type: '_unknown', outcome: 'UnknownRpcTypeError' }), 1)
    assert.equal(sample(text, 'subwire_rpc_request_duration_seconds_count', { kind: 'rpc', type: 'echo' }), 1)
    assert.ok(sample(text, 'subwire_handshakes_completed_total', { transport: 'quic', direction: 'inbound' }) >= 3)
    assert.equal(sample(text, 'subwire_transfers_completed_total', { direction: 'in' }), 1)
    assert.equal(sample(text, 'subwire_transfers_active', { direction: 'in' }), 0)
    assert.equal(sample(text, 'subwire_transfer_bytes_total', { direction: 'in' }), 8 * 1024 * 1024)
    assert.ok(sample(text, 'libp2p_data_transfer_bytes_total', { protocol: '/subwire/sn/42/file/1.0.0 received' }) >= 8 * 1024 * 1024)
    assert.equal(sample(text, 'subwire_outbox_items', { state: 'dead' }), 0)
    assert.match(text, /^subwire_buffered_bytes \d+$/m)
  })

  it('answers status with its addresses, connections, transfers in flight and outbox', () => {
    const r = run(['--home', join(dir, 'a'), '--json', 'status'])
    assert.equal(r.status, 0, String(r.stderr))
    const s = JSON.parse(String(r.stdout)) as { event: string, multiaddrs: string[], transfers: unknown[], outbox: { pending: number }, peers: unknown[] }
    assert.equal(s.event, 'status')
    assert.deepEqual(s.transfers, [])
    assert.equal(s.outbox.pending, 0)
    assert.ok(s.multiaddrs.includes(addr))
  })

  it('shows a file being received in status, with its progress, while it is in flight', async () => {
    const size = 128 * 1024 * 1024
    const file = join(dir, 'big.bin')
    await randomFile(file, size)
    const sender = startCli(['--home', join(dir, 'b'), '--json', 'send', addr, file])
    procs.push(sender)
    const inFlight = async (): Promise<TransferInFlight[]> => {
      let transfers: TransferInFlight[] = []
      await controlRequest(join(dir, 'a'), { op: 'status' }, (e) => { if (e.event === 'status') transfers = e.transfers as TransferInFlight[] })
      return transfers
    }
    // as soon as bytes move, throttle the sender (launcher and peer): stopped, let run for
    // 50 ms every second, so the transfer stays in flight however slowly the status commands
    // start on a busy machine, and never looks stalled to the receiver (SENDER_STALL_MS, 30 s)
    await waitFor(async () => (await inFlight()).some((t) => t.bytes > 0), 30_000, 'the transfer to move bytes')
    const group = -(sender.child.pid as number)
    process.kill(group, 'SIGSTOP')
    const throttle = setInterval(() => {
      process.kill(group, 'SIGCONT')
      setTimeout(() => { try { process.kill(group, 'SIGSTOP') } catch {} }, 50)
    }, 1000)
    try {
      const [r, human] = await Promise.all([runAsync(['--home', join(dir, 'a'), '--json', 'status']), runAsync(['--home', join(dir, 'a'), 'status'])])
      assert.equal(r.status, 0, r.stderr)
      const [t, ...others] = (JSON.parse(r.stdout) as { transfers: TransferInFlight[] }).transfers
      assert.deepEqual(others, [])
      assert.ok(t !== undefined)
      assert.equal(t.direction, 'in')
      assert.equal(t.peer, BOB)
      assert.equal(t.name, 'big.bin')
      assert.equal(t.total, size)
      assert.ok(t.bytes > 0 && t.bytes < size, `${t.bytes} of ${size} bytes`)
      assert.ok(t.rate > 0)
      assert.equal(human.status, 0, human.stderr)
      assert.match(human.stdout, /^transfers 1$/m)
      assert.match(human.stdout, new RegExp(`^ {2}from ${BOB}: big\\.bin \\S+ \\S+ / 128\\.0 MiB \\(\\d{1,2}%, \\S+ \\S+/s\\)$`, 'm'))
      assert.equal(sample(await (await fetch(metricsUrl)).text(), 'subwire_transfers_active', { direction: 'in' }), 1)
      // the progress is live: it moves on while the transfer does
      await waitFor(async () => (await inFlight()).some((x) => x.bytes > t.bytes), 30_000, 'the progress to move')
    } finally {
      clearInterval(throttle)
      setTimeout(() => { process.kill(group, 'SIGCONT') }, 100) // after the last tick's SIGSTOP
    }
    assert.equal(await sender.exited, 0)
    await waitFor(async () => (await inFlight()).length === 0, 10_000, 'the transfer to end')
    assert.ok(listener.lines.some((l) => l.event === 'file' && l.name === 'big.bin' && l.size === size))
  })

  it('writes only JSON lines with level, time, component and event, and never the secret', async () => {
    process.kill(listener.child.pid as number, 'SIGTERM')
    assert.equal(await listener.exited, 0)
    await waitFor(() => listener.lines.some((l) => l.event === 'stopping'), 5000, 'the stopping line')
    for (const l of listener.lines) {
      assert.equal(typeof l.level, 'string')
      assert.ok(!Number.isNaN(Date.parse(String(l.time))))
      assert.equal(l.component, 'subwire:cli')
      assert.equal(typeof l.event, 'string')
    }
    for (const line of stderr.split('\n').filter((x) => x !== '')) {
      const l = JSON.parse(line) as Record<string, unknown>
      assert.ok(['warn', 'error', 'debug', 'trace', 'info'].includes(String(l.level)), line)
    }
    const all = JSON.stringify(listener.lines) + stderr
    assert.ok(!all.includes('bottom drive'), 'the mnemonic is never logged')
    assert.ok(listener.lines.some((l) => l.event === 'file'))
  })

  it('library logs (DEBUG=subwire*) are JSON too, and redact secret-named fields', () => {
    const r = run(['--home', join(dir, 'b'), '--log-format', 'json', 'query', addr, 'echo', '{}'], { DEBUG: 'subwire*' })
    assert.equal(r.status, 1) // the listener is gone
    const lines = String(r.stderr).split('\n').filter((x) => x !== '').map((x) => JSON.parse(x) as Record<string, unknown>)
    assert.ok(lines.some((l) => String(l.component).startsWith('subwire:') && l.level === 'debug'))
    assert.equal(lines.at(-1)?.level, 'error')
    assert.deepEqual(redact({ uri: MNEMONIC, nested: { apiToken: 'x', mnemonic: MNEMONIC }, ok: 1 }), { uri: '[redacted]', nested: { apiToken: '[redacted]', mnemonic: '[redacted]' }, ok: 1 })
    assert.ok(!jsonLogLine('info', 'subwire:cli', 'x', { secretUri: MNEMONIC }).includes('bottom'))
    const out: string[] = []
    jsonComponentLogger({ write: (l) => out.push(l), enabled: () => true }).forComponent('subwire:test')('peer %p sent %s', 'QmPeer', 'hi')
    assert.equal((JSON.parse(out[0] as string) as { msg: string }).msg, 'peer QmPeer sent hi')
  })
})
