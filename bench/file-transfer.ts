// File-transfer benchmark: `npm run bench:files [-- --size-mib 2048 --transports quic,tcp --encrypt on,off --runs 1]`.
// Two real `subwire` processes on 127.0.0.1 (a listener and a sender), a random file on
// disk, disk to disk. Reports MB/s (hashing included, and the transfer alone) and both
// sides' peak RSS (VmHWM of every process of each side, sampled from /proc). Writes
// bench/results/files-<timestamp>.json and prints a table. Not a test: no thresholds.
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { cpus, release, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { 'size-mib': { type: 'string', default: '2048' }, transports: { type: 'string', default: 'quic,quic-only,tcp' }, runs: { type: 'string', default: '1' }, encrypt: { type: 'string', default: 'on,off' }, out: { type: 'string' } } })
const sizeMiB = Number(values['size-mib'])
const transports = (values.transports as string).split(',')
const runs = Number(values.runs)
const encryptModes = (values.encrypt as string).split(',').map((m) => m === 'on')
const BIN = new URL('../packages/peer-node/bin/subwire.js', import.meta.url).pathname

function descendants (pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)])
    } catch {}
  }
  const out = [pid]
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i] as number) ?? []))
  return out
}

const TICKS = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/**
 * Peak RSS (MiB) of the largest process in a tree and the CPU seconds (user + system) of
 * all of them, sampled every 100 ms until stopped (the last sample of a process counts).
 */
function watchProc (pid: number): { stop: () => { peakMiB: number, cpuSeconds: number } } {
  let peak = 0
  const cpu = new Map<number, number>()
  const sample = (): void => {
    for (const p of descendants(pid)) {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
        if (m !== null) peak = Math.max(peak, Number(m[1]) / 1024)
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        cpu.set(p, (Number(f[11]) + Number(f[12])) / TICKS)
      } catch {}
    }
  }
  const timer = setInterval(sample, 100)
  return {
    stop: () => {
      sample()
      clearInterval(timer)
      return { peakMiB: Math.round(peak), cpuSeconds: [...cpu.values()].reduce((a, b) => a + b, 0) }
    }
  }
}

async function sha256 (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const c of createReadStream(path)) h.update(c as Buffer)
  return h.digest('hex')
}

