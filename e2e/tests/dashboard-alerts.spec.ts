// End to end: notifications (a finished transfer, a consent request; permission asked on
// first use) and the screen wake lock while a file moves, in real Chromium against a real
// `subwire listen` (//Bob) and a Node peer (//Eve) that sends into the browser.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildDashboard, CliPeer, errorText, freePort, launchWithWallet, NodeSender, randomFile, signIn } from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const EVE = '5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw'
const MiB = 1024 * 1024

type Note = { title?: string, body?: string, asked?: boolean }
const notes = async (page: Page): Promise<Note[]> => await page.evaluate(() => (globalThis as unknown as { __notes: Note[] }).__notes)

describe('dashboard: notifications and the screen wake lock', () => {
  let dir: string
  let cli: CliPeer
  let eve: NodeSender
  let eveAddr: string
  let context: BrowserContext
  let page: Page
  const pageErrors: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-alerts-'))
    await buildDashboard()
    const ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort() }
    cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
    ;({ sender: eve, addr: eveAddr } = await NodeSender.start())
    ;({ context, page } = await launchWithWallet(join(dir, 'chromium'), { accounts: [{ uri: '//Charlie', name: 'charlie hotkey' }] }))
    page.on('pageerror', (e) => { pageErrors.push(e.message); process.stderr.write(`page error: ${e.message}\n`) })
    // the real Notification, recorded: what the page shows, and when it asks
    await context.addInitScript(() => {
      const Real = globalThis.Notification
      const log: Array<{ title?: string, body?: string, asked?: boolean }> = []
      class Recorded extends Real {
        constructor (title: string, options?: NotificationOptions) { super(title, options); log.push({ title, body: options?.body ?? '' }) }
      }
      Object.defineProperty(Recorded, 'permission', { get: () => Real.permission })
      Object.defineProperty(Recorded, 'requestPermission', { value: async () => { log.push({ asked: true }); return await Real.requestPermission() } })
      Object.assign(globalThis, { Notification: Recorded, __notes: log })
    })
  })

  after(async () => {
    await context?.close()
    eve?.stop()
    await cli?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('asks for notifications once, on the first sign-in', async () => {
    await page.goto(cli.dashboard)
    await page.waitForSelector('body[data-ready=true]')
    assert.deepEqual(await notes(page), [], 'not asked before a click')
    await signIn(page, CHARLIE)
    assert.deepEqual(await notes(page), [{ asked: true }])
    await page.fill('[data-testid=peer-addr]', cli.browserAddrs[0] ?? '')
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"][data-state=connected]`, { timeout: 30_000 })
    assert.deepEqual(await notes(page), [{ asked: true }], 'asked once, not again on the next click')
  })

  it('holds the wake lock while a file is sent, and notifies when it is done while the tab is in the background', async () => {
    const origin = new URL(cli.dashboard).origin
    await context.grantPermissions(['notifications'], { origin })
    // headless Chromium refuses the wake lock unless the permission is granted, as a user's browser may
    const cdp = await context.newCDPSession(page)
    await cdp.send('Browser.setPermission', { permission: { name: 'screen-wake-lock' }, setting: 'granted', origin })
    // the tab goes to the background (as far as the page can tell)
    await page.evaluate(() => { document.hasFocus = () => false })
    const src = join(dir, 'alert-48m.bin')
    await randomFile(src, 48 * MiB)
    await page.selectOption('[data-testid=send-to]', BOB)
    await page.setInputFiles('[data-testid=file-input]', src)
    const row = '#transfer-list li[data-dir=out][data-name="alert-48m.bin"]'
    await page.waitForSelector(`${row}[data-state=sending]`, { timeout: 60_000 })
    const during = await page.evaluate(() => document.body.dataset['wakeLock'])
    assert.equal(during, 'held', 'the wake lock is held while the file moves')
    await page.waitForSelector(`${row}[data-state=done]`, { timeout: 120_000 })
    await page.waitForFunction(() => document.body.dataset['wakeLock'] !== 'held')
    const sent = (await notes(page)).filter((n) => n.title === 'File sent')
    assert.equal(sent.length, 1, JSON.stringify(await notes(page)))
    assert.match(sent[0]?.body ?? '', /alert-48m\.bin \(48(\.0)? MiB\) to 5FHn/)
    assert.equal(await page.evaluate(() => document.body.dataset['wakeLock']), 'released', 'and released when none moves')
  })

  it('notifies when a peer asks to send a file, and again when it is received', async () => {
    await page.fill('[data-testid=peer-addr]', eveAddr)
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector(`#peer-list tr[data-ss58="${EVE}"][data-state=connected]`, { timeout: 30_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}`) })
    const src = join(dir, 'alert-in-8m.bin')
    await randomFile(src, 8 * MiB)
    const outcome = eve.send(src, CHARLIE)
    const row = '#transfer-list li[data-dir=in][data-name="alert-in-8m.bin"]'
    await page.waitForSelector(`${row}[data-state=asking]`, { timeout: 30_000 })
    await page.waitForFunction(() => (globalThis as unknown as { __notes: Array<{ title?: string }> }).__notes.some((n) => n.title === 'A peer asks to send you a file'))
    const asked = (await notes(page)).find((n) => n.title === 'A peer asks to send you a file')
    assert.match(asked?.body ?? '', /5HGj.*wants to send you alert-in-8m\.bin \(8(\.0)? MiB\)/)
    await page.click(`${row} [data-testid=accept]`)
    const { error } = await outcome
    assert.equal(error, undefined)
    await page.waitForFunction(() => (globalThis as unknown as { __notes: Array<{ title?: string }> }).__notes.some((n) => n.title === 'File received'))
    assert.equal((await notes(page)).filter((n) => n.title === 'File received').length, 1)
    assert.deepEqual(pageErrors, [])
  })
})
