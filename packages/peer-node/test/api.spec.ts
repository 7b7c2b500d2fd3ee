import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect as netConnect, createConnection } from 'node:net'
import { encodeValue } from '@subwire/shared/protocol'
import { ApiFrameDecoder, encodeApiFrame } from '../src/api/framing.ts'
import { apiErrorClasses } from '../src/api/errors.ts'
import { parseApiAddress, isLoopbackHost, serveApi } from '../src/api/server.ts'
import { MAX_API_FRAME_BYTES } from '../src/api/constants.ts'
import { pythonErrors } from '../src/api/python-errors.ts'
import { startPeer, tempDir } from './helpers.ts'
import type { ApiServer } from '../src/api/server.ts'
import type { NodePeer } from '../src/index.ts'
import type { Socket } from 'node:net'

/** A raw API connection: write bytes, read decoded frames. */
function rawClient (socket: Socket): { frames: Array<Record<string, unknown>>, next: (n?: number) => Promise<Array<Record<string, unknown>>>, closed: Promise<void> } {
  const decoder = new ApiFrameDecoder()
  const frames: Array<Record<string, unknown>> = []
  let wake: (() => void) | undefined
  socket.on('data', (c: Buffer) => {
    decoder.push(c)
    for (let got = decoder.next(); got !== undefined; got = decoder.next()) if ('frame' in got) frames.push(got.frame)
    wake?.()
  })
  const closed = new Promise<void>((resolve) => { socket.on('close', () => { resolve(); wake?.() }) })
  let taken = 0
  return {
    frames,
    closed,
    next: async (n = 1) => {
      const deadline = Date.now() + 5000
      while (frames.length < taken + n && !socket.destroyed && Date.now() < deadline) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 50) })
      const out = frames.slice(taken, taken + n)
      taken += out.length
      return out
    }
  }
}

const frame = (v: unknown): Uint8Array => encodeApiFrame(v as Record<string, unknown>)
const errorName = (f: Record<string, unknown> | undefined): unknown => (f?.error as { name?: string } | undefined)?.name

describe('api framing', () => {
  it('round-trips a frame', () => {
    const d = new ApiFrameDecoder()
    d.push(frame({ op: 'id', id: 1, body: new Uint8Array([1, 2]) }))
    const got = d.next()
    assert.ok(got !== undefined && 'frame' in got)
    assert.equal(got.frame.op, 'id')
    assert.deepEqual(new Uint8Array(got.frame.body as Uint8Array), new Uint8Array([1, 2]))
  })
  it('refuses an oversized length at the header, before any body byte arrives', () => {
    const d = new ApiFrameDecoder()
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, MAX_API_FRAME_BYTES + 1)
    d.push(header)
    const got = d.next()
    assert.ok(got !== undefined && 'error' in got)
    assert.equal(got.error.name, 'ApiProtocolError')
    assert.equal(got.fatal, true)
  })
  it('skips a body that is not a map and stays in step', () => {
    const d = new ApiFrameDecoder()
    const arr = encodeValue([1, 2])
    const bad = new Uint8Array(4 + arr.byteLength)
    new DataView(bad.buffer).setUint32(0, arr.byteLength)
    bad.set(arr, 4)
    d.push(bad)
    d.push(frame({ op: 'id', id: 2 }))
    const first = d.next()
    assert.ok(first !== undefined && 'error' in first && !first.fatal)
    const second = d.next()
    assert.ok(second !== undefined && 'frame' in second && second.frame.id === 2)
  })
})

describe('api errors', () => {
  for (const [name, E] of Object.entries(apiErrorClasses)) {
    it(`${name} has its class name`, () => { assert.equal(new E().name, E.name); assert.equal(E.name, name) })
  }
  it('the Python client has a class for every error name (scripts/gen-python-errors.ts is up to date)', () => {
    assert.equal(readFileSync(new URL('../../../clients/python/subwire/_errors_gen.py', import.meta.url), 'utf8'), pythonErrors())
  })
  it('parses --api addresses and tells loopback apart', () => {
    assert.deepEqual(parseApiAddress('127.0.0.1:4790'), { host: '127.0.0.1', port: 4790 })
    assert.deepEqual(parseApiAddress('[::1]:0'), { host: '::1', port: 0 })
    assert.throws(() => parseApiAddress('4790'), { name: 'InvalidConfigError' })
    assert.equal(isLoopbackHost('127.0.0.1'), true)
    assert.equal(isLoopbackHost('0.0.0.0'), false)
  })
})

