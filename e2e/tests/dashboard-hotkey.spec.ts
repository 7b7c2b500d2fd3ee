// End to end: peers by hotkey, a subnet's members, and the settings (encryption per peer,
// the browser's own block list, the upload limit). Real Chromium with the test wallet, a
// real `subwire listen` serving the dashboard (//Bob, a DHT server) and a second Node peer
// (//Eve) that joined Bob's DHT and published its signed hotkey record there: the browser
// knows only Bob's address and finds Eve by her hotkey through him.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildDashboard, CliPeer, errorText, freePort, launchWithWallet, NodeSender, randomFile, screenshot, signIn } from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const DAVE = '5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy'
const EVE = '5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw'
const MiB = 1024 * 1024
const byHotkey = (a: { ss58?: string | undefined }, b: { ss58?: string | undefined }): number => (a.ss58 ?? '').localeCompare(b.ss58 ?? '')

async function connected (page: Page, ss58: string): Promise<void> {
  await page.waitForSelector(`#peer-list tr[data-ss58="${ss58}"][data-state=connected]`, { timeout: 30_000 })
    .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}; status: ${await page.textContent('#connect-status') ?? ''}`) })
}

/** Screenshots at desktop and phone widths, checking that the phone width does not scroll sideways. */
async function shots (page: Page, name: string): Promise<void> {
  await screenshot(page, name)
  await page.setViewportSize({ width: 375, height: 800 })
  const wide = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('body *')].filter((e) => e.getBoundingClientRect().right > 375).map((e) => `${e.tagName}#${e.id}.${e.className}`).slice(0, 5))
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), `no sideways scrolling at 375 px (wider: ${wide.join(', ')})`)
  await screenshot(page, `${name}-phone`)
  await page.setViewportSize({ width: 1280, height: 900 })
}

