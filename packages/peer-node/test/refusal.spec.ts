/**
 * A refusal reaches the dialler (issue 20): the listener keeps a refused connection open
 * long enough for its reason to arrive, also when the machine is busy, and a dialler whose
 * hello is answered only by a hang-up is told it was most likely refused, with a typed
 * error, instead of a bare closed connection. Real peers over QUIC and TCP on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, it } from 'node:test'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { AccessControl, AUTH_PROTOCOL } from '@subwire/shared'
import { addrOf, startPeer } from './helpers.ts'
import type { ChildProcess } from 'node:child_process'

/** The error's chain of names, outermost first. */
function causes (err: unknown): string[] {
  const out: string[] = []
  for (let e = err as { name?: string, cause?: unknown } | undefined; e !== undefined && out.length < 8; e = e.cause as typeof e) out.push(String(e.name))
  return out
}

describe('a refusal reaches the dialler', () => {
  it('names a hang-up right after our hello as a likely refusal (HandshakeFailedError), not a bare closed connection', async () => {
    const rude = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    // reads the hello, answers nothing, hangs up: what a refusal whose frame was lost looks like
    await rude.handle(AUTH_PROTOCOL, (stream, connection) => {
      stream.addEventListener('message', () => { connection.abort(new Error('hung up')) }, { once: true })
    }, { runOnLimitedConnection: false })
    const alice = await startPeer({ uri: '//Alice', transports: ['tcp'], listen: [] })
    try {
      const addr = `${rude.getMultiaddrs()[0]?.toString() ?? ''}`
      await assert.rejects(alice.request(addr, 'echo', 1, { timeout: 10_000 }), (err: Error) => {
        assert.equal(err.name, 'HandshakeFailedError', causes(err).join(' <- '))
        assert.match(err.message, /without answering our hello.*most likely refused/)
        return true
      })
    } finally {
      await alice.stop()
      await rude.stop()
    }
  })

  it('delivers the reason of every refusal while both cores are busy (20 blocked dials over QUIC and TCP)', async () => {
    const acl = new AccessControl()
    const bob = await startPeer({ uri: '//Bob', acl })
    const alice = await startPeer({ uri: '//Alice', listen: [] })
    acl.update({ allow: [], block: [alice.ss58] })
    // two processes spinning, one per core: the dialler reads the refusal late
    const burners: ChildProcess[] = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
    try {
      const reasons: string[] = []
      for (let i = 0; i < 20; i++) {
        const addr = addrOf(bob, i % 2 === 0 ? 'quic' : 'tcp')
        await assert.rejects(alice.request(addr, 'echo', i, { timeout: 15_000 }), (err: Error) => {
          reasons.push(causes(err).join(' <- '))
          return true
        })
      }
      const withReason = reasons.filter((r) => r.includes('AccessDeniedError'))
      assert.equal(withReason.length, 20, `refusals without their reason: ${reasons.filter((r) => !r.includes('AccessDeniedError')).join('; ')}`)
    } finally {
      for (const b of burners) b.kill('SIGKILL')
      await alice.stop()
      await bob.stop()
    }
  })
})
