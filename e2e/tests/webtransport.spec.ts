// End to end over WebTransport: `subwire listen --webtransport` (the peer under Deno) and the
// dashboard in real Chromium, dialling with the stock @libp2p/webtransport transport.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { spawnSync } from 'node:child_process'
import { BIN, buildDashboard, CliPeer, errorText, freePort, launchWithWallet, opfsFile, randomFile, screenshot, sha256File, signIn } from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const MiB = 1024 * 1024

/** The browser's libp2p connections: id, remote address, open streams. */
async function connections (page: Page): Promise<Array<{ id: string, addr: string, streams: number }>> {
  return await page.evaluate(() => {
    const peer = (globalThis as unknown as { subwirePeer: { libp2p: { getConnections: () => Array<{ id: string, remoteAddr: { toString: () => string }, streams: unknown[] }> } } }).subwirePeer
    return peer.libp2p.getConnections().map((c) => ({ id: c.id, addr: c.remoteAddr.toString(), streams: c.streams.length }))
  })
}

describe('WebTransport: Chromium ↔ the peer under Deno', () => {
  let dir: string
  let cli: CliPeer
  let context: BrowserContext
  let page: Page
  let wtAddr: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-wt-'))
    await buildDashboard()
    const ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort(), webtransport: await freePort() }
    cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
    ;({ context, page } = await launchWithWallet(join(dir, 'chromium'), { accounts: [{ uri: '//Charlie', name: 'charlie hotkey' }] }))
    page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
    wtAddr = cli.browserAddrs[0] ?? ''
  })

  after(async () => {
    await context?.close()
    await cli?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('announces a /webtransport address with two certhashes, first among the browser addresses', () => {
    assert.match(wtAddr, /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/webtransport\/certhash\/u[\w-]+\/certhash\/u[\w-]+\/p2p\/12D3KooW/)
  })

  it('signs in with the wallet and connects over WebTransport; the dashboard and the peer both say so', async () => {
    await page.goto(cli.dashboard)
    await page.waitForSelector('body[data-ready=true]')
    assert.equal(await page.inputValue('[data-testid=peer-addr]'), wtAddr, 'the dashboard offers the WebTransport address first')
    await signIn(page, CHARLIE)
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"]`, { timeout: 30_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}; stderr ${cli.stderr}`) })
    assert.equal(await page.textContent(`#peer-list tr[data-ss58="${BOB}"] td:nth-child(3)`), 'webtransport')
    assert.equal(await page.getAttribute('[data-testid=connect-status]', 'data-transport'), 'webtransport')
    assert.match(await page.textContent('[data-testid=connect-status]') ?? '', /over webtransport$/)
    const seen = await cli.waitFor((e) => e.event === 'connected' && e.ss58 === CHARLIE)
    assert.match(String(seen.remoteAddr), /\/quic-v1\/webtransport/)
    await screenshot(page, 'wt-01-connected')
  })

  it('answers 1,000 RPCs on the same WebTransport connection', async () => {
    const before = await connections(page)
    assert.equal(before.length, 1)
    assert.match(before[0]?.addr ?? '', /\/webtransport\//)
    const wrong = await page.evaluate(async (bob) => {
      const peer = (globalThis as unknown as { subwirePeer: { request: (d: string, t: string, b: unknown) => Promise<unknown> } }).subwirePeer
      let bad = 0
      for (let i = 0; i < 1000; i++) {
        const body = { i, pad: 'x'.repeat(i % 97) }
        const reply = await peer.request(bob, 'echo', body) as { i: number, pad: string }
        if (reply.i !== i || reply.pad !== body.pad) bad++
      }
      return bad
    }, BOB)
    assert.equal(wrong, 0)
    const afterRpc = await connections(page)
    assert.deepEqual(afterRpc.map((c) => c.id), before.map((c) => c.id), 'no new connection')
  })

  it('opens and closes 1,500 streams in a row (more than the per-session stream limit): every close sends FIN', async () => {
    const result = await page.evaluate(async () => {
      const peer = (globalThis as unknown as { subwirePeer: { libp2p: { getConnections: () => Array<{ remotePeer: unknown, streams: unknown[], newStream: (p: string) => Promise<AsyncIterable<Uint8Array | { subarray: () => Uint8Array }> & { send: (d: Uint8Array) => boolean, close: () => Promise<void>, status: string }> }> } } }).subwirePeer
      const conn = peer.libp2p.getConnections()[0]
      if (conn === undefined) throw new Error('no connection')
      let echoed = 0
      for (let i = 0; i < 1500; i++) {
        // the connection monitor pings too, and ping allows one outbound stream at a time:
        // wait for its stream to end (a few ms) rather than count that as a failure
        let stream
        for (let tries = 0; stream === undefined; tries++) {
          try {
            stream = await conn.newStream('/ipfs/ping/1.0.0')
          } catch (err) {
            if ((err as Error).name !== 'TooManyOutboundProtocolStreamsError' || tries > 200) throw err
            await new Promise((resolve) => setTimeout(resolve, 5))
          }
        }
        // read from the start: libp2p 3's iterator misses a FIN that came before it existed
        const reading = (async () => {
          let n = 0
          for await (const chunk of stream) n += (chunk instanceof Uint8Array ? chunk : chunk.subarray()).byteLength
          return n
        })()
        stream.send(crypto.getRandomValues(new Uint8Array(32)))
        await stream.close() // our FIN; the remote echoes and closes its side (its FIN)
        const got = await reading
        if (got === 32) echoed++
      }
      // the last streams leave the connection's list a little after both FINs: poll for that
      // (with a deadline) rather than sleep a fixed 200 ms
      const deadline = Date.now() + 10_000
      while (conn.streams.length > 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      return { echoed, open: conn.streams.length }
    })
    assert.equal(result.echoed, 1500)
    assert.ok(result.open <= 2, `${result.open} streams still open 10 s after 1,500 closed ones`)
  })

  it('sends a 64 MiB file browser→peer over WebTransport; the hashes on disk are equal', async () => {
    const src = join(dir, 'up-64m.bin')
    const sha = await randomFile(src, 64 * MiB)
    await page.selectOption('[data-testid=send-to]', BOB)
    await page.setInputFiles('[data-testid=file-input]', src)
    const sent = '#transfer-list li[data-dir=out][data-name="up-64m.bin"]'
    await page.waitForSelector(`${sent}[data-state=done]`, { timeout: 180_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; row: ${await page.textContent(sent).catch(() => 'none')}`) })
    const got = await cli.waitFor((e) => e.event === 'file' && e.name === 'up-64m.bin')
    assert.equal(got.from, CHARLIE)
    assert.equal(got.size, 64 * MiB)
    assert.equal(await sha256File(String(got.path)), sha)
    assert.equal(await page.getAttribute(sent, 'data-blake3'), got.blake3)
  })

  it('sends a 64 MiB file peer→browser over WebTransport (subwire send through the listener), after the page hung up and dialled again; OPFS has the same bytes', async () => {
    // the browser leaves its session and opens a new one: the peer must use the new one
    await page.evaluate(async (addr) => {
      const peer = (globalThis as unknown as { subwirePeer: { connect: (a: string) => Promise<unknown>, libp2p: { hangUp: (p: unknown) => Promise<void>, getConnections: () => Array<{ remotePeer: unknown }> } } }).subwirePeer
      for (const c of peer.libp2p.getConnections()) await peer.libp2p.hangUp(c.remotePeer)
      await peer.connect(addr)
    }, wtAddr)
    // `subwire send` below blocks this process, so nobody could click Accept: receive without asking
    await page.uncheck('[data-testid=ask-consent]')
    const src = join(dir, 'down-64m.bin')
    const sha = await randomFile(src, 64 * MiB)
    const r = spawnSync(process.execPath, [BIN, '--home', join(dir, 'bob'), '--json', 'send', CHARLIE, src], { encoding: 'utf8', timeout: 180_000 })
    assert.equal(r.status, 0, `subwire send failed: ${r.stdout}${r.stderr}`)
    const row = '#inbox-list tr[data-path$="down-64m.bin"]'
    await page.waitForSelector(row, { timeout: 60_000 })
    const path = await page.getAttribute(row, 'data-path') ?? ''
    assert.equal(path, `inbox/${BOB}/down-64m.bin`)
    assert.deepEqual(await opfsFile(page, path), { size: 64 * MiB, sha })
    const conns = await connections(page)
    assert.equal(conns.length, 1)
    assert.match(conns[0]?.addr ?? '', /\/webtransport\//, 'it came over the WebTransport connection')
    await screenshot(page, 'wt-02-files')
  })

  it('falls back to WebRTC-Direct when the browser has no WebTransport, and says so', async () => {
    const other = await context.newPage()
    try {
      await other.addInitScript(() => {
        Reflect.deleteProperty(globalThis, 'WebTransport')
        // a browser that never signed in here: no remembered session or peers
        localStorage.removeItem('subwire.session')
        localStorage.removeItem('subwire.knownPeers')
      })
      await other.goto(cli.dashboard)
      await other.waitForSelector('body[data-ready=true]')
      await other.click('[data-testid=use-dev-key]')
      await other.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
      assert.equal(await other.inputValue('[data-testid=peer-addr]'), wtAddr)
      await other.click('[data-testid=add-peer]')
      await other.waitForSelector(`#peer-list tr[data-ss58="${BOB}"]`, { timeout: 30_000 })
        .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(other, 'peers')}`) })
      await other.waitForSelector('[data-testid=connect-status][data-transport]', { timeout: 30_000 })
      assert.equal(await other.getAttribute('[data-testid=connect-status]', 'data-transport'), 'webrtc-direct')
      assert.match(await other.textContent('[data-testid=connect-status]') ?? '', /over webrtc-direct \(webtransport failed: /)
      assert.equal(await other.textContent(`#peer-list tr[data-ss58="${BOB}"] td:nth-child(3)`), 'webrtc-direct')
      await screenshot(other, 'wt-03-fallback')
    } finally {
      await other.close()
    }
  })
})
