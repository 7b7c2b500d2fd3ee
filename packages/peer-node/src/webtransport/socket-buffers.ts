/**
 * Sizes the kernel buffers of the WebTransport listener's UDP socket.
 *
 * QUIC sends one ~1,300-byte datagram per packet. With Linux's default receive buffer
 * (`net.core.rmem_default`, 208 KiB) a browser uploading at full speed overruns it:
 * measured here, a 256 MiB upload from Chromium lost 471 datagrams to
 * `UdpRcvbufErrors`, each one a congestion event, and ran 30 % slower than with a 4 MiB
 * buffer and no loss. quinn (inside Deno) leaves the buffers at the kernel's default and
 * Deno 2.9 offers no option for them, so, as quic-go does for itself, we set
 * `SO_RCVBUF`/`SO_SNDBUF` on the socket: found through `/proc/self/net/udp*` and
 * `/proc/self/fd`, and set through libc with Deno's FFI. `SO_*BUFFORCE` is tried first
 * (it may exceed `net.core.rmem_max`, but needs `CAP_NET_ADMIN`), then the capped
 * `SO_*BUF`.
 *
 * Linux only; elsewhere, or when any step fails, nothing changes and the result says why.
 *
 * @packageDocumentation
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import type { DenoFfi } from './deno.ts'

const SOL_SOCKET = 1
const SO_SNDBUF = 7
const SO_RCVBUF = 8
const SO_SNDBUFFORCE = 32
const SO_RCVBUFFORCE = 33

/** What {@link growUdpBuffers} did. */
export type UdpBufferResult =
  | {
    ok: true
    /** The socket's file descriptors (one per bound socket). */
    fds: number[]
    /** `SO_RCVBUF` before and after, as the kernel reports it (twice what it was asked). */
    receiveBefore: number
    receiveBytes: number
    /** `SO_SNDBUF` after. */
    sendBytes: number
  }
  | { ok: false, reason: string }

/**
 * The inodes of this process's UDP sockets bound to `port`, from `/proc/self/net/udp`
 * and `udp6` text (`sl local_address rem_address st … inode`, ports in hex).
 */
export function udpSocketInodes (tables: string[], port: number): Set<string> {
  const inodes = new Set<string>()
  for (const table of tables) {
    for (const line of table.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      const local = cols[1]
      const inode = cols[9]
      if (local === undefined || inode === undefined || inode === '0') continue
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(inode)
    }
  }
  return inodes
}

function socketFds (inodes: Set<string>): number[] {
  const fds: number[] = []
  for (const fd of readdirSync('/proc/self/fd')) {
    let link: string
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      continue // closed since the listing
    }
    if (link.startsWith('socket:[') && inodes.has(link.slice(8, -1))) fds.push(Number(fd))
  }
  return fds
}

function openLibc (dlopen: DenoFfi['dlopen']): ReturnType<DenoFfi['dlopen']> {
  const symbols = {
    setsockopt: { parameters: ['i32', 'i32', 'i32', 'buffer', 'u32'], result: 'i32' },
    getsockopt: { parameters: ['i32', 'i32', 'i32', 'buffer', 'buffer'], result: 'i32' }
  }
  let last: unknown
  for (const path of ['libc.so.6', 'libc.so']) { // glibc, then musl
    try {
      return dlopen(path, symbols)
    } catch (err) {
      last = err
    }
  }
  throw last instanceof Error ? last : new Error('no libc')
}

/**
 * Grows the send and receive buffers of this process's UDP socket(s) bound to `port`
 * to `bytes` (the kernel reports twice what it keeps for its own bookkeeping, and caps
 * the unforced option at `net.core.[rw]mem_max`). Never throws.
 */
export function growUdpBuffers (ffi: Partial<DenoFfi> | undefined, port: number, bytes: number): UdpBufferResult {
  const dlopen = ffi?.dlopen
  if (dlopen === undefined || ffi?.build === undefined) return { ok: false, reason: 'no FFI in this runtime' }
  if (ffi.build.os !== 'linux') return { ok: false, reason: `not on Linux (${ffi.build.os})` }
  let lib: ReturnType<DenoFfi['dlopen']> | undefined
  try {
    const tables = ['/proc/self/net/udp', '/proc/self/net/udp6'].map((p) => { try { return readFileSync(p, 'utf8') } catch { return '' } })
    const fds = socketFds(udpSocketInodes(tables, port))
    if (fds.length === 0) return { ok: false, reason: `no UDP socket bound to port ${port} found in /proc/self` }
    lib = openLibc(dlopen.bind(ffi))
    const { setsockopt, getsockopt } = lib.symbols as { setsockopt: (...a: unknown[]) => number, getsockopt: (...a: unknown[]) => number }
    const value = new Uint8Array(new Int32Array([bytes]).buffer)
    const read = (fd: number, opt: number): number => {
      const out = new Int32Array(1)
      const len = new Uint32Array([4])
      return getsockopt(fd, SOL_SOCKET, opt, new Uint8Array(out.buffer), new Uint8Array(len.buffer)) === 0 ? out[0] as number : -1
    }
    let receiveBefore = Number.POSITIVE_INFINITY
    let receiveBytes = Number.POSITIVE_INFINITY
    let sendBytes = Number.POSITIVE_INFINITY
    for (const fd of fds) {
      receiveBefore = Math.min(receiveBefore, read(fd, SO_RCVBUF))
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, value, 4) !== 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, value, 4)
      if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, value, 4) !== 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, value, 4)
      receiveBytes = Math.min(receiveBytes, read(fd, SO_RCVBUF))
      sendBytes = Math.min(sendBytes, read(fd, SO_SNDBUF))
    }
    return { ok: true, fds, receiveBefore, receiveBytes, sendBytes }
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  } finally {
    lib?.close()
  }
}
