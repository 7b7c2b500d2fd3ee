// The WebRTC-Direct UDP mux pool: node-datachannel's IceUdpMuxListener.stop() is lost in
// about one stop of three (an uninitialised flag), leaving libjuice calling a freed
// listener on the next STUN binding request with an unknown ufrag (SIGSEGV). The pool
// never frees a listener: it parks it and hands it to the next listener on the host.
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { describe, it } from 'node:test'
import { UdpMuxPool } from '../src/webrtc-direct/udp-mux-pool.ts'

const HOST = '127.0.0.1'
const ufrag = (): string => randomBytes(24).toString('base64').replace(/[^a-zA-Z0-9]/g, 'a').slice(0, 32)

/** A STUN binding request as a browser's ICE agent sends it: USERNAME `local:remote`, MESSAGE-INTEGRITY. */
function bindingRequest (local: string, remote: string): Buffer {
  const username = Buffer.from(`${local}:${remote}`)
  const padded = Buffer.alloc(Math.ceil(username.length / 4) * 4)
  username.copy(padded)
  const attr = (type: number, value: Buffer, length = value.length): Buffer => {
    const h = Buffer.alloc(4)
    h.writeUInt16BE(type, 0)
    h.writeUInt16BE(length, 2)
    return Buffer.concat([h, value])
  }
  const user = attr(0x0006, padded, username.length)
  const header = Buffer.alloc(20)
  header.writeUInt16BE(0x0001, 0)
  header.writeUInt16BE(user.length + 24, 2) // the length counts MESSAGE-INTEGRITY
  header.writeUInt32BE(0x2112a442, 4)
  randomBytes(12).copy(header, 8)
  const mac = createHmac('sha1', local).update(Buffer.concat([header, user])).digest()
  return Buffer.concat([header, user, attr(0x0008, mac)])
}

async function sendStun (port: number, remote: string, times = 1): Promise<void> {
  const socket = createSocket('udp4')
  await new Promise<void>((resolve) => { socket.bind(0, HOST, resolve) })
  for (let i = 0; i < times; i++) {
    await new Promise<void>((resolve, reject) => { socket.send(bindingRequest(ufrag(), remote), port, HOST, (err) => { if (err != null) reject(err); else resolve() }) })
  }
  await new Promise<void>((resolve) => { socket.close(resolve) })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('UDP mux pool (WebRTC-Direct listeners that survive stop)', () => {
  const pool = new UdpMuxPool()

  it('hands an unhandled STUN binding request to the lease holding the port', async () => {
    const seen: Array<{ ufrag: string, host: string, port: number }> = []
    const lease = await pool.open(HOST, 0, (u, host, port) => { seen.push({ ufrag: u, host, port }) })
    try {
      assert.ok(lease.port > 0)
      const remote = ufrag()
      for (let i = 0; i < 50 && seen.length === 0; i++) {
        await sendStun(lease.port, remote)
        await sleep(20)
      }
      assert.equal(seen[0]?.ufrag, remote)
      assert.equal(seen[0]?.host, HOST)
    } finally {
      await lease.close()
    }
  })

  it('parks a closed lease: requests on its port go nowhere and the process lives on', async () => {
    const seen: string[] = []
    for (let round = 0; round < 10; round++) {
      const lease = await pool.open(HOST, 0, (u) => { seen.push(u) })
      await lease.close()
      // what crashed the process before: a binding request after stop()
      await sendStun(lease.port, ufrag(), 5)
    }
    await sleep(200)
    assert.deepEqual(seen, [])
  })

  it('gives the next lease on the host the parked port; two open leases get two ports', async () => {
    const a = await pool.open(HOST, 0, () => {})
    const port = a.port
    await a.close()
    const b = await pool.open(HOST, 0, () => {})
    const c = await pool.open(HOST, 0, () => {})
    try {
      assert.equal(b.port, port)
      assert.notEqual(c.port, port)
      // a fixed port: the parked listener on it, if any
      await c.close()
      const d = await pool.open(HOST, c.port, () => {})
      assert.equal(d.port, c.port)
      await d.close()
    } finally {
      await b.close()
      await c.close()
    }
  })

  it('refuses a port another lease holds, with the reason', async () => {
    const a = await pool.open(HOST, 0, () => {})
    try {
      await assert.rejects(pool.open(HOST, a.port, () => {}), /ICE UDP mux listener on 127\.0\.0\.1:\d+/)
    } finally {
      await a.close()
    }
  })
})
