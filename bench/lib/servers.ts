// Benchmark servers, one per process: `node bench/lib/servers.ts <kind> <transport>`.
// Prints one JSON line `{ "addr": …, "pid": … }` when ready and runs until stdin closes.
//   subwire quic|tcp  the subwire Node peer (//Bob) answering the built-in `echo` RPC
//   perf    quic|tcp  raw js-libp2p, no subwire layer, serving `/perf/1.0.0` (the libp2p perf
//                     protocol: 8-byte big-endian size to send back, the upload until EOF,
//                     then that many bytes); written here because `@libp2p/perf` is not on
//                     the npm registry this project installs from (404)
//   tcp     -         a plain node:net echo of u32-length-prefixed frames, pipelined
//   api     -         a dial-only subwire peer (//Alice) serving its local API on a socket in a
//                     temporary home (addr: the socket path), for the Python client row
//   api-handler quic  the subwire peer (//Bob) whose RPC type `bench` is served by a Python
//                     handler (bench/lib/api_handler.py) through the local API
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createServer } from 'node:net'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noise } from '@libp2p/noise'
import { tls } from '@libp2p/tls'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { createNodePeer, loadHotkey } from '@subwire/peer-node'
import { serveApi } from '../../packages/peer-node/src/api/server.ts'
import type { Stream } from '@libp2p/interface'

const [kind, transport = 'quic'] = process.argv.slice(2)
// `quic+tcp`: a subwire peer on both, announced by its QUIC address (large requests then go over TCP)
const listen = transport === 'quic' ? ['/ip4/127.0.0.1/udp/0/quic-v1'] : transport === 'quic+tcp' ? ['/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0'] : ['/ip4/127.0.0.1/tcp/0']
const ready = (addr: string): void => { process.stdout.write(JSON.stringify({ addr, pid: process.pid }) + '\n') }
const until = new Promise<void>((resolve) => { process.stdin.on('close', resolve); process.stdin.on('end', resolve); process.stdin.resume() })

/** The server side of `/perf/1.0.0`. */
export function servePerf (stream: Stream): void {
  let header: Uint8Array = new Uint8Array(0)
  let want: bigint | undefined
  stream.addEventListener('message', (evt) => {
    if (want !== undefined) return
    const data = evt.data.subarray()
    const joined = new Uint8Array(header.byteLength + data.byteLength)
    joined.set(header)
    joined.set(data, header.byteLength)
    header = joined
    if (header.byteLength >= 8) want = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0)
  })
  stream.addEventListener('remoteCloseWrite', () => {
    void (async () => {
      let left = Number(want ?? 0n)
      const block = new Uint8Array(Math.min(left, 64 * 1024))
      while (left > 0) {
        const n = Math.min(left, block.byteLength)
        if (!stream.send(block.subarray(0, n))) await new Promise((resolve) => { stream.addEventListener('drain', resolve, { once: true }) })
        left -= n
      }
      await stream.close().catch(() => {})
    })()
  })
}

if (kind === 'subwire') {
  const peer = await createNodePeer({
    signer: await loadHotkey({ uri: '//Bob' }),
    netuids: [42],
    listen,
    transports: transport === 'quic+tcp' ? ['quic', 'tcp'] : [transport as 'quic' | 'tcp'],
    queue: false,
    // the cold-connection rows open a connection per run from one IP: lift the per-IP flood limits
    inboundConnectionsPerSecond: 10_000,
    protocol: { limits: { handshakesPerSecondPerIp: 10_000 } }
  })
  await peer.start()
  ready(peer.multiaddrs.find((a) => a.includes('/quic-v1')) ?? peer.multiaddrs[0] as string)
  await until
  await peer.stop()
} else if (kind === 'api' || kind === 'api-handler') {
  const home = mkdtempSync(join(tmpdir(), 'subwire-bench-api-'))
  const peer = await createNodePeer({
    signer: await loadHotkey({ uri: kind === 'api' ? '//Alice' : '//Bob' }),
    netuids: [42],
    listen: kind === 'api' ? [] : listen,
    transports: ['quic'],
    queue: false,
    inboundConnectionsPerSecond: 10_000,
    protocol: { redial: false, limits: { handshakesPerSecondPerIp: 10_000 } }
  })
  await peer.start()
  const api = await serveApi(peer, { home })
  let handler: ReturnType<typeof spawn> | undefined
  if (kind === 'api-handler') {
    handler = spawn('/usr/bin/python3', [new URL('./api_handler.py', import.meta.url).pathname, api.socketPath as string], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: handler?.stdout as NodeJS.ReadableStream }).once('line', () => { resolve() })
      handler?.once('exit', (code) => { reject(new Error(`the Python handler exited with ${String(code)}`)) })
    })
  }
  // pid: the peer, then the Python handler (both count in CPU per request)
  process.stdout.write(JSON.stringify({ addr: kind === 'api' ? api.socketPath : peer.multiaddrs[0], pid: process.pid, pids: [process.pid, ...(handler?.pid === undefined ? [] : [handler.pid])] }) + '\n')
  await until
  handler?.kill()
  await api.close()
  await peer.stop()
  rmSync(home, { recursive: true, force: true })
} else if (kind === 'perf') {
  const node = await createLibp2p({
    addresses: { listen },
    transports: transport === 'quic' ? [quic()] : [tcp()],
    connectionEncrypters: [tls(), noise()], // as a Node peer: TLS between Node processes
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 10_000 }
  })
  await node.handle('/perf/1.0.0', (stream) => { servePerf(stream) }, { maxInboundStreams: 1024 })
  ready(node.getMultiaddrs()[0]?.toString() as string)
  await until
  await node.stop()
} else if (kind === 'tcp') {
  const server = createServer({ noDelay: true }, (socket) => {
    // echo every u32-length-prefixed frame back as it is
    let buf = Buffer.alloc(0)
    socket.on('data', (d: Buffer) => {
      buf = buf.byteLength === 0 ? d : Buffer.concat([buf, d])
      let off = 0
      const out: Buffer[] = []
      while (buf.byteLength - off >= 4) {
        const len = buf.readUInt32BE(off)
        if (buf.byteLength - off < 4 + len) break
        out.push(buf.subarray(off, off + 4 + len))
        off += 4 + len
      }
      if (out.length > 0) socket.write(out.length === 1 ? out[0] as Buffer : Buffer.concat(out))
      buf = buf.subarray(off)
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const a = server.address()
  ready(`127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`)
  await until
  server.close()
} else {
  process.stderr.write(`unknown server kind ${String(kind)}\n`)
  process.exit(2)
}
