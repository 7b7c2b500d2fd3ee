/**
 * End-to-end encryption on real libp2p nodes, with the bytes captured on the wire.
 *
 * The transport here is TCP + `@libp2p/plaintext` + yamux, relayed through a TCP proxy
 * that records every byte both ways: with no transport encryption, the capture shows
 * exactly what subwire itself puts on the wire. A control message sent with encryption
 * off proves the capture sees application bytes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { yamux } from '@chainsafe/libp2p-yamux'
import { plaintext } from '@libp2p/plaintext'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { createSubwire, DecryptionFailedError, EncryptionRequiredError, TransferCancelledError } from '@subwire/shared'
import { loadHotkey, NodeFileSource, NodeFileStore } from '../src/index.ts'
import { tempDir, waitFor } from './helpers.ts'
import type { Subwire, SubwireMessage, ReceivedFile } from '@subwire/shared'
import type { Server, Socket } from 'node:net'

interface Capture {
  /** Bytes from the dialler to the listener. */
  up: Buffer[]
  /** Bytes from the listener to the dialler. */
  down: Buffer[]
  /** Flip one bit of the byte at this offset of the upstream (once). */
  corruptAt?: number | undefined
  port: number
  server: Server
  sockets: Set<Socket>
}

async function captureProxy (targetPort: number): Promise<Capture> {
  const cap: Capture = { up: [], down: [], port: 0, server: undefined as unknown as Server, sockets: new Set() }
  let upBytes = 0
  cap.server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    cap.sockets.add(client)
    cap.sockets.add(upstream)
    client.on('data', (d: Buffer) => {
      let chunk = d
      if (cap.corruptAt !== undefined && cap.corruptAt >= upBytes && cap.corruptAt < upBytes + d.byteLength) {
        chunk = Buffer.from(d)
        const i = cap.corruptAt - upBytes
        chunk[i] = (chunk[i] as number) ^ 0x01
        cap.corruptAt = undefined
      }
      upBytes += d.byteLength
      cap.up.push(Buffer.from(d))
      upstream.write(chunk)
    })
    upstream.on('data', (d: Buffer) => { cap.down.push(Buffer.from(d)); client.write(d) })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    client.on('error', () => {})
    upstream.on('error', () => {})
  })
  await new Promise<void>((resolve) => cap.server.listen(0, '127.0.0.1', resolve))
  cap.port = (cap.server.address() as { port: number }).port
  return cap
}

function captured (cap: Capture): Buffer {
  return Buffer.concat([...cap.up, ...cap.down])
}

async function plaintextNode (): Promise<Awaited<ReturnType<typeof createLibp2p>>> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [plaintext()],
    streamMuxers: [yamux()]
  })
}

