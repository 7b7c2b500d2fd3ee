// End to end: the dashboard in real Chromium, signed in through a wallet extension, against
// a real `subwire listen` process (and a library Node peer for Node→browser files).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromium } from 'playwright-core'
import {
  buildDashboard, CHROMIUM, CliPeer, errorText, freePort, launchWithWallet, NodeSender, opfsFile, randomFile, screenshot, sha256File
} from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const EVE = '5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw'
const MiB = 1024 * 1024
const ACCOUNTS = [{ uri: '//Charlie', name: 'charlie hotkey' }, { uri: '//Dave', name: 'dave hotkey' }]

const signRawCalls = async (page: Page): Promise<number> =>
  await page.evaluate(() => (globalThis as unknown as { __subwireWalletLog: Array<{ call: string }> }).__subwireWalletLog.filter((c) => c.call === 'signRaw').length)

async function connectTo (page: Page, addr: string, ss58: string): Promise<void> {
  await page.fill('[data-testid=peer-addr]', addr)
  await page.click('[data-testid=add-peer]')
  await page.waitForSelector(`#peer-list tr[data-ss58="${ss58}"][data-state=connected]`, { timeout: 30_000 })
    .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}`) })
}

/** After a reload the dashboard signs in again by itself, as Charlie (one more signature). */
async function signInAgain (page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready=true]')
  await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
  assert.equal(await page.textContent('#my-ss58'), CHARLIE)
}

async function sendViaDashboard (page: Page, path: string, to: string): Promise<void> {
  await page.selectOption('[data-testid=send-to]', to)
  await page.setInputFiles('[data-testid=file-input]', path)
}

/** Waits for the outgoing transfer of `name` to be done; returns its row's selector. */
async function waitSent (page: Page, name: string, ms = 180_000): Promise<string> {
  const row = `#transfer-list li[data-dir=out][data-name="${name}"]`
  await page.waitForSelector(`${row}[data-state=done]`, { timeout: ms })
    .catch(async (err: Error) => { throw new Error(`${err.message}; row: ${await page.textContent(row).catch(() => 'none')}`) })
  return row
}

