// End to end over WebTransport: `subwire listen --webtransport` (the peer under Deno) and the
// dashboard in real Chromium, dialling with the stock @libp2p/webtransport transport.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildDashboard, CliPeer, errorText, freePort, launchWithWallet, randomFile, screenshot, sha256File } from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const MiB = 1024 * 1024

interface PagePeer {
  request: (dest: string, type: string, body: unknown) => Promise<unknown>
  transportTo: (peerId: string) => string
  libp2p: { dialProtocol: (peer: unknown, protocol: string) => Promise<{ close: () => Promise<void>, send: (d: Uint8Array) => boolean }>, getConnections: () => Array<{ remotePeer: { toString: () => string }, remoteAddr: { toString: () => string } }> }
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
    await page.click('[data-testid=connect-wallet]')
    await page.waitForSelector('#accounts:not([hidden])')
    await page.selectOption('[data-testid=account]', CHARLIE)
    await page.click('[data-testid=sign-in]')
    await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"]`, { timeout: 30_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; error box: ${await errorText(page)}; stderr ${cli.stderr}`) })
    assert.equal(await page.textContent(`#peer-list tr[data-ss58="${BOB}"] td:nth-child(3)`), 'webtransport')
    const seen = await cli.waitFor((e) => e.event === 'connected' && e.ss58 === CHARLIE)
    assert.match(String(seen.remoteAddr), /\/quic-v1\/webtransport/)
    await screenshot(page, 'wt-01-connected')
  })
})
