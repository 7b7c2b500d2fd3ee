/**
 * The connection table's bounds on real peers over TCP on 127.0.0.1: connections per
 * PeerId, per hotkey and per IP; a table filled with idle authenticated connections still
 * takes an honest newcomer (idle ones are evicted); and the pending-handshake pool is
 * shared fairly per source IP, so sources flooding it cannot keep another out.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, it } from 'node:test'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import type { TCPSocketOptions } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { fileProtocol, rpcProtocol } from '@subwire/shared'
import { encodeFrame } from '@subwire/shared/protocol'
import { join } from 'node:path'
import { addrOf, randomFile, startPeer, tempDir, waitFor } from './helpers.ts'
import { NodeFileStore } from '../src/files.ts'
import type { NodePeer } from '../src/index.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Socket } from 'node:net'

/** No per-IP rate limits: every test dials from loopback, faster than any honest client would. */
const NO_RATE_LIMIT = { inboundConnectionsPerSecond: 1_000_000 }
const NO_HANDSHAKE_RATE = { handshakesPerSecondPerIp: 1_000_000 }

/**
 * Opens `n` extra connections from `from` to `addr`, one after another (libp2p joins
 * concurrent dials of one address into one connection); each runs the subwire handshake.
 */
async function forceDials (from: NodePeer, addr: string, n: number): Promise<number> {
  let ok = 0
  for (let i = 0; i < n; i++) {
    try {
      await from.libp2p.dial(multiaddr(addr), { force: true, signal: AbortSignal.timeout(10_000) })
      ok++
    } catch {}
  }
  return ok
}

function inboundFrom (listener: NodePeer, peer: NodePeer): number {
  return listener.libp2p.getConnections().filter((c) => c.direction === 'inbound' && c.status === 'open' && c.remotePeer.toString() === peer.peerId).length
}

function sessionsOf (listener: NodePeer, ss58: string): number {
  return listener.subwire.peers().filter((p) => p.ss58 === ss58).length
}

