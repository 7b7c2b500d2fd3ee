// The WebTransport listener's parts that run anywhere: certificates and their rotation,
// certhash multiaddrs, the stream header, the CONNECT URL check and the Noise responder
// with its certhash extension (against @libp2p/noise as the browser's dialer runs it).
// The listener itself needs Deno; e2e/tests/webtransport.spec.ts drives it from Chromium.
import 'reflect-metadata' // @peculiar/x509 needs it loaded first
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as x509 from '@peculiar/x509'
import { base64url } from 'multiformats/bases/base64'
import { sha256 } from 'multiformats/hashes/sha2'
import { uriSigner } from '@subwire/shared'
import { createNodePeer, fileCertificateStore, memoryCertificateStore } from '../src/index.ts'
import type { CertificateStore, WebTransportCert } from '../src/index.ts'
// the listener's internals, by relative path (not part of the package's API)
import {
  authenticateSession, certificateSet, certhashString, checkSessionUrl, decodeVarint, encodeVarint,
  generateCertificate, growUdpBuffers, HandshakeMessageStream, parseStreamHeader, reportedCerthashes, udpSocketInodes,
  webTransportSuffix
} from '../src/webtransport/index.ts'
import type { SessionStream } from '../src/webtransport/index.ts'
import { WEBTRANSPORT_UDP_BUFFER_BYTES } from '../src/constants.ts'
import { findDeno } from '../bin/runtimes.js'

const DAY = 24 * 3600_000
const T0 = Date.parse('2026-11-23T00:00:00Z')

/** A store that counts saves. */
function countingStore (): CertificateStore & { saves: number } {
  const inner = memoryCertificateStore()
  const store = { saves: 0, load: inner.load, save: async (c: WebTransportCert[]) => { store.saves++; await inner.save(c) } }
  return store
}

/** Two ends of a bidirectional stream, as the session hands them out. */
function streamPair (): [SessionStream, SessionStream] {
  const ab = new TransformStream<Uint8Array, Uint8Array>()
  const ba = new TransformStream<Uint8Array, Uint8Array>()
  return [
    { reader: ba.readable.getReader(), writable: ab.writable, leftover: new Uint8Array(0), id: 0n },
    { reader: ab.readable.getReader(), writable: ba.writable, leftover: new Uint8Array(0), id: 0n }
  ]
}

