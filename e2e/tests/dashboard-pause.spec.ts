// End to end: Pause / Resume of an outgoing file in the dashboard (issue 24), in real
// Chromium against a real `subwire listen` process, over WebRTC-Direct and over WebTransport
// (the peer under Deno).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildDashboard, CliPeer, errorText, freePort, launchWithWallet, randomFile, screenshot, sha256File, signIn } from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const MiB = 1024 * 1024
/** Chunks the receiver may have been sent but not yet verified when the sender stops (the credit window). */
const WINDOW_BYTES = 8 * MiB

const rowData = async (page: Page, row: string): Promise<Record<string, string>> =>
  await page.$eval(row, (li) => ({ ...(li as HTMLElement).dataset }) as Record<string, string>)

/** Clicks a row's button by test id from inside the page (rows are re-rendered while a file moves). */
async function clickIn (page: Page, row: string, testid: string): Promise<void> {
  await page.waitForSelector(`${row} [data-testid=${testid}]`)
  await page.evaluate((sel) => { document.querySelector<HTMLButtonElement>(sel)?.click() }, `${row} [data-testid=${testid}]`)
}

for (const transport of ['webrtc-direct', 'webtransport'] as const) describe(`dashboard: pause and resume an outgoing file over ${transport}`, () => {
  let dir: string
  let cli: CliPeer
  let context: BrowserContext
  let page: Page

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-pause-'))
    await buildDashboard()
    const ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort(), ...(transport === 'webtransport' ? { webtransport: await freePort() } : {}) }
    cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
    ;({ context, page } = await launchWithWallet(join(dir, 'chromium'), { accounts: [{ uri: '//Charlie', name: 'charlie hotkey' }] }))
    page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
    await page.goto(cli.dashboard)
    await page.waitForSelector('body[data-ready=true]')
    await signIn(page, CHARLIE)
    await page.fill('[data-testid=peer-addr]', cli.browserAddrs[0] ?? '')
    await page.click('[data-testid=add-peer]')
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"][data-state=connected]`, { timeout: 30_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}`) })
    assert.equal(await page.textContent(`#peer-list tr[data-ss58="${BOB}"] td:nth-child(3)`), transport)
  })

  after(async () => {
    await context?.close()
    await cli?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('pauses for a few seconds, then resumes from the verified offset (across a reload) without re-sending a byte before it', async (t) => {
    const size = 96 * MiB
    const src = join(dir, `pause-96m-${transport}.bin`)
    const sha = await randomFile(src, size)
    await page.selectOption('[data-testid=send-to]', BOB)
    await page.setInputFiles('[data-testid=file-input]', src)
    const row = `#transfer-list li[data-dir=out][data-name="pause-96m-${transport}.bin"]`
    // a quarter sent (not hashed: data-progress is what was sent)
    await page.waitForFunction((r) => {
      const li = document.querySelector<HTMLElement>(r)
      return li?.dataset['state'] === 'sending' && parseFloat(li.dataset['progress'] ?? '0') >= 25
    }, row, { timeout: 120_000, polling: 50 })
    await clickIn(page, row, 'pause')
    await page.waitForSelector(`${row}[data-state=paused]`, { timeout: 10_000 })
    const paused = Number((await rowData(page, row))['bytes'])
    assert.ok(paused >= 0.25 * size && paused < size, `paused at ${paused}`)
    // the receiver learns at once that the sender stopped, and lets the transfer go
    const stopped = await cli.waitFor((e) => e.event === 'file-failed', 15_000)
    assert.equal(stopped.error, 'TransferCancelledError', JSON.stringify(stopped))
    await screenshot(page, `20-paused-${transport}`)
    // nothing moves while paused
    await new Promise((resolve) => setTimeout(resolve, 3000))
    assert.equal((await rowData(page, row))['state'], 'paused')
    assert.equal(Number((await rowData(page, row))['bytes']), paused)

    // paused is kept across a reload
    await page.reload()
    await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
    await page.waitForSelector(`#peer-list tr[data-ss58="${BOB}"][data-state=connected]`, { timeout: 30_000 })
    await page.waitForSelector(`${row}[data-state=paused]`)

    await clickIn(page, row, 'resume')
    await page.waitForSelector(`${row}[data-state=done]`, { timeout: 180_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; row: ${await page.textContent(row).catch(() => 'none')}`) })
    const done = await rowData(page, row)
    const resumedFrom = Number(done['resumedFrom'])
    const bytesSent = Number(done['bytesSent'])
    // the sender's row lags its progress a little; at most the credit window was in flight unverified
    assert.ok(resumedFrom >= paused - WINDOW_BYTES && resumedFrom < size, `resumed from ${resumedFrom}, paused at ${paused}`)
    assert.equal(resumedFrom + bytesSent, size, `nothing before ${resumedFrom} sent again (sent ${bytesSent})`)
    t.diagnostic(`paused at ${paused} B, resumed from ${resumedFrom} B, sent ${bytesSent} B after the resume`)
    const got = await cli.waitFor((e) => e.event === 'file' && e.name === `pause-96m-${transport}.bin`)
    assert.equal(Number(got.resumedFrom), resumedFrom)
    assert.equal(await sha256File(String(got.path)), sha)
    assert.match(await page.textContent(row) ?? '', /resumed from/)
    await screenshot(page, `21-resumed-${transport}`)
  })
})