describe('connection limits', () => {
  it('caps connections per PeerId, per hotkey and per IP with RateLimitedError', async () => {
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], ...NO_RATE_LIMIT, protocol: { limits: { ...NO_HANDSHAKE_RATE, maxConnectionsPerPeer: 2, maxConnectionsPerHotkey: 3, maxConnectionsPerIp: 4 } } })
    const refusals: string[] = []
    bob.subwire.on('handshake:failed', (e) => { refusals.push(`${e.error.name}: ${e.error.message}`) })
    const eve1 = await startPeer({ uri: '//Eve', listen: [], transports: ['tcp'], protocol: { redial: false } })
    const eve2 = await startPeer({ uri: '//Eve', listen: [], transports: ['tcp'], protocol: { redial: false } })
    const ferdie = await startPeer({ uri: '//Ferdie', listen: [], transports: ['tcp'], protocol: { redial: false } })
    try {
      const dest = addrOf(bob, 'tcp')
      await forceDials(eve1, dest, 3)
      await waitFor(() => refusals.some((r) => r.startsWith('RateLimitedError') && r.includes(eve1.peerId)), 5000, 'the per-PeerId refusal')
      await waitFor(() => inboundFrom(bob, eve1) === 2 && sessionsOf(bob, eve1.ss58) === 2, 5000, 'two of eve1\'s three connections')
      await forceDials(eve2, dest, 2)
      await waitFor(() => refusals.some((r) => r.startsWith('RateLimitedError') && r.includes(eve1.ss58)), 5000, 'the per-hotkey refusal')
      await waitFor(() => inboundFrom(bob, eve2) === 1 && sessionsOf(bob, eve1.ss58) === 3, 5000, 'the hotkey\'s third connection only')
      await forceDials(ferdie, dest, 2)
      await waitFor(() => refusals.some((r) => r.startsWith('RateLimitedError') && r.includes('127.0.0.1')), 5000, 'the per-IP refusal')
      await waitFor(() => inboundFrom(bob, ferdie) === 1, 5000, 'ferdie holds one (the IP\'s fourth)')
      assert.equal(bob.libp2p.getConnections().filter((c) => c.direction === 'inbound').length, 4)
    } finally {
      await Promise.all([eve1.stop(), eve2.stop(), ferdie.stop()])
      await bob.stop()
    }
  })

  it('lets an honest newcomer in when idle authenticated connections fill the table', async () => {
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], ...NO_RATE_LIMIT, protocol: { limits: { ...NO_HANDSHAKE_RATE, maxConnectionsPerPeer: 1000, maxConnectionsPerHotkey: 1000, maxConnectionsPerIp: 1000 } } })
    const eves = await Promise.all(Array.from({ length: 10 }, async (_, i) => await startPeer({ uri: `//Eve${i}`, listen: [], transports: ['tcp'], protocol: { redial: false } })))
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'] })
    try {
      const dest = addrOf(bob, 'tcp')
      // libp2p refuses every inbound connection once 300 are open: ten attackers try to hold 300 idle ones
      const opened = (await Promise.all(eves.map(async (eve) => await forceDials(eve, dest, 30)))).reduce((a, b) => a + b, 0)
      await waitFor(() => bob.subwire.peers().length >= 250, 20_000, 'the attackers\' sessions')
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.ok(opened >= 290, `the attackers opened ${opened}`)
      const held = bob.libp2p.getConnections().length
      assert.ok(held <= 257, `the table stays at its cap: ${held}`)
      const t = performance.now()
      assert.equal(await alice.request(dest, 'echo', 'hi', { timeout: 10_000 }), 'hi')
      const ms = performance.now() - t
      assert.ok(sessionsOf(bob, alice.ss58) === 1, 'alice is in session')
      assert.ok(ms < 5000, `alice was answered in ${ms.toFixed(0)} ms`)
    } finally {
      await Promise.all([...eves.map(async (e) => { await e.stop() }), alice.stop()])
      await bob.stop()
    }
  })

  it('shares the pending-handshake pool fairly per source IP', async () => {
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], ...NO_RATE_LIMIT, protocol: { handshakeTimeoutMs: 20_000, limits: { ...NO_HANDSHAKE_RATE, maxPendingHandshakes: 60 } } })
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'] })
    // six flooding sources (127.0.0.2-7), each a plain libp2p node that never sends the subwire handshake
    const silent: Libp2p[] = []
    let poolRefusals = 0
    bob.subwire.on('handshake:failed', (e) => { if (e.error.name === 'RateLimitedError') poolRefusals++ })
    try {
      for (let i = 2; i <= 7; i++) {
        const node = await createLibp2p({
          // dialOpts go to net.connect as they are (TCPSocketOptions names only a few of its options)
          transports: [tcp({ dialOpts: { noDelay: true, localAddress: `127.0.0.${i}` } as TCPSocketOptions })],
          connectionEncrypters: [noise()],
          streamMuxers: [yamux()],
          connectionManager: { maxConnections: 1000 }
        })
        silent.push(node)
      }
      const dest = addrOf(bob, 'tcp')
      for (let round = 0; round < 20; round++) {
        await Promise.allSettled(silent.map(async (n) => await n.dial(multiaddr(dest), { force: true, signal: AbortSignal.timeout(5000) })))
      }
      await waitFor(() => poolRefusals > 0, 5000, 'the flood filling the pool')
      let ok = 0
      for (let i = 0; i < 5; i++) {
        const honest = await startPeer({ uri: `//Honest${i}`, listen: [], transports: ['tcp'] })
        try {
          if (await honest.request(dest, 'echo', i, { timeout: 5000 }).catch(() => undefined) === i) ok++
        } finally {
          await honest.stop()
        }
      }
      assert.equal(ok, 5, 'every honest connection got through the flooded pool')
      assert.equal(await alice.request(dest, 'echo', 'still', { timeout: 5000 }), 'still')
    } finally {
      await Promise.all(silent.map(async (n) => { await n.stop() }))
      await alice.stop()
      await bob.stop()
    }
  })
})