describe('dashboard: peers by hotkey, subnet members and settings', () => {
  let dir: string
  let cli: CliPeer
  let eve: NodeSender
  let context: BrowserContext
  let page: Page

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-hotkey-'))
    await buildDashboard()
    const ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort() }
    cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
    const bobWs = cli.browserAddrs.find((a) => a.includes('/ws/'))
    assert.ok(bobWs !== undefined, `Bob listens on WebSockets: ${cli.browserAddrs.join(' ')}`)
    const started = await NodeSender.start('ws', { bootstrap: bobWs })
    eve = started.sender
    assert.ok(started.published > 0, 'Eve published her record in Bob\'s DHT')
    ;({ context, page } = await launchWithWallet(join(dir, 'chromium'), { accounts: [{ uri: '//Charlie', name: 'charlie hotkey' }] }))
    page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
  })

  after(async () => {
    await context?.close()
    eve?.stop()
    await cli?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('shows each connected peer\'s encryption state from its session', async () => {
    await page.goto(cli.dashboard)
    await page.waitForSelector('body[data-ready=true]')
    await signIn(page, CHARLIE)
    await page.fill('[data-testid=peer-addr]', cli.browserAddrs[0] ?? '')
    await page.click('[data-testid=add-peer]')
    await connected(page, BOB)
    const row = `#peer-list tr[data-ss58="${BOB}"]`
    assert.equal(await page.getAttribute(row, 'data-e2e'), 'true')
    assert.equal(await page.textContent(`${row} td:nth-child(6)`), 'end-to-end')
    assert.match(await page.getAttribute(`${row} td:nth-child(6)`, 'title') ?? '', /messages and files are end-to-end encrypted/)
  })

  it('adds a peer by its hotkey alone, connects and sends to it', async () => {
    await page.fill('[data-testid=peer-addr]', EVE)
    await page.click('[data-testid=add-peer]')
    await connected(page, EVE)
    assert.match(await page.textContent('#connect-status') ?? '', /^connected to 5HGjWAeF…8kUMaw over ws, found in the DHT of the connected Node peers \(signed record verified here\)/)
    assert.equal(await page.inputValue('[data-testid=message-to]'), EVE, 'the found peer is the destination')
    await page.fill('[data-testid=message-action]', 'by-hotkey')
    await page.click('[data-testid=message-send]')
    await page.waitForFunction(() => (document.getElementById('message-status')?.textContent ?? '').startsWith('delivered by-hotkey'), null, { timeout: 15_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'messages')}`) })
    await shots(page, '40-added-by-hotkey')
  })

  it('lists the subnet\'s members with their state, as the Node peer knows them', async () => {
    await page.fill('[data-testid=members-netuid]', '42')
    await page.click('[data-testid=members-list]')
    await page.waitForSelector(`#member-list tr[data-ss58="${EVE}"]`, { timeout: 20_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'members')}; rows: ${await page.innerHTML('#member-list')}`) })
    const rows = await page.$$eval('#member-list tr', (trs) => trs.map((tr) => ({ ss58: (tr as HTMLElement).dataset['ss58'], state: (tr as HTMLElement).dataset['state'] })))
    // Charlie, the browser, serves no DHT and announces nothing: Bob and Eve, both in session now
    assert.deepEqual(rows.sort(byHotkey), [{ ss58: BOB, state: 'connected' }, { ss58: EVE, state: 'connected' }].sort(byHotkey))
    assert.match(await page.textContent('#members-caption') ?? '', /2 member\(s\) of subnet 42/)
    await shots(page, '41-members')
  })

  it('an unknown hotkey gives one friendly sentence, the typed error behind it', async () => {
    await page.fill('[data-testid=peer-addr]', DAVE)
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector('#notice-peers:not([hidden])', { timeout: 30_000 })
    assert.equal(await page.getAttribute('#notice-peers', 'data-error-name'), 'UnknownDestinationError')
    assert.equal(await errorText(page, 'peers'), 'No connected Node peer knows that hotkey: it has published no record in their DHT (is that peer online?).')
    assert.match(await page.textContent('#notice-peers details code') ?? '', /^UnknownDestinationError: /)
    await shots(page, '42-unknown-hotkey')
  })

  it('refuses a blocked hotkey\'s message and file with AccessDeniedError at the sender, and keeps the block across a reload', async () => {
    await page.click(`#peer-list tr[data-ss58="${EVE}"] [data-testid=block]`)
    await page.waitForSelector(`#blocked-list li[data-ss58="${EVE}"]`)
    await page.waitForSelector(`#peer-list tr[data-ss58="${EVE}"][data-blocked=true]`)
    const message = await eve.message(CHARLIE, 'from-blocked', { n: 1 })
    assert.match(message.error ?? '', /^AccessDeniedError: /, `the sender sees the typed refusal (got ${JSON.stringify(message)})`)
    const file = join(dir, 'blocked-1m.bin')
    await randomFile(file, MiB)
    const sent = await eve.send(file, CHARLIE)
    assert.match(sent.error ?? '', /^AccessDeniedError: /, `the file is refused (got ${JSON.stringify(sent)})`)
    assert.equal(await page.$('#message-list li[data-action="from-blocked"]'), null, 'nothing of it reached the page')
    assert.equal(await page.$('#transfer-list li[data-name="blocked-1m.bin"]'), null)
    await shots(page, '43-blocked')

    await page.reload()
    await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
    await page.waitForSelector(`#blocked-list li[data-ss58="${EVE}"]`)
    assert.deepEqual(await page.evaluate(() => (globalThis as unknown as { subwirePeer: { subwire: { acl: { rules: { block: string[] } } } } }).subwirePeer.subwire.acl.rules.block), [EVE], 'the engine enforces it again')
    await connected(page, BOB) // the known peers reconnect by themselves; Eve, blocked, does not
    assert.notEqual(await page.evaluate((ss58) => document.querySelector<HTMLElement>(`#peer-list tr[data-ss58="${ss58}"]`)?.dataset['state'], EVE), 'connected')
    // a blocked member is not in session, yet its verified record says a browser can reach it
    await page.click('[data-testid=members-list]')
    await page.waitForSelector(`#member-list tr[data-ss58="${EVE}"][data-state=reachable][data-blocked=true]`, { timeout: 20_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'members')}; rows: ${await page.innerHTML('#member-list')}`) })
    await page.fill('[data-testid=peer-addr]', EVE)
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector('#notice-peers:not([hidden])')
    assert.equal(await errorText(page, 'peers'), 'You blocked that hotkey: unblock it in Settings to connect.')

    // unblocked, she is found and heard again
    await page.click(`#blocked-list li[data-ss58="${EVE}"] [data-testid=unblock]`)
    await page.waitForSelector('#blocked-empty:not([hidden])')
    await page.click('[data-testid=add-peer]')
    await connected(page, EVE)
    const again = await eve.message(CHARLIE, 'after-unblock', { n: 2 })
    assert.ok(again.messageId !== undefined, `delivered after the unblock (got ${JSON.stringify(again)})`)
    await page.waitForSelector('#message-list li[data-action="after-unblock"]')
  })

  it('the upload limit measurably slows an upload: 8 MiB at 2 MiB/s takes at least 3 s', async () => {
    const file = join(dir, 'limited-8m.bin')
    await randomFile(file, 8 * MiB)
    await page.fill('[data-testid=limit-mib]', '2')
    await page.click('[data-testid=limit-apply]')
    await page.waitForSelector(`[data-testid=limit-status][data-limit="${2 * MiB}"]`)
    await page.selectOption('[data-testid=send-to]', BOB)
    const started = Date.now()
    await page.setInputFiles('[data-testid=file-input]', file)
    await page.waitForSelector('#transfer-list li[data-dir=out][data-name="limited-8m.bin"][data-state=done]', { timeout: 60_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; row: ${await page.textContent('#transfer-list li[data-name="limited-8m.bin"]').catch(() => 'none')}`) })
    const ms = Date.now() - started
    assert.ok(ms >= 3_000, `8 MiB at 2 MiB/s took only ${ms} ms`)
    assert.ok(ms < 30_000, `took ${ms} ms`)
    await shots(page, '44-settings')
    // the limit is kept across a reload, and 0 turns it off
    await page.reload()
    await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
    assert.equal(await page.inputValue('[data-testid=limit-mib]'), '2')
    assert.equal(await page.evaluate(() => (globalThis as unknown as { subwirePeer: { uploads: { bytesPerSecond: number } } }).subwirePeer.uploads.bytesPerSecond), 2 * MiB)
    await page.fill('[data-testid=limit-mib]', '0')
    await page.click('[data-testid=limit-apply]')
    await page.waitForSelector('[data-testid=limit-status][data-limit="0"]')
  })
})
