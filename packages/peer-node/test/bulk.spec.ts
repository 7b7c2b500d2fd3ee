import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { describe, it } from 'node:test'
import { FramedStream } from '@subwire/shared/protocol'
import { startPeer } from './helpers.ts'
import type { NodeTransport } from '../src/index.ts'

const RECEIVER = new URL('./fixtures/bulk-receiver.ts', import.meta.url).pathname

// Regression: a one-way bulk stream (nothing flowing back) between two processes must not
// stall on transport flow control. A larger yamux initial window once deadlocked exactly
// this after ~37 MiB; in one process the shared event loop hides it.
for (const transport of ['quic', 'tcp'] as NodeTransport[]) {
  describe(`one-way bulk stream over ${transport.toUpperCase()}`, () => {
    it('delivers 256 frames of 1 MiB to another process with nothing flowing back', async () => {
      const n = 256
      const child = fork(RECEIVER, [transport], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      let got = 0
      const addr = Promise.withResolvers<string>()
      const all = Promise.withResolvers<void>()
      child.on('message', (m: { addr?: string, got?: number }) => {
        if (m.addr !== undefined) addr.resolve(m.addr)
        if (m.got !== undefined) { got = m.got; if (got >= n) all.resolve() }
      })
      const alice = await startPeer({ uri: '//Alice', transports: [transport], listen: [] })
      try {
        const remote = await alice.connect(await addr.promise)
        const conn = alice.libp2p.getConnections().find((c) => c.remotePeer.toString() === remote.peerId)
        assert.ok(conn)
        const f = new FramedStream(await conn.newStream('/subwire-test/bulk/1'), { maxFrameBytes: 2 << 20, log: alice.libp2p.logger.forComponent('test'), highWaterMark: 4 << 20 })
        const data = new Uint8Array(1 << 20)
        const signal = AbortSignal.timeout(60_000)
        const stalled = new Promise<never>((_resolve, reject) => { signal.addEventListener('abort', () => { reject(new Error(`stalled: the receiver got ${got} of ${n} frames`)) }) })
        const sending = (async () => {
          for (let i = 0; i < n; i++) {
            f.send({ i, d: data })
            await f.waitWritable({ signal })
          }
        })()
        await Promise.race([Promise.all([sending, all.promise]), stalled])
        assert.ok(got >= n)
      } finally {
        await alice.stop()
        child.disconnect()
      }
    })
  })
}
