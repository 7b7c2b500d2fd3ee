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
  await page.waitForSelector(`#peer-list tr[data-ss58="${ss58}"]`, { timeout: 30_000 })
    .catch(async (err: Error) => { throw new Error(`${err.message}; error box: ${await errorText(page)}`) })
}

/** After a reload: connect the wallet again and sign in as Charlie (one more signature). */
async function signInAgain (page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready=true]')
  await page.click('[data-testid=connect-wallet]')
  await page.waitForSelector('#accounts:not([hidden])')
  await page.selectOption('[data-testid=account]', CHARLIE)
  await page.click('[data-testid=sign-in]')
  await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
}

async function sendViaDashboard (page: Page, path: string, to: string): Promise<void> {
  await page.evaluate(() => { const r = document.getElementById('send-result'); if (r !== null) r.hidden = true })
  await page.selectOption('[data-testid=send-to]', to)
  await page.setInputFiles('[data-testid=file-input]', path)
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
    await page.waitForSelector('#error:not([hidden])')
    assert.equal(await page.getAttribute('#error', 'data-error-name'), 'UnknownRpcTypeError')
    assert.equal(await signRawCalls(page), 1, 'no signature prompt per request')
  })

  it('sends a 64 MiB file browser→Node over WebRTC-Direct; the hashes on disk are equal', async () => {
    const src = join(dir, 'weights-64m.bin')
    const sha = await randomFile(src, 64 * MiB)
    await sendViaDashboard(page, src, BOB)
    await page.waitForSelector('#send-result:not([hidden])', { timeout: 180_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; error box: ${await errorText(page)}`) })
    const got = await cli.waitFor((e) => e.event === 'file' && e.name === 'weights-64m.bin')
    assert.equal(got.from, CHARLIE)
    assert.equal(got.size, 64 * MiB)
    assert.equal(await sha256File(String(got.path)), sha)
    assert.equal(await page.getAttribute('#send-result', 'data-blake3'), got.blake3)
    assert.ok(String(got.path).includes(join('inbox', CHARLIE)))
    await screenshot(page, '04-file-sent')
    assert.equal(await signRawCalls(page), 1)
  })

  it('receives a file from a Node peer into the OPFS inbox with the right hash', async () => {
    const { sender: eve, addr } = await NodeSender.start()
    try {
      await connectTo(page, addr, EVE)
      const src = join(dir, 'checkpoint-24m.bin')
      const sha = await randomFile(src, 24 * MiB)
      const { result, error } = await eve.send(src, CHARLIE)
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
      eve.sendLater(src, CHARLIE)
      // reload once more than two 16 MiB OPFS segments have arrived
      await page.waitForFunction(() => /receiving from .*: (\d+\.\d) MiB/.test(document.getElementById('receiving')?.textContent ?? '') &&
        parseFloat(/: (\d+\.\d) MiB/.exec(document.getElementById('receiving')?.textContent ?? '')?.[1] ?? '0') >= 40, null, { timeout: 120_000, polling: 50 })
      await page.reload()
      const first = await eve.next()
      assert.match(first.error ?? '', /ConnectionClosedError|TransferCancelledError/, 'the sender learns the browser went away')
      await signInAgain(page)
      await connectTo(page, addr, EVE)
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
    await sendViaDashboard(page, src, BOB)
    await page.waitForFunction(() => parseFloat(document.getElementById('send-bar')?.style.width ?? '0') >= 30, null, { timeout: 120_000, polling: 50 })
    await cli.kill()
    await page.waitForSelector('#error:not([hidden])', { timeout: 90_000 })
    const name = await page.getAttribute('#error', 'data-error-name')
    assert.ok(['ConnectionClosedError', 'PeerUnreachableError', 'RequestTimeoutError'].includes(name ?? ''), `error ${name}: ${await errorText(page)}`)
    assert.match(await errorText(page), /lost|reached|answer/)
    await screenshot(page, '06-peer-stopped')

    cli = await CliPeer.start(join(dir, 'bob'), { ports })
    assert.equal(cli.browserAddrs[0], addrBefore, 'same certhash address after a restart')
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"]`, { state: 'detached', timeout: 60_000 })
    await connectTo(page, cli.browserAddrs[0] ?? '', BOB)
    await sendViaDashboard(page, src, BOB)
    await page.waitForSelector('#send-result:not([hidden])', { timeout: 180_000 })
    assert.match(await page.textContent('#send-result') ?? '', /resumed from/)
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
      await other.page.waitForSelector('#error:not([hidden])')
      assert.equal(await other.page.getAttribute('#error', 'data-error-name'), 'SignatureRejectedError')
      assert.match(await errorText(other.page), /rejected the signature/)
      assert.equal(await other.page.getAttribute('body', 'data-signed-in'), null)
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
      await p.waitForSelector('#error:not([hidden])')
      assert.equal(await p.getAttribute('#error', 'data-error-name'), 'WalletUnavailableError')
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