describe('dashboard in Chromium, signed in with a wallet extension', () => {
  let dir: string
  let cli: CliPeer
  let ports: { quic: number, browser: number, dashboard: number }
  let context: BrowserContext
  let page: Page

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-'))
    await buildDashboard()
    ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort() }
    cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
    ;({ context, page } = await launchWithWallet(join(dir, 'chromium'), { accounts: ACCOUNTS }))
    page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
  })

  after(async () => {
    await context?.close()
    await cli?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('connects the wallet, signs the attestation once, and the Node peer sees the browser hotkey', async () => {
    await page.goto(cli.dashboard)
    await page.waitForSelector('body[data-ready=true]')
    assert.equal(await page.inputValue('[data-testid=peer-addr]'), cli.browserAddrs[0], 'the dashboard offers the peer it is served by')
    assert.match(cli.browserAddrs[0] ?? '', /\/webrtc-direct\/certhash\/u[\w-]+\/p2p\//)
    // before sign-in nothing that needs a peer can be clicked
    for (const id of ['add-peer', 'choose-files', 'rpc-send', 'message-send', 'queue-choose']) {
      assert.equal(await page.isDisabled(`[data-testid=${id}]`), true, `${id} is disabled before sign-in`)
    }
    assert.equal((await page.request.get(new URL('/favicon.ico', cli.dashboard).toString())).status(), 200)
    // the sections read 1, 2, 3, … in the order they are on screen
    const headings = await page.$$eval('main h2', (hs) => hs.map((h) => ({ n: parseInt(h.textContent ?? ''), top: h.getBoundingClientRect().top, left: h.getBoundingClientRect().left })))
    const byPosition = [...headings].sort((x, y) => x.top - y.top || x.left - y.left).map((h) => h.n)
    assert.deepEqual(byPosition, headings.map((_h, i) => i + 1))
    await screenshot(page, '00-before-sign-in')
    await page.setViewportSize({ width: 375, height: 800 })
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scrolling at 375 px')
    await screenshot(page, '00-before-sign-in-phone')
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.click('[data-testid=connect-wallet]')
    await page.waitForSelector('#accounts:not([hidden])')
    const options = await page.$$eval('#account option', (os) => os.map((o) => (o as HTMLOptionElement).value))
    assert.deepEqual(options.length, 2)
    assert.ok(options.includes(CHARLIE))
    await page.selectOption('[data-testid=account]', CHARLIE)
    await screenshot(page, '01-wallet-accounts')
    await page.click('[data-testid=sign-in]')
    await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
    assert.equal(await page.textContent('#my-ss58'), CHARLIE)
    assert.match(await page.textContent('#my-peer-id') ?? '', /^12D3KooW/)
    assert.equal(await signRawCalls(page), 1)

    await connectTo(page, cli.browserAddrs[0] ?? '', BOB)
    assert.equal(await page.textContent(`#peer-list tr[data-ss58="${BOB}"] td:nth-child(3)`), 'webrtc-direct')
    const seen = await cli.waitFor((e) => e.event === 'connected' && e.ss58 === CHARLIE)
    assert.equal(seen.peerId, await page.textContent('#my-peer-id'))
    assert.match(String(seen.remoteAddr), /webrtc-direct/)
    await page.waitForFunction(() => /ms$/.test(document.querySelector('#peer-list tr td:nth-child(4)')?.textContent ?? ''), null, { timeout: 15_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; ${await page.innerHTML('#peer-list')}`) })
    await screenshot(page, '02-peers')
  })

  it('answers an RPC echo from the console, and names an unknown type', async () => {
    await page.fill('[data-testid=rpc-type]', 'echo')
    await page.fill('[data-testid=rpc-body]', '{"n": 42, "s": "hé", "list": [1, null, true]}')
    await page.click('[data-testid=rpc-send]')
    await page.waitForFunction(() => (document.getElementById('rpc-reply')?.textContent ?? '').includes('ms)'))
    const reply = await page.textContent('#rpc-reply') ?? ''
    assert.deepEqual(JSON.parse(reply.slice(0, reply.lastIndexOf('\n\n('))), { n: 42, s: 'hé', list: [1, null, true] })
    await screenshot(page, '03-rpc')
    await page.fill('[data-testid=rpc-type]', 'no-such-type')
    await page.click('[data-testid=rpc-send]')
    await page.waitForSelector('#notice-rpc:not([hidden])')
    assert.equal(await page.getAttribute('#notice-rpc', 'data-error-name'), 'UnknownRpcTypeError')
    assert.equal(await page.textContent('#rpc-reply'), '', 'the previous answer is gone after a failed request')
    assert.equal(await page.textContent('#notice-rpc .msg'), 'The peer has no handler for that request type.')
    assert.doesNotMatch(await page.textContent('#notice-rpc .msg') ?? '', /UnknownRpcTypeError/, 'the technical name is behind the toggle')
    await page.fill('[data-testid=rpc-type]', 'echo')
    await page.click('[data-testid=rpc-send]')
    await page.waitForSelector('#notice-rpc[hidden]', { state: 'attached' })
    assert.equal(await signRawCalls(page), 1, 'no signature prompt per request')
  })

  it('sends a 64 MiB file browser→Node over WebRTC-Direct; the hashes on disk are equal', async () => {
    const src = join(dir, 'weights-64m.bin')
    const sha = await randomFile(src, 64 * MiB)
    await sendViaDashboard(page, src, BOB)
    const row = await waitSent(page, 'weights-64m.bin')
    const got = await cli.waitFor((e) => e.event === 'file' && e.name === 'weights-64m.bin')
    assert.equal(got.from, CHARLIE)
    assert.equal(got.size, 64 * MiB)
    assert.equal(await sha256File(String(got.path)), sha)
    assert.equal(await page.getAttribute(row, 'data-blake3'), got.blake3)
    assert.ok(String(got.path).includes(join('inbox', CHARLIE)))
    await screenshot(page, '04-file-sent')
    assert.equal(await signRawCalls(page), 1)
  })

  it('sends several picked files as one transfer (a folder of them, as a drop does), none dropped; a Cancel of a waiting one is not a failure', async () => {
    const names = ['a-1m.bin', 'b-2m.bin', 'c-3m.bin', 'big-32m.bin']
    const shas = await Promise.all(names.map(async (n, i) => await randomFile(join(dir, n), (i === 3 ? 32 : i + 1) * MiB)))
    assert.equal(await page.evaluate(() => document.getElementById('choose-files')?.tagName), 'BUTTON', 'reachable by keyboard')
    await page.selectOption('[data-testid=send-to]', BOB)
    await page.setInputFiles('[data-testid=file-input]', names.map((n) => join(dir, n)))
    // picked while the four are on their way: it waits its turn, and is cancelled there
    await randomFile(join(dir, 'later-8m.bin'), 8 * MiB)
    await page.setInputFiles('[data-testid=file-input]', join(dir, 'later-8m.bin'))
    const last = '#transfer-list li[data-dir=out][data-name="later-8m.bin"][data-state=waiting]'
    await page.waitForSelector(last)
    await page.click(`${last} [data-testid=cancel]`)
    await waitSent(page, '4 files')
    assert.equal(await page.getAttribute('#transfer-list li[data-dir=out][data-name="4 files"]', 'data-kind'), 'folder')
    const got = await cli.waitFor((e) => e.event === 'folder' && e.name === '4 files')
    assert.equal(got.files, 4)
    for (const [i, n] of names.entries()) assert.equal(await sha256File(join(String(got.path), n)), shas[i], n)
    const cancelled = '#transfer-list li[data-dir=out][data-name="later-8m.bin"]'
    assert.equal(await page.getAttribute(cancelled, 'data-state'), 'cancelled')
    assert.equal(await page.$(`${cancelled} .reason`), null, 'your own Cancel is not shown as a failure')
    assert.equal(await errorText(page, 'send'), '')
    await screenshot(page, '04-several-files')
  })

  it('sends a message to a Node peer, which sees the verified sender', async () => {
    await page.fill('[data-testid=message-action]', 'weights:ready')
    await page.fill('[data-testid=message-payload]', '{"round": 7}')
    await page.selectOption('[data-testid=message-to]', BOB)
    await page.click('[data-testid=message-send]')
    await page.waitForFunction(() => /delivered weights:ready/.test(document.getElementById('message-status')?.textContent ?? ''))
    const got = await cli.waitFor((e) => e.event === 'message' && e.action === 'weights:ready')
    assert.equal(got.from, CHARLIE)
    assert.match(JSON.stringify(got), /round/)
  })

  it('shows a message from a Node peer, declines one file (the sender sees the refusal) and accepts the next into the OPFS inbox with the right hash', async () => {
    const { sender: eve, addr } = await NodeSender.start()
    try {
      await connectTo(page, addr, EVE)
      const sent = await eve.message(CHARLIE, 'ping', { n: 1 })
      assert.equal(sent.error, undefined)
      const msg = `#message-list li[data-action=ping][data-from="${EVE}"]`
      await page.waitForSelector(msg)
      assert.equal(await page.getAttribute(msg, 'data-payload'), '{"n":1}')
      await screenshot(page, '12-messages')

      const unwanted = join(dir, 'unwanted-1m.bin')
      await randomFile(unwanted, MiB)
      eve.sendLater(unwanted, CHARLIE)
      const offered = '#transfer-list li[data-dir=in][data-state=asking][data-name="unwanted-1m.bin"]'
      await page.waitForSelector(offered, { timeout: 30_000 })
      assert.match(await page.textContent(offered) ?? '', new RegExp(EVE), 'the sender hotkey is shown')
      await page.click(`${offered} [data-testid=decline]`)
      const refused = await eve.next()
      assert.match(refused.error ?? '', /^FileRefusedError: .*declined/)
      await page.waitForSelector('#transfer-list li[data-dir=in][data-name="unwanted-1m.bin"][data-state=declined]')
      const src = join(dir, 'checkpoint-24m.bin')
      const sha = await randomFile(src, 24 * MiB)
      eve.sendLater(src, CHARLIE)
      // the browser asks first: accept, and always from Eve
      const asking = `#transfer-list li[data-dir=in][data-state=asking][data-peer="${EVE}"][data-name="checkpoint-24m.bin"]`
      await page.waitForSelector(asking, { timeout: 30_000 })
        .catch(async (err: Error) => { throw new Error(`${err.message}; peers: ${await page.textContent('#peer-list')}; transfers: ${await page.textContent('#transfer-list')}`) })
      assert.match(await page.textContent(asking) ?? '', /checkpoint-24m\.bin/)
      assert.match(await page.textContent(asking) ?? '', /24\.0 MiB/)
      await screenshot(page, '05-consent')
      await page.check(`${asking} [data-testid=always-accept]`)
      await page.click(`${asking} [data-testid=accept]`)
      const { result, error } = await eve.next()
      assert.equal(error, undefined)
      assert.equal(result?.size, 24 * MiB)
      const row = `#inbox-list tr[data-blake3="${result?.blake3 ?? ''}"]`
      await page.waitForSelector(row, { timeout: 30_000 })
      assert.equal(await page.textContent(`${row} td:nth-child(1)`), 'checkpoint-24m.bin')
      const path = await page.getAttribute(row, 'data-path') ?? ''
      assert.equal(path, `inbox/${EVE}/checkpoint-24m.bin`)
      const inBrowser = await opfsFile(page, path)
      assert.deepEqual(inBrowser, { size: 24 * MiB, sha })
      await screenshot(page, '05-inbox')
      assert.equal(await page.getAttribute(`#transfer-list li[data-id="${result?.id ?? ''}"]`, 'data-state'), 'done')
    } finally {
      eve.stop()
    }
  })

  it('resumes a download into OPFS after the page is reloaded mid-transfer', async () => {
    const { sender: eve, addr } = await NodeSender.start()
    try {
      await connectTo(page, addr, EVE)
      const src = join(dir, 'reload-80m.bin')
      const sha = await randomFile(src, 80 * MiB)
      const before = await page.$$eval('#transfer-list li', (lis) => lis.map((li) => `${(li as HTMLElement).dataset['id'] ?? ''}:${(li as HTMLElement).dataset['state'] ?? ''}`))
      eve.sendLater(src, CHARLIE)
      // reload once more than two 16 MiB OPFS segments have arrived
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('#transfer-list li[data-dir=in][data-state=receiving]')]
        .some((li) => Number(li.dataset['bytes']) >= 40 * 1024 * 1024), null, { timeout: 120_000, polling: 50 })
      await page.reload()
      const first = await eve.next()
      assert.match(first.error ?? '', /ConnectionLostError|ConnectionClosedError|TransferCancelledError/, 'the sender learns the browser went away')
      await signInAgain(page)
      // the transfer list is the same after the reload; the known peer is connected again by itself
      const after = await page.$$eval('#transfer-list li', (lis) => lis.map((li) => `${(li as HTMLElement).dataset['id'] ?? ''}:${(li as HTMLElement).dataset['state'] ?? ''}`))
      assert.deepEqual(after.slice(-before.length), before)
      await page.waitForSelector(`#peer-list tr[data-ss58="${EVE}"][data-state=connected]`, { timeout: 30_000 })
      await screenshot(page, '05-after-reload')
      await page.setViewportSize({ width: 375, height: 800 })
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no sideways scrolling at 375 px')
      await screenshot(page, '05-after-reload-phone')
      await page.setViewportSize({ width: 1280, height: 900 })
      const { result, error } = await eve.send(src, CHARLIE)
      assert.equal(error, undefined)
      assert.ok((result?.resumedFrom ?? 0) >= 32 * MiB, `resumed from ${String(result?.resumedFrom)}`)
      const row = `#inbox-list tr[data-blake3="${result?.blake3 ?? ''}"]`
      await page.waitForSelector(row, { timeout: 30_000 })
      const inBrowser = await opfsFile(page, `inbox/${EVE}/reload-80m.bin`)
      assert.deepEqual(inBrowser, { size: 80 * MiB, sha })
    } finally {
      eve.stop()
    }
  })

  it('shows a clear error when the peer stops mid-transfer, then resumes after it restarts', async () => {
    const src = join(dir, 'resume-64m.bin')
    const sha = await randomFile(src, 64 * MiB)
    const addrBefore = cli.browserAddrs[0]
    await connectTo(page, addrBefore ?? '', BOB)
    // paced at 16 MiB/s (the settings' upload limit): the 64 MiB take at least 4 s on any
    // machine, so the kill at 30 % lands mid-transfer however fast the link is
    await page.fill('[data-testid=limit-mib]', '16')
    await page.click('[data-testid=limit-apply]')
    await page.waitForSelector(`[data-testid=limit-status][data-limit="${16 * MiB}"]`)
    const row = '#transfer-list li[data-dir=out][data-name="resume-64m.bin"]'
    let killed: number
    try {
      await sendViaDashboard(page, src, BOB)
      await page.waitForFunction((r) => parseFloat(document.querySelector<HTMLElement>(r)?.dataset['progress'] ?? '0') >= 30, row, { timeout: 120_000, polling: 50 })
      await cli.kill()
      killed = Date.now()
    } finally {
      // the limit is kept in the page's storage: the tests after this one run unpaced whatever happens here
      await page.fill('[data-testid=limit-mib]', '0')
      await page.click('[data-testid=limit-apply]')
      await page.waitForSelector('[data-testid=limit-status][data-limit="0"]')
    }
    // the peer's row follows the connection: not "connected" for long after the peer is gone
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"]:not([data-state=connected])`, { timeout: 20_000 })
    assert.ok(Date.now() - killed < 20_000)
    await page.waitForSelector(`${row}[data-state=failed]`, { timeout: 90_000 })
    const reason = await page.textContent(`${row} .reason`) ?? ''
    assert.match(reason, /lost|reached|answer/, reason)
    assert.doesNotMatch(reason, /Send the same file again/)
    await screenshot(page, '06-peer-stopped')

    cli = await CliPeer.start(join(dir, 'bob'), { ports })
    assert.equal(cli.browserAddrs[0], addrBefore, 'same certhash address after a restart')
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"][data-state=disconnected]`, { timeout: 60_000 })
    await connectTo(page, cli.browserAddrs[0] ?? '', BOB)
    await page.click(`${row} [data-testid=retry]`)
    await waitSent(page, 'resume-64m.bin')
    assert.match(await page.textContent(row) ?? '', /resumed from/)
    const got = await cli.waitFor((e) => e.event === 'file' && e.name === 'resume-64m.bin')
    // the kill came at >= 30 % sent; what the receiver had verified is kept, not re-sent
    assert.ok(Number(got.resumedFrom) >= 4 * MiB && Number(got.resumedFrom) <= 64 * MiB * 0.9, `resumed from ${String(got.resumedFrom)}`)
    assert.equal(await sha256File(String(got.path)), sha)
    await screenshot(page, '07-resumed')
  })

  it('delivers a file queued for an offline peer after a page reload, once the peer is up', async () => {
    const FERDIE = '5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL'
    const fPorts = { quic: await freePort(), browser: await freePort(), dashboard: await freePort() }
    let ferdie = await CliPeer.start(join(dir, 'ferdie'), { ports: fPorts, uri: '//Ferdie' })
    const addr = ferdie.browserAddrs[0] ?? ''
    await ferdie.kill()
    const src = join(dir, 'queued-24m.bin')
    const sha = await randomFile(src, 24 * MiB)
    await page.fill('[data-testid=queue-dest]', addr)
    await page.setInputFiles('[data-testid=queue-file]', src)
    await page.waitForFunction(() => /queued queued-24m\.bin/.test(document.getElementById('queue-status')?.textContent ?? ''), null, { timeout: 60_000 })
    // Ferdie is offline: the item waits with its attempts and last error
    await page.waitForSelector('#outbox-list tr[data-state=pending]:not([data-attempts="0"])', { timeout: 90_000 })
    const row = await page.textContent('#outbox-list tr') ?? ''
    assert.match(row, /queued-24m\.bin/)
    assert.match(row, /24\.0 MiB/)
    await screenshot(page, '10-outbox-offline')

    await page.reload()
    await signInAgain(page)
    await page.waitForSelector('#outbox-list tr[data-state=pending]', { timeout: 10_000 })
    assert.match(await page.textContent('#outbox-list') ?? '', /queued-24m\.bin/, 'the queued file survived the reload')

    ferdie = await CliPeer.start(join(dir, 'ferdie'), { ports: fPorts })
    try {
      assert.equal(ferdie.browserAddrs[0], addr, 'Ferdie is back at the same address')
      const got = await ferdie.waitFor((e) => e.event === 'file' && e.name === 'queued-24m.bin', 180_000)
      assert.equal(got.from, CHARLIE)
      assert.equal(await sha256File(String(got.path)), sha)
      await page.waitForSelector('body[data-outbox="0"]', { timeout: 30_000 })
      assert.match(await page.textContent('#queue-status') ?? '', /delivered queued-24m\.bin/)
      await screenshot(page, '11-outbox-delivered')
      assert.equal(ferdie.events.filter((e) => e.event === 'file').length, 1, 'delivered once')
    } finally {
      await ferdie.kill()
    }
  })

  it('tells the user when they reject the signature in the wallet', async () => {
    const other = await launchWithWallet(join(dir, 'chromium-reject'), { accounts: ACCOUNTS, reject: true })
    try {
      await other.page.goto(cli.dashboard)
      await other.page.click('[data-testid=connect-wallet]')
      await other.page.waitForSelector('#accounts:not([hidden])')
      await other.page.click('[data-testid=sign-in]')
      await other.page.waitForSelector('#notice-identity:not([hidden])')
      assert.equal(await other.page.getAttribute('#notice-identity', 'data-error-name'), 'SignatureRejectedError')
      assert.match(await errorText(other.page, 'identity'), /rejected the signature/)
      assert.equal(await other.page.getAttribute('body', 'data-signed-in'), 'false')
      await screenshot(other.page, '08-signature-rejected')
    } finally {
      await other.context.close()
    }
  })

  it('says so when no wallet extension is installed, and a development key still works', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
    try {
      const p = await browser.newPage()
      await p.goto(cli.dashboard)
      await p.click('[data-testid=connect-wallet]')
      await p.waitForSelector('#notice-identity:not([hidden])')
      assert.equal(await p.getAttribute('#notice-identity', 'data-error-name'), 'WalletUnavailableError')
      await screenshot(p, '09-no-extension')
      await p.click('[data-testid=use-dev-key]')
      await p.waitForSelector('body[data-signed-in=true]')
      await connectTo(p, cli.browserAddrs[0] ?? '', BOB)
      const dev = await p.textContent('#my-ss58') ?? ''
      await cli.waitFor((e) => e.event === 'connected' && e.ss58 === dev)
    } finally {
      await browser.close()
    }
  })
})
