// Flood benchmark: `npm run bench:flood [-- --seconds 10]`. A `subwire listen` process
// (//Bob, default limits) on 127.0.0.1; an authenticated client (//Alice) in this process
// sends sequential 1 KiB echo requests, idle and then while a second process floods Bob
// with garbage TCP connections, random UDP datagrams at the QUIC port, garbage and
// oversized handshakes and silent connections. Also measures completed handshakes per
// second from one IP (fresh connection, full sr25519 handshake, hang up). Reports like
// btlightning's table. Writes bench/results/flood-<timestamp>.json. No thresholds.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { createNodePeer, loadHotkey } from '../packages/peer-node/src/index.ts'
import { flood, measure } from '../packages/peer-node/test/fixtures/flood.ts'
import type { FloodCounts } from '../packages/peer-node/test/fixtures/flood.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, worker: { type: 'string' } } })
const seconds = Number(values.seconds)

if (values.worker !== undefined) {
  // the flooding process
  const counts = await flood({ multiaddrs: JSON.parse(values.worker) as string[] }, { durationMs: seconds * 1000, workers: 4 })
  process.stdout.write(JSON.stringify(counts) + '\n')
  process.exit(0)
}

const BIN = new URL('../packages/peer-node/bin/subwire.js', import.meta.url).pathname
const dir = await mkdtemp(join(tmpdir(), 'subwire-flood-'))
spawnSync(process.execPath, [BIN, '--home', join(dir, 'bob'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: 'ignore' })
const bob = spawn(process.execPath, [BIN, '--home', join(dir, 'bob'), 'listen', '--json'], { detached: true })
const lines: Array<Record<string, unknown>> = []
createInterface({ input: bob.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l)) } catch {} })
while (!lines.some((l) => l.event === 'listening')) await new Promise((resolve) => setTimeout(resolve, 50))
const multiaddrs = lines.find((l) => l.event === 'listening')?.multiaddrs as string[]
const dest = multiaddrs.find((a) => a.includes('/quic-v1/')) as string

const alice = await createNodePeer({ signer: await loadHotkey({ uri: '//Alice' }), netuids: [42], listen: [], transports: ['quic', 'tcp'] })
await alice.start()
let result: Record<string, unknown>
try {
  await alice.request(dest, 'echo', 1)
  await measure(alice, dest, { count: 300 }) // warm-up
  const idle = await measure(alice, dest, { count: 3000 })

  // completed handshakes per second from one IP: a fresh connection each time
  const charlie = await createNodePeer({ signer: await loadHotkey({ uri: '//Charlie' }), netuids: [42], listen: [], transports: ['quic'] })
  await charlie.start()
  let handshakes = 0
  let refused = 0
  const hsStart = performance.now()
  while (performance.now() - hsStart < 3000) {
    try {
      await charlie.connect(dest)
      handshakes++
      await charlie.libp2p.hangUp(charlie.libp2p.getConnections()[0]?.remotePeer as never)
    } catch {
      refused++
    }
  }
  const handshakesPerSecond = Math.round(handshakes / ((performance.now() - hsStart) / 1000))
  await charlie.stop()
  await new Promise((resolve) => setTimeout(resolve, 1500)) // let the per-IP window pass

  // the attacker would be another machine: here it shares our 2 cores, so it runs at the lowest CPU priority
  const worker = spawn('nice', ['-n', '19', process.execPath, new URL(import.meta.url).pathname, '--worker', JSON.stringify(multiaddrs), '--seconds', String(seconds)])
  let out = ''
  worker.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const workerDone = new Promise<void>((resolve) => { worker.on('exit', () => { resolve() }) })
  const controller = new AbortController()
  await new Promise((resolve) => setTimeout(resolve, 500)) // the flood is running
  const busy = measure(alice, dest, { signal: controller.signal })
  await workerDone
  controller.abort()
  const during = await busy
  const counts = JSON.parse(out.trim().split('\n').pop() as string) as FloodCounts
  const s = counts.ms / 1000
  result = {
    benchmark: 'flood',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    kernel: release(),
    note: 'listener in its own process with default limits; flood from a second process; client in a third (this one); 1 KiB echo over QUIC, sequential',
    flood: {
      seconds: s,
      tcpGarbageAcceptedPerSecond: Math.round(counts.tcpGarbage / s),
      udpGarbagePerSecond: Math.round(counts.udpGarbage / s),
      garbageHandshakesPerSecond: Math.round(counts.garbageHandshakes / s),
      silentConnectionsPerSecond: Math.round(counts.silentConnections / s),
      refusedDialsPerSecond: Math.round(counts.refusedDials / s)
    },
    handshakesCompletedPerSecondFromOneIp: handshakesPerSecond,
    handshakeAttemptsRefused: refused,
    idle,
    duringFlood: during,
    p99Ratio: Math.round(during.p99 / idle.p99 * 100) / 100,
    listenerAlive: bob.exitCode === null
  }
} finally {
  await alice.stop()
  try { process.kill(-(bob.pid as number), 'SIGKILL') } catch {}
  await rm(dir, { recursive: true, force: true })
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
const file = new URL(`./results/flood-${String(result.date).replace(/[:.]/g, '-')}.json`, import.meta.url)
writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
const f = result.flood as Record<string, number>
const idle = result.idle as { p50: number, p99: number, n: number }
const during = result.duringFlood as { p50: number, p99: number, n: number, failures: number }
process.stdout.write(`\nflood, ${String(result.cpu)} x${String(result.cores)}, Node ${process.version}, ${f.seconds} s\n`)
process.stdout.write(`garbage TCP connections accepted/s   ${f.tcpGarbageAcceptedPerSecond}\n`)
process.stdout.write(`garbage UDP datagrams/s              ${f.udpGarbagePerSecond}\n`)
process.stdout.write(`garbage/oversized handshakes/s       ${f.garbageHandshakesPerSecond}\n`)
process.stdout.write(`silent connections/s                 ${f.silentConnectionsPerSecond}\n`)
process.stdout.write(`dials refused (limits)/s             ${f.refusedDialsPerSecond}\n`)
process.stdout.write(`handshakes completed/s (one IP)      ${String(result.handshakesCompletedPerSecondFromOneIp)} (default limit: 50 inbound connections/s per IP)\n`)
process.stdout.write(`client 1 KiB echo p50/p99 idle       ${idle.p50.toFixed(3)} / ${idle.p99.toFixed(3)} ms (${idle.n} requests)\n`)
process.stdout.write(`client 1 KiB echo p50/p99 flood      ${during.p50.toFixed(3)} / ${during.p99.toFixed(3)} ms (${during.n} requests, ${during.failures} failed)\n`)
process.stdout.write(`p99 flood / idle                     ${String(result.p99Ratio)}x\n`)
process.stdout.write(`written to ${file.pathname}\n`)
process.exit(0)