const dir = await mkdtemp(join(tmpdir(), 'subwire-bench-'))
const rows: Array<Record<string, unknown>> = []
try {
  for (const [n, uri] of [['alice', '//Alice'], ['bob', '//Bob']] as const) {
    spawnSync(process.execPath, [BIN, '--home', join(dir, n), 'init', '--hotkey-uri', uri, '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: 'ignore' })
  }
  // 'quic-only': a receiver that listens on QUIC alone, so a large file stays on QUIC (to a
  // receiver with TCP too, a file of 64 MiB or more goes over TCP: SubwireInit.bulk)
  spawnSync(process.execPath, [BIN, '--home', join(dir, 'bobq'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'], { stdio: 'ignore' })
  const file = join(dir, 'src.bin')
  const fh = await open(file, 'w')
  for (let done = 0; done < sizeMiB;) { const n = Math.min(64, sizeMiB - done); await fh.write(randomBytes(n << 20)); done += n }
  await fh.close()
  const sourceSha = await sha256(file)
  const cases = transports.flatMap((transport) => encryptModes.filter((e) => transport !== 'quic-only' || e).flatMap((encrypted) => Array.from({ length: runs }, (_, run) => ({ transport, encrypted, run, resend: false }))))
  // and once more a re-send of the same file to a fresh receiver, with the sender's outboard kept
  if (transports.includes('quic') && encryptModes.includes(true)) cases.push({ transport: 'quic', encrypted: true, run: 0, resend: true })
  for (const { transport, encrypted, run, resend } of cases) {
    {
      const receiverHome = join(dir, transport === 'quic-only' ? 'bobq' : 'bob')
      await rm(join(receiverHome, 'files'), { recursive: true, force: true })
      // every send but the re-send hashes the file afresh: the outboard of the last one goes
      if (!resend) await rm(join(dir, 'alice', 'outboard'), { recursive: true, force: true })
      const bob = spawn(process.execPath, [BIN, '--home', receiverHome, 'listen', '--json', '--min-free', '0'])
      const bobExited = new Promise((resolve) => { bob.on('exit', resolve) })
      const bobProc = watchProc(bob.pid as number)
      const bobLines: Array<Record<string, unknown>> = []
      createInterface({ input: bob.stdout }).on('line', (l) => { try { bobLines.push(JSON.parse(l)) } catch {} })
      while (!bobLines.some((l) => l.event === 'listening')) await new Promise((r) => setTimeout(r, 50))
      const addrs = bobLines.find((l) => l.event === 'listening')?.multiaddrs as string[]
      const addr = addrs.find((a) => transport === 'tcp' ? a.includes('/tcp/') : a.includes('/quic-v1/')) as string
      const bobCpu0 = bobProc.stop().cpuSeconds
      const bobRun = watchProc(bob.pid as number)
      const t0 = performance.now()
      const alice = spawn(process.execPath, [BIN, '--home', join(dir, 'alice'), 'send', addr, file, '--json', '--no-queue', ...(encrypted ? [] : ['--no-encrypt'])])
      const aliceProc = watchProc(alice.pid as number)
      const aliceLines: Array<Record<string, unknown>> = []
      let firstProgressMs: number | undefined
      createInterface({ input: alice.stdout }).on('line', (l) => {
        try {
          const j = JSON.parse(l) as Record<string, unknown>
          if (j.event === 'progress' && firstProgressMs === undefined) firstProgressMs = performance.now() - t0
          aliceLines.push(j)
        } catch {}
      })
      const code = await new Promise<number | null>((resolve) => { alice.on('exit', resolve) })
      const sender = aliceProc.stop()
      while (!bobLines.some((l) => l.event === 'file') && code === 0) await new Promise((r) => setTimeout(r, 50))
      const receiver = bobRun.stop()
      const gib = sizeMiB / 1024
      bob.kill('SIGINT')
      const sent = aliceLines.find((l) => l.event === 'sent') as { ms: number, size: number } | undefined
      const hashing = aliceLines.filter((l) => l.event === 'hashing').pop() as { rate: number } | undefined
      const lastProgress = aliceLines.filter((l) => l.event === 'progress').pop() as { rate: number } | undefined
      const received = bobLines.find((l) => l.event === 'file') as { path: string } | undefined
      const row = {
        transport,
        encrypted,
        resend,
        run: run + 1,
        sizeMiB,
        ok: code === 0 && received !== undefined && await sha256(received.path) === sourceSha,
        mbPerSecondTotal: sent === undefined ? null : Math.round(sent.size / 1e6 / (sent.ms / 1000)),
        mbPerSecondTransfer: lastProgress === undefined ? null : Math.round(lastProgress.rate / 1e6),
        hashingMBps: hashing === undefined ? null : Math.round(hashing.rate / 1e6),
        // the first progress line comes from the first chunks the receiver credited (a whole-process start included)
        firstProgressSeconds: firstProgressMs === undefined ? null : Math.round(firstProgressMs / 100) / 10,
        senderCpuSecondsPerGiB: Math.round(sender.cpuSeconds / gib * 10) / 10,
        receiverCpuSecondsPerGiB: Math.round((receiver.cpuSeconds - bobCpu0) / gib * 10) / 10,
        senderPeakRssMiB: sender.peakMiB,
        receiverPeakRssMiB: receiver.peakMiB
      }
      rows.push(row)
      await bobExited
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

const result = {
  benchmark: 'file-transfer',
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  kernel: release(),
  note: 'two subwire CLI processes on 127.0.0.1, disk to disk, BLAKE3-verified chunks, end-to-end encryption on (AES-256-GCM) or off; MB = 10^6 bytes; total is from `send` to the ack; a first send streams its manifest (chunks hashed as they go), a re-send takes the kept outboard',
  rows
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
const out = new URL(`./results/files-${result.date.replace(/[:.]/g, '-')}.json`, import.meta.url)
writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
if (values.out !== undefined) writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n')
process.stdout.write(`\nfile transfer, ${sizeMiB} MiB, ${result.cpu} x${result.cores}, Node ${result.node}\n`)
process.stdout.write('transport e2e run ok    total MB/s  transfer MB/s  hashing MB/s  first progress s  CPU s/GiB S/R  sender peak RSS  receiver peak RSS\n')
for (const r of rows) {
  process.stdout.write(`${String(r.transport).padEnd(9)} ${(r.encrypted === true ? 'on' : 'off').padEnd(3)} ${(r.resend === true ? 're' : String(r.run)).padEnd(3)} ${String(r.ok).padEnd(5)} ${String(r.mbPerSecondTotal).padStart(10)}  ${String(r.mbPerSecondTransfer).padStart(13)}  ${String(r.hashingMBps).padStart(12)}  ${String(r.firstProgressSeconds).padStart(16)}  ${`${String(r.senderCpuSecondsPerGiB)} / ${String(r.receiverCpuSecondsPerGiB)}`.padStart(13)}  ${String(r.senderPeakRssMiB).padStart(12)} MiB  ${String(r.receiverPeakRssMiB).padStart(14)} MiB\n`)
}
process.stdout.write(`written to ${out.pathname}\n`)
