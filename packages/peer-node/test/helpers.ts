import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createNodePeer, loadHotkey } from '../src/index.ts'
import type { NodePeer, NodePeerInit, NodeTransport } from '../src/index.ts'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { FILE_CHUNK_SIZE } from '@subwire/shared'
import type { FileSource, ReadOptions } from '@subwire/shared'

/** Listen addresses on 127.0.0.1 with OS-chosen ports for the given transports. */
export function loopback (transports: NodeTransport[] = ['quic', 'tcp'], port = 0): string[] {
  const addr: Record<NodeTransport, string> = {
    quic: `/ip4/127.0.0.1/udp/${port}/quic-v1`,
    tcp: `/ip4/127.0.0.1/tcp/${port}`,
    'webrtc-direct': `/ip4/127.0.0.1/udp/${port}/webrtc-direct`,
    ws: `/ip4/127.0.0.1/tcp/${port}/ws`,
    webtransport: `/ip4/127.0.0.1/udp/${port}/quic-v1/webtransport`
  }
  return transports.map((t) => addr[t])
}

/** Which transport a multiaddr uses. */
export function transportOf (addr: string): NodeTransport {
  if (addr.includes('/webrtc-direct')) return 'webrtc-direct'
  if (addr.includes('/webtransport')) return 'webtransport'
  if (addr.includes('/quic-v1')) return 'quic'
  if (addr.includes('/ws')) return 'ws'
  return 'tcp'
}

export interface TestPeerInit extends Partial<Omit<NodePeerInit, 'signer'>> {
  uri: string
}

/** Starts a real peer on 127.0.0.1. */
export async function startPeer (init: TestPeerInit): Promise<NodePeer> {
  const transports = init.transports ?? ['quic', 'tcp']
  const peer = await createNodePeer({
    netuids: [42],
    listen: loopback(transports),
    ...init,
    transports,
    signer: await loadHotkey({ uri: init.uri })
  })
  await peer.start()
  return peer
}

/** The peer's address on one transport. */
export function addrOf (peer: NodePeer, transport: NodeTransport): string {
  const addr = peer.multiaddrs.find((a) => transportOf(a) === transport)
  if (addr === undefined) throw new Error(`peer has no ${transport} address`)
  return addr
}

/** A temporary directory removed by the returned cleanup. */
export async function tempDir (prefix = 'subwire-test-'): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) } }
}

/** Waits until `predicate` is true, polling; fails after `ms`. */
export async function waitFor (predicate: () => boolean | Promise<boolean>, ms = 10_000, what: string | (() => string) = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await predicate()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)
}

/** The `subwire` launcher. */
export const BIN = fileURLToPath(new URL('../bin/subwire.js', import.meta.url))

/** A `subwire` process with its `--json` lines. */
export interface Proc { child: ChildProcessWithoutNullStreams, lines: Array<Record<string, unknown>>, exited: Promise<number | null> }

/** Starts `subwire ARGS` in its own process group (a kill -9 of the group takes the launcher and the peer it runs). */
export function startCli (args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { detached: true })
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch {} })
  const exited = new Promise<number | null>((resolve) => { child.on('exit', (code) => { resolve(code) }) })
  return { child, lines, exited }
}

/** `kill -9` of a CLI process group. */
export function kill9 (p: Proc): void {
  try { process.kill(-(p.child.pid as number), 'SIGKILL') } catch {}
}

/** Polls `fn` until it returns a value; fails after `ms`. */
export async function until<T> (fn: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** SHA-256 of a file, hex, read as a stream. */
export async function sha256File (path: string): Promise<string> {
  const { createHash } = await import('node:crypto')
  const { createReadStream } = await import('node:fs')
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Writes a file of random bytes without holding more than 16 MiB. */
export async function randomFile (path: string, size: number): Promise<void> {
  const { randomBytes } = await import('node:crypto')
  const { open } = await import('node:fs/promises')
  const fh = await open(path, 'w')
  try {
    for (let done = 0; done < size;) {
      const n = Math.min(16 * 1024 * 1024, size - done)
      await fh.write(randomBytes(n))
      done += n
    }
  } finally { await fh.close() }
}

/**
 * `inner`, aborting `controller` when the sender asks for chunk `chunk` (or later) once
 * `armed`: a cancel at a known point whatever the speed. Aborting on a progress event
 * raced the end of the transfer: progress is reported every 200 ms, and a fast machine
 * sent all 40 MiB between two reports, so the receiver completed the file instead.
 */
export function abortingSource (inner: FileSource, chunk: number, controller: AbortController): FileSource & { armed: boolean } {
  const src = {
    armed: false,
    name: inner.name,
    size: inner.size,
    read: async (offset: number, length: number, options?: ReadOptions) => {
      if (src.armed && offset >= chunk * FILE_CHUNK_SIZE) controller.abort()
      return await inner.read(offset, length, options)
    }
  }
  return src
}

/**
 * `inner`, whose reads of chunk `chunk` and later wait for `release()` once `armed`;
 * `reached` resolves at the first such read. A test acts (cancels, stops the receiver)
 * while the transfer is held at a known point, whatever the machine's speed.
 */
export function gatedSource (inner: FileSource, chunk: number): FileSource & { armed: boolean, reached: Promise<void>, release: () => void } {
  const { promise: reached, resolve: reach } = Promise.withResolvers<void>()
  const { promise: gate, resolve: release } = Promise.withResolvers<void>()
  const src = {
    armed: false,
    reached,
    release: () => { release() },
    name: inner.name,
    size: inner.size,
    read: async (offset: number, length: number, options?: ReadOptions) => {
      if (src.armed && offset >= chunk * FILE_CHUNK_SIZE) { reach(); await gate }
      return await inner.read(offset, length, options)
    }
  }
  return src
}

/**
 * Holds `proc`'s process group (launcher and peer) stopped for 250 ms of every 500 ms, so a
 * transfer to or from it moves at well under half its speed without ever looking stalled
 * (SENDER_STALL_MS is 30 s): a test that kills a side once a progress line passes a mark
 * then kills it near that mark on a faster machine too. (Running it 50 ms a second slowed
 * a QUIC transfer a hundredfold: every stop costs the sender its congestion window.) The
 * returned function lets it run freely again.
 */
export function throttle (proc: Proc): () => void {
  const group = -(proc.child.pid as number)
  let free = false
  const signal = (s: NodeJS.Signals): void => { try { process.kill(group, s) } catch {} }
  signal('SIGSTOP')
  const timer = setInterval(() => {
    signal('SIGCONT')
    setTimeout(() => { if (!free) signal('SIGSTOP') }, 250)
  }, 500)
  return () => {
    free = true
    clearInterval(timer)
    signal('SIGCONT')
  }
}