describe('end-to-end encryption on the wire', () => {
  let alice: Subwire
  let bob: Subwire
  let stopAll: () => Promise<void>
  let cap: Capture
  let bobAddr: string
  let dir: string
  const messages: SubwireMessage[] = []
  const received: ReceivedFile[] = []
  const failed: Error[] = []

  before(async () => {
    const tmp = await tempDir()
    dir = tmp.dir
    const a = await plaintextNode()
    const b = await plaintextNode()
    alice = createSubwire({ libp2p: a, signer: await loadHotkey({ uri: '//Alice' }) }, { netuids: [42], redial: false })
    bob = createSubwire({ libp2p: b, signer: await loadHotkey({ uri: '//Bob' }), files: new NodeFileStore(join(dir, 'bob')) }, { netuids: [42], redial: false, files: { minFreeBytes: 0 } })
    await alice.start()
    await bob.start()
    bob.on('message', (m) => { messages.push(m) })
    bob.on('file:received', (f) => { received.push(f) })
    bob.on('file:failed', (f) => { failed.push(f.error) })
    const port = Number(b.getMultiaddrs()[0]?.toString().split('/')[4])
    cap = await captureProxy(port)
    bobAddr = `/ip4/127.0.0.1/tcp/${cap.port}/p2p/${b.peerId.toString()}`
    stopAll = async () => {
      await alice.stop(); await bob.stop(); await a.stop(); await b.stop()
      for (const s of cap.sockets) s.destroy()
      cap.server.close()
      await tmp.cleanup()
    }
  })
  after(async () => { await stopAll() })

  it('publishes an X25519 key in each attestation', () => {
    assert.equal(alice.attestation?.attestation.encryptionKey?.byteLength, 32)
    assert.equal(bob.attestation?.attestation.encryptionKey?.byteLength, 32)
  })

  it('delivers an encrypted message (the default) and its plaintext never crosses the wire', async () => {
    const marker = `message-secret-${randomBytes(8).toString('hex')}`
    await alice.message(bobAddr, 'note', { marker })
    const got = messages.find((m) => (m.payload as { marker?: string }).marker === marker)
    assert.ok(got, 'bob got the message')
    assert.equal(got.from, alice.ss58)
    assert.equal(captured(cap).includes(marker), false, 'the marker is not in the captured bytes')
  })

  it('encrypts an RPC request and its reply when asked', async () => {
    const marker = `rpc-secret-${randomBytes(8).toString('hex')}`
    const reply = await alice.request(bobAddr, 'echo', { marker }, { encrypt: true })
    assert.deepEqual(reply, { marker })
    assert.equal(captured(cap).includes(marker), false)
  })

  it('encrypts a streamed reply chunk by chunk and still ends it', async () => {
    bob.handle('count', async function * (body) {
      for (let i = 0; i < (body as number); i++) yield `streamed-secret-${i}`
    })
    const chunks: unknown[] = []
    for await (const c of alice.requestStream(bobAddr, 'count', 40, { encrypt: true })) chunks.push(c)
    assert.equal(chunks.length, 40)
    assert.equal(chunks[39], 'streamed-secret-39')
    assert.equal(captured(cap).includes('streamed-secret-'), false)
  })

  it('a message sent with encryption off is visible on the wire (the capture works)', async () => {
    const marker = `plain-visible-${randomBytes(8).toString('hex')}`
    await alice.message(bobAddr, 'note', { marker }, { encrypt: false })
    assert.equal(captured(cap).includes(marker), true)
  })

  it('sends an encrypted file that arrives byte for byte, with neither name nor content on the wire', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 12345)
    const path = join(dir, 'secret-weights-0001.bin')
    await writeFile(path, data)
    const source = await NodeFileSource.open(path)
    const before = captured(cap).byteLength
    try {
      const result = await alice.sendFile(bobAddr, source)
      assert.equal(result.size, data.byteLength)
    } finally {
      await source.close()
    }
    await waitFor(() => received.some((f) => f.name === 'secret-weights-0001.bin'), 10_000, 'file:received')
    const file = received.find((f) => f.name === 'secret-weights-0001.bin') as ReceivedFile
    assert.ok((await readFile(file.path)).equals(data), 'identical bytes in the inbox')
    const wire = captured(cap).subarray(before)
    assert.ok(wire.byteLength > data.byteLength, 'the file did cross this capture')
    assert.equal(wire.includes('secret-weights-0001'), false, 'the name is sealed in the manifest')
    for (let off = 0; off + 32 <= data.byteLength; off += 97 * 1024) {
      assert.equal(wire.includes(data.subarray(off, off + 32)), false, `file bytes at ${off} are not on the wire`)
    }
  })

  it('a ciphertext corrupted on the wire fails with DecryptionFailedError, nothing reaches the inbox, and a resend completes', async () => {
    const data = randomBytes(4 * 1024 * 1024)
    const path = join(dir, 'tampered.bin')
    await writeFile(path, data)
    const upBefore = cap.up.reduce((n, b) => n + b.byteLength, 0)
    cap.corruptAt = upBefore + 2 * 1024 * 1024 + 777 // inside the third chunk's ciphertext
    const source = await NodeFileSource.open(path)
    try {
      await assert.rejects(alice.sendFile(bobAddr, source), (err: Error) => {
        assert.equal(err.name, TransferCancelledError.name)
        assert.match(err.message, /DecryptionFailedError/)
        return true
      })
    } finally {
      await source.close()
    }
    await waitFor(() => failed.some((e) => e.name === DecryptionFailedError.name), 10_000, 'file:failed with DecryptionFailedError')
    const inbox = join(dir, 'bob', 'inbox', alice.ss58)
    assert.equal((await readdir(inbox)).includes('tampered.bin'), false, 'nothing partially decrypted in the inbox')
    // the verified prefix is kept; a clean resend resumes and completes
    const again = await NodeFileSource.open(path)
    try {
      const result = await alice.sendFile(bobAddr, again)
      assert.ok(result.resumedFrom >= 1024 * 1024, `resumed from ${result.resumedFrom}`)
    } finally {
      await again.close()
    }
    await waitFor(() => received.some((f) => f.name === 'tampered.bin'), 10_000, 'resent file')
    assert.ok((await readFile(join(inbox, 'tampered.bin'))).equals(data))
  })
})

describe('a peer that requires encryption', () => {
  it('refuses plaintext messages and files with EncryptionRequiredError and accepts encrypted ones', async () => {
    const tmp = await tempDir()
    const a = await plaintextNode()
    const b = await plaintextNode()
    const alice = createSubwire({ libp2p: a, signer: await loadHotkey({ uri: '//Alice' }) }, { netuids: [42], redial: false })
    const bob = createSubwire({ libp2p: b, signer: await loadHotkey({ uri: '//Bob' }), files: new NodeFileStore(tmp.dir) }, { netuids: [42], redial: false, encryption: { require: true }, files: { minFreeBytes: 0 } })
    try {
      await alice.start()
      await bob.start()
      const addr = `${b.getMultiaddrs()[0]?.toString() ?? ''}`
      await assert.rejects(alice.message(addr, 'x', 1, { encrypt: false }), (err: Error) => err.name === EncryptionRequiredError.name)
      await assert.rejects(alice.request(addr, 'echo', 1), (err: Error) => err.name === EncryptionRequiredError.name)
      assert.deepEqual(await alice.request(addr, 'echo', 1, { encrypt: true }), 1)
      const path = join(tmp.dir, 'f.bin')
      await writeFile(path, randomBytes(100_000))
      const src = await NodeFileSource.open(path)
      try {
        await assert.rejects(alice.sendFile(addr, src, { encrypt: false }), (err: Error) => err.name === 'FileRefusedError' && /EncryptionRequiredError/.test(err.message))
        const ok = await alice.sendFile(addr, src)
        assert.equal(ok.size, 100_000)
      } finally {
        await src.close()
      }
      assert.ok(typeof await alice.message(addr, 'x', 1) === 'string', 'an encrypted message is acked')
    } finally {
      await alice.stop(); await bob.stop(); await a.stop(); await b.stop()
      await tmp.cleanup()
    }
  })
})
