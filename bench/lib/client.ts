// Benchmark client, one process per run: `node bench/lib/client.ts <kind> <transport> <addr> <serverPid> <plan JSON>`.
// Runs btlightning's method against one server and prints one JSON result line:
//   cold: `cold` fresh connections, each timed from dial to the first reply (handshake included)
//   seq:  `sequential` calls one after another on a warm connection, per payload size
//   load: for each in-flight level, as many calls as fit in `durationMs`, per payload size,
//         with latency under load, bytes on the wire per request (the loopback interface's
//         byte counter in /proc/net/dev: every IP packet both ways, headers included, as
//         the kernel counted it; not a computed size), CPU time per request (both
//         processes) and peak RSS.
import { readFileSync } from 'node:fs'
import { createHash, createPrivateKey, randomUUID, sign as edSign, generateKeyPairSync } from 'node:crypto'
import { Agent, request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noise } from '@libp2p/noise'
import { tls } from '@libp2p/tls'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { createNodePeer, loadHotkey } from '@subwire/peer-node'
import type { Connection } from '@libp2p/interface'

interface Plan { payloads: number[], cold: number, sequential: number, inflight: number[], durationMs: number }
interface Rpc { request: (p: Uint8Array) => Promise<void>, close: () => Promise<void> }
interface Impl { open: () => Promise<Rpc>, stop: () => Promise<void> }

const [kind, transport, addr, serverPidArg, planArg] = process.argv.slice(2) as [string, string, string, string, string]
const serverPid = Number(serverPidArg)
const plan = JSON.parse(planArg) as Plan
// the RPC type the subwire rows ask for: `echo`, or `bench` for the Python-handler row
const RPC_TYPE = process.env.SUBWIRE_BENCH_TYPE ?? 'echo'
// more pids whose CPU counts as the server's (the Python handler beside its peer)
const extraServerPids = (process.env.SUBWIRE_BENCH_PIDS ?? '').split(',').filter((x) => x !== '').map(Number)

// --- implementations ----------------------------------------------------------

async function subwireImpl (): Promise<Impl> {
  const peer = await createNodePeer({ signer: await loadHotkey({ uri: '//Alice' }), netuids: [42], listen: [], transports: transport === 'quic+tcp' ? ['quic', 'tcp'] : [transport as 'quic' | 'tcp'], queue: false, protocol: { redial: false } })
  await peer.start()
  return {
    open: async () => {
      await peer.connect(addr)
      return {
        request: async (p) => { await peer.request(addr, RPC_TYPE, p) },
        close: async () => { for (const c of peer.libp2p.getConnections()) await c.close() }
      }
    },
    stop: async () => { await peer.stop() }
  }
}

async function perfImpl (): Promise<Impl> {
  const node = await createLibp2p({ transports: transport === 'quic' ? [quic()] : [tcp()], connectionEncrypters: [tls(), noise()], streamMuxers: [yamux()] })
  const perfOnce = async (conn: Connection, p: Uint8Array): Promise<void> => {
    const stream = await conn.newStream('/perf/1.0.0', { runOnLimitedConnection: false, maxOutboundStreams: 1024 })
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    let got = 0
    stream.addEventListener('message', (evt) => { got += evt.data.byteLength; if (got >= p.byteLength) resolve() })
    stream.addEventListener('remoteCloseWrite', () => { if (got >= p.byteLength) resolve(); else reject(new Error(`perf: ${got} of ${p.byteLength} bytes`)) })
    stream.addEventListener('close', (evt) => { if ((evt as { error?: Error }).error !== undefined) reject((evt as { error?: Error }).error) })
    const header = new Uint8Array(8)
    new DataView(header.buffer).setBigUint64(0, BigInt(p.byteLength))
    stream.send(header)
    if (!stream.send(p)) await new Promise((r) => { stream.addEventListener('drain', r, { once: true }) })
    await stream.close()
    await promise
  }
  return {
    open: async () => {
      const conn = await node.dial(multiaddr(addr))
      return { request: async (p) => { await perfOnce(conn, p) }, close: async () => { await conn.close() } }
    },
    stop: async () => { await node.stop() }
  }
}

async function tcpImpl (): Promise<Impl> {
  const [host, port] = addr.split(':') as [string, string]
  return {
    open: async () => {
      const socket = connect({ host, port: Number(port), noDelay: true })
      await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
      // replies come back in order: a FIFO of waiters, one per frame
      const waiting: Array<() => void> = []
      let buf = Buffer.alloc(0)
      socket.on('data', (d: Buffer) => {
        buf = buf.byteLength === 0 ? d : Buffer.concat([buf, d])
        let off = 0
        while (buf.byteLength - off >= 4) {
          const len = buf.readUInt32BE(off)
          if (buf.byteLength - off < 4 + len) break
          off += 4 + len
          waiting.shift()?.()
        }
        buf = buf.subarray(off)
      })
      return {
        request: async (p) => {
          const frame = Buffer.allocUnsafe(4 + p.byteLength)
          frame.writeUInt32BE(p.byteLength)
          frame.set(p, 4)
          const done = new Promise<void>((resolve) => { waiting.push(resolve) })
          socket.write(frame)
          await done
        },
        close: async () => { socket.destroy() }
      }
    },
    stop: async () => {}
  }
}

