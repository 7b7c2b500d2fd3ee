// End to end: share a peer as a link and a QR code; a second browser opens the link and
// connects in one click. Real Chromium (two profiles), a real `subwire listen` serving the
// dashboard (//Bob) and a second Node peer (//Eve), the one shared.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import decodeQR from '@paulmillr/qr/decode.js'
import { buildDashboard, CliPeer, errorText, freePort, launchWithWallet, NodeSender, screenshot, signIn } from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const DAVE = '5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy'
const EVE = '5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw'

/** The QR code as the page shows it, rasterised in the page and read back as RGBA pixels. */
async function qrPixels (page: Page): Promise<{ width: number, height: number, data: number[] }> {
  return await page.evaluate(async () => {
    const svg = document.querySelector('#share-qr svg')
    if (svg === null) throw new Error('no QR code on the page')
    const img = new Image()
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`
    await img.decode()
    const size = 600
    const canvas = document.createElement('canvas')
    canvas.width = canvas.height = size
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D
    ctx.fillStyle = '#fff'
    ctx.fillRect(0, 0, size, size)
    ctx.drawImage(img, 0, 0, size, size)
    return { width: size, height: size, data: [...ctx.getImageData(0, 0, size, size).data] }
  })
}

describe('dashboard: share a peer as a link and a QR code', () => {
  let dir: string
  let cli: CliPeer
  let eve: NodeSender
  let eveAddr: string
  let a: { context: BrowserContext, page: Page }
  let b: { context: BrowserContext, page: Page }
  let link: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-share-'))
    await buildDashboard()
    const ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort() }
    cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
    ;({ sender: eve, addr: eveAddr } = await NodeSender.start())
    a = await launchWithWallet(join(dir, 'chromium-a'), { accounts: [{ uri: '//Charlie', name: 'charlie hotkey' }] })
    b = await launchWithWallet(join(dir, 'chromium-b'), { accounts: [{ uri: '//Dave', name: 'dave hotkey' }] })
    for (const { page } of [a, b]) page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
  })

  after(async () => {
    await a?.context.close()
    await b?.context.close()
    eve?.stop()
    await cli?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('makes a link with the connected peer\'s hotkey and addresses, and a QR code that reads as the same link', async () => {
    const { page } = a
    await page.goto(cli.dashboard)
    await page.waitForSelector('body[data-ready=true]')
    await signIn(page, CHARLIE)
    await page.fill('[data-testid=peer-addr]', eveAddr)
    await page.click('[data-testid=add-peer]')
    const row = `#peer-list tr[data-ss58="${EVE}"][data-state=connected]`
    await page.waitForSelector(row, { timeout: 30_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}`) })
    await page.click(`${row} [data-testid=share]`)
    await page.waitForSelector('#share:not([hidden]) #share-qr svg')
    link = await page.inputValue('[data-testid=share-link]')
    const url = new URL(link)
    assert.equal(url.origin + url.pathname, new URL(cli.dashboard).origin + '/')
    assert.equal(url.searchParams.get('hotkey'), EVE)
    assert.deepEqual(url.searchParams.getAll('peer'), [eveAddr])
    assert.equal(decodeQR(await qrPixels(page)), link, 'the QR code reads as the link')
    await screenshot(page, '30-share')
    await page.setViewportSize({ width: 375, height: 800 })
    const wide = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('body *')].filter((e) => e.getBoundingClientRect().right > 375).map((e) => `${e.tagName}#${e.id}.${e.className}`).slice(0, 5))
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), `no sideways scrolling at 375 px (wider: ${wide.join(', ')})`)
    await screenshot(page, '30-share-phone')
  })

  it('opens in a second browser with the peer filled in, and connects to it in one click', async () => {
    const { page } = b
    await page.goto(link)
    await page.waitForSelector('body[data-ready=true]')
    // the link's peer, not the one serving the page
    assert.equal(await page.inputValue('[data-testid=peer-addr]'), eveAddr)
    assert.match(await page.textContent('[data-testid=link-peer]') ?? '', new RegExp(EVE))
    await signIn(page, DAVE)
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector(`#peer-list tr[data-ss58="${EVE}"][data-state=connected]`, { timeout: 30_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}`) })
    assert.equal(await page.$(`#peer-list tr[data-ss58="${BOB}"]`), null, 'only the shared peer')
    await screenshot(page, '31-opened-link')
  })

  it('refuses a link whose addresses lead to another hotkey than it names', async () => {
    const { page } = b
    const forged = new URL(link)
    forged.searchParams.set('hotkey', BOB)
    await page.goto(forged.toString())
    await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
    // the reload reconnects the known peer by itself first (that one is not the link's doing)
    await page.waitForSelector(`#peer-list tr[data-ss58="${EVE}"][data-state=connected]`, { timeout: 30_000 })
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector('[data-testid=notice-peers]:not([hidden])', { timeout: 30_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; status: ${await page.textContent('#connect-status') ?? ''}; peers: ${await page.innerHTML('#peer-list')}`) })
    assert.match(await errorText(page, 'peers'), /not the hotkey the link names/)
  })
})