describe('decode cost on a real peer', () => {
  it('refuses a request body of two million items before decoding it, and keeps answering others', async () => {
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'] })
    const eve = await startPeer({ uri: '//Eve', listen: [], transports: ['tcp'] })
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'] })
    try {
      const dest = addrOf(bob, 'tcp')
      assert.equal(await alice.request(dest, 'echo', 'before'), 'before')
      const wide = Array.from({ length: 2_000_000 }, () => ({}))
      const refused = eve.request(dest, 'echo', wide, { timeout: 10_000 })
      await assert.rejects(refused, (e: Error) => e.name === 'ConnectionLostError' && e.message.includes('reset'), 'the server reset the stream at the frame')
      const t = performance.now()
      assert.equal(await alice.request(dest, 'echo', 'after'), 'after')
      assert.ok(performance.now() - t < 1000, 'alice is answered at once')
      assert.deepEqual(await eve.request(dest, 'echo', [1, 2, 3]), [1, 2, 3], 'eve\'s next, bounded request is served on a new stream')
    } finally {
      await Promise.all([eve.stop(), alice.stop()])
      await bob.stop()
    }
  })
})

/**
 * Keeps `n` raw TCP sockets from `localAddress` open to `port`, each sending one byte a
 * second (never finishing a security handshake), reopening closed ones at most `perSecond`
 * a second (under libp2p's per-IP connection rate). Returns a stop function.
 */
function slowSockets (port: number, localAddress: string, n: number, perSecond = 40): { stop: () => void, opened: () => number } {
  const open = new Set<Socket>()
  let opened = 0
  let stopped = false
  const tick = setInterval(() => {
    for (const s of open) s.write(new Uint8Array([0x13]))
  }, 1000)
  const refill = setInterval(() => {
    for (let i = 0; i < perSecond / 10 && open.size < n; i++) {
      const s = connect({ host: '127.0.0.1', port, localAddress })
      opened++
      open.add(s)
      s.on('error', () => {})
      s.on('close', () => { open.delete(s) })
    }
  }, 100)
  return {
    opened: () => opened,
    stop: () => {
      if (stopped) return
      stopped = true
      clearInterval(tick)
      clearInterval(refill)
      for (const s of open) s.destroy()
    }
  }
}

describe('slow inbound sockets', () => {
  it('eighty sockets from one IP sending a byte a second do not keep other IPs out (TCP and QUIC)', async () => {
    const bob = await startPeer({ uri: '//Bob' })
    const tcpPort = Number(addrOf(bob, 'tcp').split('/')[4])
    const flood = slowSockets(tcpPort, '127.0.0.2', 80)
    try {
      await new Promise((resolve) => setTimeout(resolve, 3000)) // 80 sockets open, each past libp2p's accept
      let ok = 0
      const failures: string[] = []
      for (let i = 0; i < 8; i++) {
        const transport = i % 2 === 0 ? 'quic' : 'tcp'
        const honest = await startPeer({ uri: `//Honest${i}`, listen: [], transports: [transport] })
        try {
          assert.equal(await honest.request(addrOf(bob, transport), 'echo', i, { timeout: 8000 }), i)
          ok++
        } catch (err) {
          failures.push(`${transport}: ${(err as Error).name}: ${(err as Error).message}`)
        } finally {
          await honest.stop()
        }
      }
      assert.ok(flood.opened() >= 80, `the flood opened ${flood.opened()} sockets`)
      assert.equal(ok, 8, `every honest query from another IP succeeded: ${failures.join('; ')}`)
    } finally {
      flood.stop()
      await bob.stop()
    }
  })
})