async function axonImpl (): Promise<Impl> {
  const [host, port] = addr.split(':') as [string, string]
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const hotkey = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')
  const key = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }))
  // nanoseconds since the epoch, strictly increasing (the axon accepts recent, unseen nonces)
  const epoch0 = BigInt(Date.now()) * 1_000_000n
  const hr0 = process.hrtime.bigint()
  let nonce = 0n
  return {
    open: async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 256 })
      // as a dendrite does: base64 payload, body hash, signed headers, a fresh nonce
      const post = async (payload: string, body: string, bodyHash: string): Promise<void> => {
        const uuid = randomUUID()
        const now = epoch0 + (process.hrtime.bigint() - hr0)
        nonce = now > nonce ? now : nonce + 1n
        const signature = edSign(null, Buffer.from(`${nonce}.${hotkey}.axon-bench.${uuid}.${bodyHash}`), key).toString('hex')
        await new Promise<void>((resolve, reject) => {
          const req = httpRequest({
            host, port: Number(port), path: '/Echo', method: 'POST', agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), bt_header_dendrite_hotkey: hotkey, bt_header_dendrite_nonce: String(nonce), bt_header_dendrite_uuid: uuid, bt_header_dendrite_signature: signature, computed_body_hash: bodyHash }
          }, (res) => {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () => {
              if (res.statusCode !== 200) { reject(new Error(`axon: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)); return }
              const reply = JSON.parse(Buffer.concat(chunks).toString()) as { payload: string }
              if (reply.payload.length !== payload.length) { reject(new Error('axon: wrong echo')); return }
              resolve()
            })
          })
          req.on('error', (err: NodeJS.ErrnoException) => { reject(Object.assign(err, { staleSocket: req.reusedSocket && err.code === 'ECONNRESET' })) })
          req.end(body)
        })
      }
      const call = async (p: Uint8Array): Promise<void> => {
        const payload = Buffer.from(p).toString('base64')
        const body = JSON.stringify({ payload })
        const bodyHash = createHash('sha3-256').update(payload).digest('hex')
        try {
          await post(payload, body, bodyHash)
        } catch (err) {
          // a kept-alive socket the server closed as idle (uvicorn: after 5 s) fails at once
          // with ECONNRESET; as HTTP clients do, send once more (signed anew) on a fresh socket
          if ((err as { staleSocket?: boolean }).staleSocket !== true) throw err
          await post(payload, body, bodyHash)
        }
      }
      return { request: call, close: async () => { agent.destroy() } }
    },
    stop: async () => {}
  }
}

// --- measurement --------------------------------------------------------------

function quantiles (samples: number[]): { p50: number, p95: number, p99: number, n: number } {
  const s = [...samples].sort((a, b) => a - b)
  const q = (f: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? Number.NaN) * 1000) / 1000
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), n: s.length }
}

const TICK_MS = 10 // USER_HZ 100
function procCpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * TICK_MS
}
/** Bytes through the loopback interface so far (on lo every byte sent is also received: count it once). */
function loopbackBytes (): number {
  const line = readFileSync('/proc/net/dev', 'utf8').split('\n').find((l) => l.trim().startsWith('lo:'))
  return Number(line?.split(':')[1]?.trim().split(/\s+/)[0])
}
function peakRssMiB (pid: number | 'self'): number {
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024)
}

const impl = kind === 'subwire' ? await subwireImpl() : kind === 'perf' ? await perfImpl() : kind === 'tcp' ? await tcpImpl() : await axonImpl()
const result: Record<string, unknown> = { kind, transport }
const payload = (n: number): Uint8Array => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = i & 0xff; return b }

// cold: fresh connection, handshake and the first 1 KiB reply
const cold: number[] = []
for (let i = 0; i < plan.cold; i++) {
  const t0 = performance.now()
  const rpc = await impl.open()
  await rpc.request(payload(1024))
  cold.push(performance.now() - t0)
  await rpc.close()
  await new Promise((resolve) => setTimeout(resolve, 5))
}
result.cold = quantiles(cold)

const rpc = await impl.open()
const rows: Array<Record<string, unknown>> = []
for (const size of plan.payloads) {
  const p = payload(size)
  for (let i = 0; i < 20; i++) await rpc.request(p) // warm up
  const seq: number[] = []
  for (let i = 0; i < plan.sequential; i++) {
    const t0 = performance.now()
    await rpc.request(p)
    seq.push(performance.now() - t0)
  }
  const row: Record<string, unknown> = { size, sequential: quantiles(seq) }
  for (const inflight of plan.inflight) {
    const lat: number[] = []
    let count = 0
    const io0 = loopbackBytes()
    const serverCpuMs = (): number => procCpuMs(serverPid) + extraServerPids.reduce((n, pid) => n + procCpuMs(pid), 0)
    const cpu0 = serverCpuMs()
    const self0 = process.cpuUsage()
    const t0 = performance.now()
    const end = t0 + plan.durationMs
    await Promise.all(Array.from({ length: inflight }, async () => {
      while (performance.now() < end) {
        const s = performance.now()
        await rpc.request(p)
        lat.push(performance.now() - s)
        count++
      }
    }))
    const secs = (performance.now() - t0) / 1000
    const self = process.cpuUsage(self0)
    const serverCpu = serverCpuMs() - cpu0
    row[`load${inflight}`] = {
      reqPerSec: Math.round(count / secs),
      latency: quantiles(lat),
      wireBytesPerReq: Math.round((loopbackBytes() - io0) / count),
      cpuUsPerReq: Math.round(((self.user + self.system) / 1000 + serverCpu) * 1000 / count),
      requests: count
    }
  }
  rows.push(row)
}
await rpc.close()
result.rows = rows
result.peakRssMiB = { client: peakRssMiB('self'), server: peakRssMiB(serverPid) }
await impl.stop()
process.stdout.write(JSON.stringify(result) + '\n')
process.exit(0)