describe('api server', () => {
  let peer: NodePeer
  let api: ApiServer
  let cleanup: () => Promise<void>
  before(async () => {
    const t = await tempDir()
    cleanup = t.cleanup
    peer = await startPeer({ uri: '//Alice' })
    api = await serveApi(peer, { home: t.dir, tcp: { host: '127.0.0.1', port: 0 } })
  })
  after(async () => {
    await api.close()
    await peer.stop()
    await cleanup()
  })

  const open = async (): Promise<{ socket: Socket } & ReturnType<typeof rawClient>> => {
    const socket = createConnection(api.socketPath as string)
    await new Promise<void>((resolve) => { socket.once('connect', resolve) })
    return { socket, ...rawClient(socket) }
  }
  const hello = frame({ op: 'hello', id: 1, version: 1 })

  it('serves an owner-only socket', async () => {
    const { statSync } = await import('node:fs')
    assert.equal(statSync(api.socketPath as string).mode & 0o777, 0o600)
  })

  it('refuses an operation before hello and closes', async () => {
    const c = await open()
    c.socket.write(frame({ op: 'id', id: 5 }))
    const [f] = await c.next()
    assert.equal(errorName(f), 'ApiUnauthorizedError')
    await c.closed
  })

  it('answers an unknown op at once with a typed error and keeps serving the connection', async () => {
    const c = await open()
    c.socket.write(hello)
    c.socket.write(frame({ op: 'teleport', id: 2 }))
    c.socket.write(frame({ op: 'id', id: 3 }))
    const [h, unknown, id] = await c.next(3)
    assert.equal(h?.t, 'result')
    assert.deepEqual([unknown?.t, unknown?.id, errorName(unknown)], ['error', 2, 'UnknownOperationError'])
    assert.equal((id?.value as { ss58: string }).ss58, peer.ss58)
    c.socket.destroy()
  })

  it('answers malformed frames and bad arguments with ApiProtocolError and goes on', async () => {
    const c = await open()
    c.socket.write(hello)
    c.socket.write(new Uint8Array([0, 0, 0, 1, 0xc1])) // a reserved MessagePack byte
    c.socket.write(frame({ op: 'request', id: 4 })) // no dest
    c.socket.write(frame({ id: 5 })) // no op
    c.socket.write(frame({ op: 'id', id: 5.5 })) // not an integer id
    c.socket.write(frame({ op: 'id', id: 6 }))
    const got = await c.next(6)
    // the operation (id 4) runs asynchronously: its error may come after the frame-level ones
    assert.deepEqual(got.filter((f) => f.t === 'error').map(errorName), ['ApiProtocolError', 'ApiProtocolError', 'ApiProtocolError', 'ApiProtocolError'])
    assert.match(String((got.find((f) => f.id === 4)?.error as { message: string }).message), /dest/)
    assert.equal(got.find((f) => f.id === 6)?.t, 'result')
    c.socket.destroy()
  })

  it('ends a connection whose header declares an oversized frame, and keeps accepting others', async () => {
    const c = await open()
    c.socket.write(hello)
    c.socket.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff]))
    const [, f] = await c.next(2)
    assert.equal(errorName(f), 'ApiProtocolError')
    await c.closed
    const d = await open()
    d.socket.write(hello)
    const [h] = await d.next()
    assert.equal(h?.t, 'result')
    d.socket.destroy()
  })

  it('refuses a TCP client without the token, and one with a wrong token', async () => {
    for (const token of [undefined, 'nope']) {
      const socket = netConnect(api.tcp?.port as number, '127.0.0.1')
      await new Promise<void>((resolve) => { socket.once('connect', resolve) })
      const c = rawClient(socket)
      socket.write(frame({ op: 'hello', id: 1, version: 1, ...(token === undefined ? {} : { token }) }))
      const [f] = await c.next()
      assert.deepEqual([f?.id, errorName(f)], [1, 'ApiUnauthorizedError'])
      await c.closed
    }
  })

  it('refuses another API version', async () => {
    const c = await open()
    c.socket.write(frame({ op: 'hello', id: 1, version: 99 }))
    const [f] = await c.next()
    assert.equal(errorName(f), 'ApiVersionError')
    await c.closed
  })

  it('answers query_subnet with a member frame per member and the summary, a dead member as a typed failure', async () => {
    const c = await open()
    c.socket.write(hello)
    const nobody = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
    c.socket.write(frame({ op: 'query_subnet', id: 2, netuid: 42, type: 'echo', body: 1, timeout: 2000, members: [nobody] }))
    const [, member, result] = await c.next(3) as Array<{ t: string, value: Record<string, unknown> }>
    assert.equal(member?.t, 'member')
    assert.equal(member?.value.ss58, nobody)
    assert.equal(member?.value.ok, false)
    assert.equal(member?.value.reason, 'unreachable')
    assert.equal(result?.t, 'result')
    assert.equal(result?.value.members, 1)
    assert.equal(result?.value.answered, 0)
    c.socket.destroy()
  })
})