describe('crowded upgrade deadline', () => {
  it('gives a source\'s second and later pending upgrades a short deadline, and refuses past its share', async () => {
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], upgrades: { maxPendingUpgradesPerIp: 3, crowdedUpgradeTimeoutMs: 1000 } })
    const port = Number(addrOf(bob, 'tcp').split('/')[4])
    const t0 = performance.now()
    const closedAt: number[] = []
    const sockets = Array.from({ length: 4 }, (_, i) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' })
      s.on('error', () => {})
      s.on('close', () => { closedAt[i] = performance.now() - t0 })
      return s
    })
    try {
      // three close; waited for well within libp2p's 10 s inboundUpgradeTimeout (the first
      // one's deadline), so the socket still open then is open because it was not cut short.
      // Sockets dialled one after another on loopback are accepted in that order: the first
      // gets the long deadline, the second and third the crowded one, the fourth is refused
      await waitFor(() => closedAt.filter((t) => t !== undefined).length >= 3, 8000, () => `three of four sockets to close: ${JSON.stringify(closedAt)}`)
      const at = `${Math.round(performance.now() - t0)} ms in, closed at ${JSON.stringify(closedAt)}`
      assert.equal(closedAt[0], undefined, `the first pending upgrade keeps libp2p's deadline: ${at}`)
      assert.equal(sockets[0]?.readyState, 'open', `the first socket is still open: ${at}`)
      const [crowded1, crowded2, refused] = closedAt.slice(1) as [number, number, number]
      // timers never fire early: closes cut short by the 1 s deadline come about 1 s in or later
      assert.ok(crowded1 > 800 && crowded2 > 800, `the two crowded ones closed at their 1 s deadline: ${at}`)
      // and the fourth was refused at once: before either crowded one reached its deadline
      assert.ok(refused < Math.min(crowded1, crowded2), `the fourth was refused before the crowded ones were closed: ${at}`)
    } finally {
      for (const s of sockets) s.destroy()
      await bob.stop()
    }
  })
})

describe('replies to a client that never reads', () => {
  it('stop reading its requests once its byte budget is spent, and keep answering others', async () => {
    // a 4 MiB budget (default 48 MiB: three 16 MiB frames) so the test needs little CPU to spend it
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], protocol: { limits: { maxBufferedBytesPerConnection: 4 * 2 ** 20 } } })
    const eve = await startPeer({ uri: '//Eve', listen: [], transports: ['tcp'] })
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'] })
    const rss0 = process.memoryUsage().rss
    let peakRss = rss0
    let peakHeld = 0
    const sample = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
      peakHeld = Math.max(peakHeld, (bob.subwire as { bufferedBytes?: number }).bufferedBytes ?? 0)
    }, 50)
    try {
      const dest = addrOf(bob, 'tcp')
      const session = await eve.connect(dest)
      const connection = eve.libp2p.getConnections().find((c) => c.id === session.connectionId)
      assert.ok(connection !== undefined)
      const stream = await connection.newStream(rpcProtocol(42))
      stream.pause() // eve never reads a reply
      const body = new Uint8Array(64 * 1024).fill(7)
      let sent = 0
      let sentAt3s = 0
      const start = performance.now()
      const deadline = start + 5000
      for (let id = 1; id <= 3000 && performance.now() < deadline; id++) {
        // as fast as bob takes them: at most 2 MiB waiting in eve's own send buffer
        while (stream.writeBufferLength > 2 * 2 ** 20 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
        if (performance.now() >= deadline) break
        // bob paused reading, and libp2p reset the stream once more than its read buffer (4 MiB)
        // arrived meanwhile: as bounded an outcome as the pause (seen over TLS, whose socket
        // layer passes on a larger burst after the pause)
        if (stream.writeStatus !== 'writable') break
        stream.send(encodeFrame({ k: 0, id, t: 'echo', b: body }, 1024 * 1024))
        sent += body.byteLength
        if (performance.now() - start < 3000) sentAt3s = sent
      }
      // meanwhile an honest client is answered at once
      const t = performance.now()
      assert.equal(await alice.request(dest, 'echo', 'hi', { timeout: 5000 }), 'hi')
      const ms = performance.now() - t
      await new Promise((resolve) => setTimeout(resolve, 500))
      const grew = (peakRss - rss0) / 2 ** 20
      // what the sender still gets out once the budget is spent: yamux's window (up to 16 MiB) and the socket buffers, then nothing
      assert.ok(sent - sentAt3s < 2 ** 20, `backpressure reached the sender: ${(sentAt3s / 2 ** 20).toFixed(1)} MiB out in the first 3 s, ${((sent - sentAt3s) / 2 ** 20).toFixed(1)} MiB in the next 2 s`)
      assert.ok(sent < 32 * 2 ** 20, `the sender got ${(sent / 2 ** 20).toFixed(1)} MiB out in all`)
      // the budget pauses reading once spent; what was already read still gets its reply queued,
      // so the bound is the budget plus what arrived before the pause took hold (measured: 4.0-5.9
      // MiB from one machine and run to the next; checked here at twice the budget, as a faster
      // machine reads more between two checks). Before the budget, the same client took it to 2.5 GiB.
      assert.ok(peakHeld > 0 && peakHeld <= 8 * 2 ** 20, `bob held at most twice its 4 MiB budget: ${(peakHeld / 2 ** 20).toFixed(1)} MiB`)
      assert.ok(grew < 200, `the process grew ${grew.toFixed(0)} MiB`)
      assert.ok(ms < 2000, `alice was answered in ${ms.toFixed(0)} ms`)
      stream.abort(new Error('done'))
    } finally {
      clearInterval(sample)
      await Promise.all([eve.stop(), alice.stop()])
      await bob.stop()
    }
  })
})