describe('WebTransport listener (runtime-independent parts)', () => {
  describe('certificates', () => {
    it('generates self-signed ECDSA P-256 certificates valid for less than 14 days, hashed as a sha2-256 multihash of the DER', async () => {
      const c = await generateCertificate(T0, 12 * DAY)
      const cert = new x509.X509Certificate(c.cert)
      assert.equal((cert.publicKey.algorithm as { namedCurve?: string }).namedCurve, 'P-256')
      assert.equal((cert.signatureAlgorithm as { name?: string }).name, 'ECDSA')
      assert.equal(cert.notBefore.getTime(), T0)
      assert.ok(cert.notAfter.getTime() - cert.notBefore.getTime() < 14 * DAY)
      assert.ok(await cert.verify({ signatureOnly: true }), 'self-signed')
      assert.deepEqual(c.hash, (await sha256.digest(new Uint8Array(cert.rawData))).bytes)
      assert.deepEqual([...c.hash.subarray(0, 2)], [0x12, 0x20])
      assert.match(c.key, /^-----BEGIN PRIVATE KEY-----/)
      assert.match(certhashString(c.hash), /^uEi[\w-]{44}$/)
    })

    it('keeps the same set between calls, and rotates on schedule announcing the next hash ahead', async () => {
      const store = countingStore()
      let now = T0
      const first = await certificateSet(store, { now: () => now })
      assert.equal(store.saves, 1)
      assert.ok(first.current.notBefore <= now && first.current.notAfter > now)
      assert.equal(first.next.notBefore, first.current.notBefore + 6 * DAY)
      assert.equal(first.previous, undefined)
      assert.ok(first.rotateAt > now && first.rotateAt - now <= 6 * DAY + 3600_000)

      now += 3 * DAY
      const same = await certificateSet(store, { now: () => now })
      assert.equal(store.saves, 1, 'nothing new to save')
      assert.deepEqual([same.current.hash, same.next.hash], [first.current.hash, first.next.hash])

      now = first.rotateAt
      const rotated = await certificateSet(store, { now: () => now })
      assert.deepEqual(rotated.current.hash, first.next.hash, 'the announced next one is served')
      assert.deepEqual(rotated.previous?.hash, first.current.hash)
      assert.notDeepEqual(rotated.next.hash, first.next.hash)
      assert.ok(rotated.current.notAfter > now)
      // an address handed out before the rotation names first.current and first.next: the
      // handshake still reports both, so the dialer's subset check passes
      const reported = reportedCerthashes(rotated).map(certhashString)
      for (const h of [first.current.hash, first.next.hash]) assert.ok(reported.includes(certhashString(h)))

      now = rotated.rotateAt
      const again = await certificateSet(store, { now: () => now })
      assert.deepEqual(again.previous?.hash, first.next.hash)
      assert.ok(!reportedCerthashes(again).map(certhashString).includes(certhashString(first.current.hash)), 'an expired certificate is dropped')
      assert.equal((await store.load()).length, 3)
    })

    it('starts afresh when the stored certificates are all expired (a peer that was off for weeks)', async () => {
      const store = memoryCertificateStore()
      const old = await certificateSet(store, { now: () => T0 })
      const later = await certificateSet(store, { now: () => T0 + 40 * DAY })
      assert.notDeepEqual(later.current.hash, old.current.hash)
      assert.ok(later.current.notBefore <= T0 + 40 * DAY && later.current.notAfter > T0 + 40 * DAY)
      assert.equal(later.previous, undefined)
    })

    it('keeps them in an owner-only file, so the certhashes are the same after a restart', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'subwire-wt-'))
      try {
        const path = join(dir, 'webtransport-certs.json')
        const a = await certificateSet(fileCertificateStore(path), { now: () => T0 })
        assert.equal((await stat(path)).mode & 0o777, 0o600)
        const b = await certificateSet(fileCertificateStore(path), { now: () => T0 + DAY })
        assert.equal(webTransportSuffix(b), webTransportSuffix(a))
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('refuses a validity browsers would reject, or too rare a rotation', async () => {
      await assert.rejects(certificateSet(memoryCertificateStore(), { validityMs: 14 * DAY }), (e: Error) => e.name === 'InvalidConfigError')
      await assert.rejects(certificateSet(memoryCertificateStore(), { validityMs: 12 * DAY, rotateMs: 7 * DAY }), (e: Error) => e.name === 'InvalidConfigError')
    })
  })

  describe('addresses and framing', () => {
    it('announces /quic-v1/webtransport with the current and next certhash, which decode back to their multihashes', async () => {
      const set = await certificateSet(memoryCertificateStore(), { now: () => T0 })
      const ma = multiaddr(`/ip4/127.0.0.1/udp/4703${webTransportSuffix(set)}`)
      const hashes = ma.getComponents().filter((c) => c.name === 'certhash').map((c) => base64url.decode(c.value ?? ''))
      assert.deepEqual(hashes, [set.current.hash, set.next.hash])
    })

    it('encodes and decodes QUIC varints at every length boundary, and asks for more bytes when truncated', () => {
      for (const v of [0n, 63n, 64n, 16383n, 16384n, (1n << 30n) - 1n, 1n << 30n, (1n << 62n) - 1n]) {
        const bytes = encodeVarint(v)
        assert.deepEqual(decodeVarint(bytes), { value: v, length: bytes.byteLength })
        assert.equal(decodeVarint(bytes.subarray(0, bytes.byteLength - 1)), undefined)
      }
      assert.throws(() => encodeVarint(1n << 62n), RangeError)
    })

    it('parses the 0x41 + session id stream header, waits for a truncated one, and refuses other stream types with a typed error', () => {
      const header = Uint8Array.from([...encodeVarint(0x41n), ...encodeVarint(0n), 9, 9])
      assert.deepEqual(parseStreamHeader(header), { sessionId: 0n, length: 3 })
      assert.equal(parseStreamHeader(header.subarray(0, 2)), undefined)
      assert.equal(parseStreamHeader(new Uint8Array(0)), undefined)
      assert.throws(() => parseStreamHeader(Uint8Array.of(0x01, 0x00)), (e: Error) => e.name === 'WebTransportProtocolError')
    })

    it('accepts only the libp2p endpoint with Noise as the CONNECT URL', () => {
      checkSessionUrl('https://127.0.0.1:4703/.well-known/libp2p-webtransport?type=noise')
      for (const bad of ['https://127.0.0.1:4703/', 'https://127.0.0.1:4703/.well-known/libp2p-webtransport', 'https://h/.well-known/libp2p-webtransport?type=tls', 'not a url']) {
        assert.throws(() => { checkSessionUrl(bad) }, (e: Error) => e.name === 'WebTransportProtocolError', bad)
      }
    })
  })

  describe('Noise on the first stream', () => {
    it('authenticates the dialer and reports our certhashes, so a dialer holding our address passes its subset check and one holding another does not', async () => {
      const logger = defaultLogger()
      const serverKey = await generateKeyPair('Ed25519')
      const browserKey = await generateKeyPair('Ed25519')
      const server = { privateKey: serverKey, peerId: peerIdFromPrivateKey(serverKey), logger }
      const browser = { privateKey: browserKey, peerId: peerIdFromPrivateKey(browserKey), logger }
      const set = await certificateSet(memoryCertificateStore(), { now: () => T0 })
      const [serverEnd, browserEnd] = streamPair()
      const signal = AbortSignal.timeout(10_000)
      const dialer = new HandshakeMessageStream(browserEnd, logger.forComponent('test:dialer'))
      const [remotePeer, outbound] = await Promise.all([
        authenticateSession(serverEnd, server, reportedCerthashes(set), signal),
        noise()(browser as never).secureOutbound(dialer, { signal, remotePeer: server.peerId, skipStreamMuxerNegotiation: true })
      ])
      assert.equal(remotePeer.toString(), browser.peerId.toString())
      assert.equal(outbound.remotePeer.toString(), server.peerId.toString())
      const reported = (outbound.remoteExtensions?.webtransportCerthashes ?? []).map(certhashString)
      const isSubset = (dialled: Uint8Array[]): boolean => dialled.every((h) => reported.includes(certhashString(h)))
      assert.ok(isSubset([set.current.hash, set.next.hash]), 'our announced address passes')
      assert.ok(!isSubset([(await generateCertificate(T0, DAY)).hash]), 'an address with another certificate fails')
      // the responder closed its side of the handshake stream (FIN)
      const { done } = await browserEnd.reader.read()
      assert.equal(done, true)
    })
  })

  describe('UDP socket buffers', () => {
    it('finds the sockets of a port in /proc/self/net/udp and udp6 tables', () => {
      const udp = [
        '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
        ' 1234: 0100007F:125F 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1204604 2 0000000000000000 0',
        ' 1235: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 999 2 0000000000000000 0',
        ''
      ].join('\n')
      const udp6 = [
        '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
        '  77: 00000000000000000000000000000000:125F 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555 2 0000000000000000 0'
      ].join('\n')
      assert.deepEqual([...udpSocketInodes([udp, udp6], 0x125f)].sort(), ['1204604', '555'])
      assert.deepEqual([...udpSocketInodes([udp, udp6], 4704)], [])
    })

    it('says why it changed nothing where there is no FFI (Node)', () => {
      const r = growUdpBuffers(undefined, 4703, WEBTRANSPORT_UDP_BUFFER_BYTES)
      assert.equal(r.ok, false)
      assert.match(r.ok ? '' : r.reason, /FFI/)
    })

    it('grows a real Deno QUIC endpoint\'s buffers beyond the kernel default', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'subwire-udpbuf-'))
      try {
        const script = join(dir, 'grow.ts')
        const module = new URL('../src/webtransport/socket-buffers.ts', import.meta.url).pathname
        await writeFile(script, [
          `import { growUdpBuffers } from ${JSON.stringify(module)}`,
          'const ep = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 })',
          `console.log(JSON.stringify(growUdpBuffers(Deno, ep.addr.port, ${WEBTRANSPORT_UDP_BUFFER_BYTES})))`,
          'ep.close()'
        ].join('\n'))
        const deno = findDeno() // as the launcher finds it
        assert.ok(deno !== undefined, 'the deno devDependency is installed (npm install)')
        const { stdout } = await promisify(execFile)(deno, ['run', '--allow-all', '--unstable-net', '--quiet', script])
        const r = JSON.parse(stdout) as { ok: boolean, fds: number[], receiveBefore: number, receiveBytes: number, sendBytes: number }
        assert.equal(r.ok, true, stdout)
        assert.equal(r.fds.length, 1)
        // the kernel reports twice what it keeps; without CAP_NET_ADMIN the request is capped at rmem_max
        const root = process.getuid?.() === 0
        const cap = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'))
        const expected = 2 * (root ? WEBTRANSPORT_UDP_BUFFER_BYTES : Math.min(WEBTRANSPORT_UDP_BUFFER_BYTES, cap))
        assert.equal(r.receiveBytes, expected, stdout)
        assert.ok(r.receiveBytes > r.receiveBefore || r.receiveBefore >= expected, stdout)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  })

  it('refuses the webtransport transport outside Deno with WebTransportUnavailableError', async () => {
    await assert.rejects(createNodePeer({ signer: uriSigner('//Alice'), netuids: [1], transports: ['webtransport'], listen: [] }),
      (e: Error) => e.name === 'WebTransportUnavailableError' && /Deno/.test(e.message))
  })
})