describe('file credit window', () => {
  it('resets the stream of a sender that sends more chunks than its credit, with CreditWindowExceededError', async () => {
    const { dir, cleanup } = await tempDir()
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], filesDir: join(dir, 'bob') })
    const eve = await startPeer({ uri: '//Eve', listen: [], transports: ['tcp'] })
    const failed: Error[] = []
    let restore = (): void => {}
    bob.subwire.on('file:failed', (e) => { failed.push(e.error) })
    try {
      const dest = addrOf(bob, 'tcp')
      const session = await eve.connect(dest)
      const connection = eve.libp2p.getConnections().find((c) => c.id === session.connectionId)
      assert.ok(connection !== undefined)
      // eve's sender reads the receiver's accept frame with its window of 8 chunks as 64
      // (the sender's own ceiling), so it sends far past the credit it was granted
      const newStream = connection.newStream.bind(connection)
      connection.newStream = (async (...args: Parameters<typeof newStream>) => {
        const stream = await newStream(...args)
        const add = stream.addEventListener.bind(stream) as (type: string, fn: (evt: unknown) => void, opts?: unknown) => void
        ;(stream as { addEventListener: unknown }).addEventListener = (type: string, fn: (evt: unknown) => void, opts?: unknown): void => {
          if (type !== 'message') { add(type, fn, opts); return }
          add(type, (evt: unknown) => {
            const raw = (evt as { data: Uint8Array | { subarray: () => Uint8Array } }).data
            const bytes = new Uint8Array(raw instanceof Uint8Array ? raw : raw.subarray())
            for (let i = 0; i + 2 < bytes.length; i++) {
              if (bytes[i] === 0xa1 && bytes[i + 1] === 0x77 && bytes[i + 2] === 0x08) bytes[i + 2] = 0x40 // 'w': 8 -> 'w': 64
            }
            fn({ data: bytes })
          }, opts)
        }
        return stream
      }) as typeof connection.newStream
      // and bob's disk is slow (each chunk's write takes 2 s), so the chunks it was not granted credit for pile up
      const open = NodeFileStore.prototype.open
      restore = () => { NodeFileStore.prototype.open = open }
      NodeFileStore.prototype.open = async function (this: NodeFileStore, ...args: Parameters<typeof open>) {
        const partial = await open.apply(this, args)
        const write = partial.write.bind(partial)
        partial.write = async (...w: Parameters<typeof write>) => { await new Promise((resolve) => setTimeout(resolve, 2000)); await write(...w) }
        return partial
      }
      const path = join(dir, 'big.bin')
      await randomFile(path, 40 * 1024 * 1024)
      await assert.rejects(eve.sendFile(dest, path, { timeout: 20_000 } as never), (e: Error) => e.name !== 'AssertionError')
      await waitFor(() => failed.length > 0, 10_000, 'bob failing the transfer')
      assert.equal(failed[0]?.name, 'CreditWindowExceededError', `bob's error: ${failed[0]?.name}: ${failed[0]?.message}`)
    } finally {
      restore()
      await Promise.all([eve.stop()])
      await bob.stop()
      await cleanup()
    }
  })
})

describe('unfinished file frames', () => {
  it('pause the file streams of a sender holding them once its budget is spent, release it when they close, and keep receiving from others', async () => {
    const { dir, cleanup } = await tempDir()
    // default limits: the file budget is 48 MiB per connection (three 16 MiB frames)
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], filesDir: join(dir, 'bob') })
    const eve = await startPeer({ uri: '//Eve', listen: [], transports: ['tcp'] })
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'] })
    let peakHeld = 0
    const sample = setInterval(() => { peakHeld = Math.max(peakHeld, bob.subwire.bufferedBytes) }, 20)
    try {
      const dest = addrOf(bob, 'tcp')
      const session = await eve.connect(dest)
      const connection = eve.libp2p.getConnections().find((c) => c.id === session.connectionId)
      assert.ok(connection !== undefined)
      // sixteen streams, each sending an offer frame of 16 MiB but its last byte (256 MiB in all)
      const frame = encodeFrame({ k: 'offer', pad: new Uint8Array(16 * 2 ** 20 - 1024) }, 17 * 2 ** 20)
      const streams = await Promise.all(Array.from({ length: 16 }, async () => await connection.newStream(fileProtocol(42))))
      const offsets = streams.map(() => 0)
      const deadline = performance.now() + 6000
      while (performance.now() < deadline && offsets.some((o) => o < frame.byteLength - 1)) {
        let wrote = false
        streams.forEach((stream, i) => {
          const at = offsets[i] as number
          if (at >= frame.byteLength - 1 || stream.status !== 'open' || stream.writeBufferLength > 256 * 1024) return
          const end = Math.min(frame.byteLength - 1, at + 64 * 1024)
          stream.send(frame.subarray(at, end))
          offsets[i] = end
          wrote = true
        })
        if (!wrote) await new Promise((resolve) => setTimeout(resolve, 5))
      }
      await new Promise((resolve) => setTimeout(resolve, 300))
      // what left eve on each stream (a stream bob reset, its transport buffer overflowed while
      // paused, has nothing buffered left: all it wrote counts as left, but it is not open)
      const left = streams.map((s, i) => (offsets[i] as number) - s.writeBufferLength)
      const whole = streams.filter((s, i) => s.status === 'open' && (left[i] as number) >= frame.byteLength - 1).length
      const perStream = streams.map((s, i) => `${s.status}:${((left[i] as number) / 2 ** 20).toFixed(1)}`).join(' ')
      // meanwhile an honest sender's file lands
      const path = join(dir, 'honest.bin')
      await randomFile(path, 3 * 2 ** 20)
      const sent = await alice.sendFile(dest, path, { signal: AbortSignal.timeout(20_000) })
      assert.equal(sent.size, 3 * 2 ** 20)
      // without the budget bob read all 256 MiB into its frame decoders (and bufferedBytes did
      // not count them). With it, the streams pause once 48 MiB are held: what a paused stream
      // then holds is the one read that spent the budget (measured: 49-53 MiB in all) and its
      // transport buffer, which libp2p caps at 4 MiB a stream (it resets the stream beyond)
      assert.ok(peakHeld > 2 ** 20 && peakHeld <= 56 * 2 ** 20, `bob held at most its 48 MiB file budget (+ one read per stream): ${(peakHeld / 2 ** 20).toFixed(1)} MiB`)
      // without the budget all sixteen frames arrived whole on open streams; with it at most
      // the three that fit it do, and each of the others is held back at eve or was reset by
      // bob once its transport buffer overflowed while paused (both seen over Noise and TLS)
      assert.ok(whole <= 3, `at most the budget's three frames reached bob whole (MiB left eve per stream: ${perStream})`)
      for (const stream of streams) stream.abort(new Error('done'))
      await waitFor(() => bob.subwire.bufferedBytes === 0, 5000, () => `bob releasing what the closed streams held (${bob.subwire.bufferedBytes} bytes)`)
    } finally {
      clearInterval(sample)
      await Promise.all([eve.stop(), alice.stop()])
      await bob.stop()
      await cleanup()
    }
  })
})

describe('session lifetime', () => {
  it('closes a session when the attestation it was admitted on expires; the dialler comes back re-attested', async () => {
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'] })
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'], protocol: { attestationLifetimeMs: 3000 } })
    try {
      const dest = addrOf(bob, 'tcp')
      assert.equal(await alice.request(dest, 'echo', 1), 1)
      const first = bob.subwire.peers().find((p) => p.ss58 === alice.ss58)
      const mine = alice.subwire.peers().find((p) => p.ss58 === bob.ss58)
      assert.ok(first !== undefined && mine !== undefined)
      await waitFor(() => !bob.subwire.peers().some((p) => p.connectionId === first.connectionId), 6000, 'bob ending the session at the expiry')
      // and alice seeing it end (a request racing the close would meet the closing stream)
      await waitFor(() => !alice.subwire.peers().some((p) => p.connectionId === mine.connectionId), 6000, 'alice seeing the session end')
      assert.equal(await alice.request(dest, 'echo', 2), 2)
      const second = bob.subwire.peers().find((p) => p.ss58 === alice.ss58)
      assert.ok(second !== undefined && second.connectionId !== first.connectionId, 'a new session on a new connection')
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })
})

describe('fair turns between callers', () => {
  it('a caller with a backlog of 300 requests does not hold up another caller\'s one request', async () => {
    // a handler backed by a scarce resource: 4 slots taken in arrival order (a model, a pool),
    // 10 ms a request; bob runs at most 4 handlers at once, and callers take turns beyond
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], protocol: { maxConcurrentHandlers: 4 } })
    const eve = await startPeer({ uri: '//Eve', listen: [], transports: ['tcp'] })
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'] })
    try {
      let free = 4
      const slots: Array<() => void> = []
      const started: string[] = []
      bob.handle('model', async (body, { caller }) => {
        if (free > 0) free--; else await new Promise<void>((resolve) => { slots.push(resolve) })
        started.push(caller.ss58 === alice.ss58 ? 'alice' : 'eve')
        await new Promise((resolve) => setTimeout(resolve, 10))
        const next = slots.shift()
        if (next !== undefined) next(); else free++
        return body
      })
      const dest = addrOf(bob, 'tcp')
      // both channels open before the backlog (alice's request must not wait for a new stream)
      assert.equal(await eve.request(dest, 'model', 'warm'), 'warm')
      assert.equal(await alice.request(dest, 'model', 'warm'), 'warm')
      started.length = 0
      const backlog = Promise.all(Array.from({ length: 300 }, async (_, i) => await eve.request(dest, 'model', i, { timeout: 60_000 })))
      await waitFor(() => started.length >= 8, 10_000, () => `eve's requests to be running (${started.length} started)`)
      const before = started.length
      const t = performance.now()
      assert.equal(await alice.request(dest, 'model', 'alice', { timeout: 60_000 }), 'alice')
      const ms = performance.now() - t
      const at = started.indexOf('alice')
      // with turns: alice's request starts within a few of eve's (those running, one turn of eve's,
      // and what starts while her frame is on its way). Without the turns, every request started its
      // handler at once and alice's waited behind the ~290 of eve's already queued for the 4 slots
      // (292 starts later, 770 ms, when measured)
      assert.ok(at >= 0 && at - before <= 40, `alice's request started ${at - before} handler starts after she sent it (${ms.toFixed(0)} ms)`)
      assert.deepEqual(await backlog, Array.from({ length: 300 }, (_, i) => i))
      assert.equal(started.length, 301, 'every request of both ran once')
    } finally {
      await Promise.all([eve.stop(), alice.stop()])
      await bob.stop()
    }
  })

  it('gives every turn back: after handlers that throw, requests cancelled while they wait, and streamed replies', async () => {
    const bob = await startPeer({ uri: '//Bob', transports: ['tcp'], protocol: { maxConcurrentHandlers: 2 } })
    const alice = await startPeer({ uri: '//Alice', listen: [], transports: ['tcp'] })
    try {
      let ran = 0
      const gate = Promise.withResolvers<void>()
      bob.handle('fail', async () => { ran++; throw new Error('no') })
      bob.handle('hold', async () => { ran++; await gate.promise; return 'held' })
      bob.handle('count', async function * () { for (let i = 0; i < 5; i++) { await new Promise((resolve) => setTimeout(resolve, 2)); yield i } })
      const dest = addrOf(bob, 'tcp')
      // 10 failures: each gives its turn back (were one kept, 2 would leave no turn at all)
      for (let i = 0; i < 10; i++) await assert.rejects(alice.request(dest, 'fail', i), (e: Error) => e.name === 'RemoteHandlerError')
      // both turns held; 5 more wait for one and are cancelled by the caller while they wait
      const held = [alice.request(dest, 'hold', 1), alice.request(dest, 'hold', 2)]
      await waitFor(() => ran === 12, 5000, () => `the two holding handlers to run (${ran - 10} did)`)
      let cancelledAtBob = 0
      bob.subwire.on('request:served', (e) => { if (e.outcome === 'OperationAbortedError') cancelledAtBob++ })
      const controllers = Array.from({ length: 5 }, () => new AbortController())
      const waiting = controllers.map(async (c, i) => await alice.request(dest, 'fail', i, { signal: c.signal }).catch((e: Error) => e.name))
      await new Promise((resolve) => setTimeout(resolve, 200))
      for (const c of controllers) c.abort()
      assert.deepEqual(await Promise.all(waiting), Array(5).fill('OperationAbortedError'))
      // bob has taken the 5 out of the queue (the caller's cancel frames reached him) before a turn frees
      await waitFor(() => cancelledAtBob === 5, 5000, () => `bob to see the 5 cancels (${cancelledAtBob})`)
      gate.resolve()
      assert.deepEqual(await Promise.all(held), ['held', 'held'])
      assert.equal(ran, 12, 'the cancelled requests never ran their handler')
      // streamed replies, three at once on two turns: each step takes a turn and gives it back
      const streams = await Promise.all(Array.from({ length: 3 }, async () => {
        const got: unknown[] = []
        for await (const chunk of alice.requestStream(dest, 'count', null)) got.push(chunk)
        return got
      }))
      assert.deepEqual(streams, Array(3).fill([0, 1, 2, 3, 4]))
      // and the two turns are all free again: two holding handlers run at once
      const again = Promise.withResolvers<void>()
      let inside = 0
      bob.handle('both', async () => { inside++; if (inside === 2) again.resolve(); await again.promise; return inside })
      assert.deepEqual(await Promise.all([alice.request(dest, 'both', 1, { timeout: 5000 }), alice.request(dest, 'both', 2, { timeout: 5000 })]), [2, 2])
    } finally {
      await alice.stop()
      await bob.stop()
    }
  })
})
