// End to end: folders in real Chromium. A folder of 50 files (one of 256 MiB) chosen in the
// dashboard goes browser→Node as one transfer; the same folder comes back Node→browser into
// OPFS, asked once; every file's SHA-256 is equal on both sides.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildDashboard, CliPeer, errorText, freePort, launchWithWallet, NodeSender, randomFile, screenshot, sha256File, signIn } from './helpers.ts'
import type { BrowserContext, Page } from 'playwright-core'

const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const EVE = '5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw'
const MiB = 1024 * 1024

async function connectTo (page: Page, addr: string, ss58: string): Promise<void> {
  await page.fill('[data-testid=peer-addr]', addr)
  await page.click('[data-testid=add-peer]')
  await page.waitForSelector(`#peer-list tr[data-ss58="${ss58}"][data-state=connected]`, { timeout: 30_000 })
    .catch(async (err: Error) => { throw new Error(`${err.message}; notice: ${await errorText(page, 'peers')}`) })
}

/** SHA-256 of every file under `dir` on disk, by relative path. */
async function diskTree (dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else out[relative(dir, p)] = await sha256File(p)
    }
  }
  await walk(dir)
  return out
}

/** SHA-256 of every file under `subwire/<path>` in the page's OPFS, by relative path. */
async function opfsTree (page: Page, path: string): Promise<Record<string, string>> {
  return await page.evaluate(async (p) => {
    let dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('subwire')
    for (const part of p.split('/')) dir = await dir.getDirectoryHandle(part)
    const out: Record<string, string> = {}
    const walk = async (d: FileSystemDirectoryHandle, prefix: string): Promise<void> => {
      for await (const [name, h] of (d as unknown as { entries: () => AsyncIterable<[string, FileSystemHandle]> }).entries()) {
        if (h.kind === 'directory') { await walk(h as FileSystemDirectoryHandle, `${prefix}${name}/`); continue }
        const file = await (h as FileSystemFileHandle).getFile()
        const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer())
        out[`${prefix}${name}`] = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
      }
    }
    await walk(dir, '')
    return out
  }, path)
}

describe('folders in the dashboard, in Chromium', () => {
  let dir: string
  let src: string
  let cli: CliPeer
  let context: BrowserContext
  let page: Page

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-folders-'))
    await buildDashboard()
    const ports = { quic: await freePort(), browser: await freePort(), dashboard: await freePort() }
    cli = await CliPeer.start(join(dir, 'bob'), { ports, uri: '//Bob' })
    ;({ context, page } = await launchWithWallet(join(dir, 'chromium'), { accounts: [{ uri: '//Charlie', name: 'charlie hotkey' }] }))
    page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
    src = join(dir, 'dataset')
    for (let i = 0; i < 50; i++) {
      const sub = ['', 'train', 'train/shards', 'eval'][i % 4] as string
      await mkdir(join(src, sub), { recursive: true })
      await randomFile(join(src, sub, `f-${i}.bin`), i === 9 ? 256 * MiB : 1000 + i * 3001)
    }
  })

  after(async () => {
    await context?.close()
    await cli?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('sends a folder of 50 files browser→Node as one transfer with a total and per-file progress; every hash equal', async () => {
    await page.goto(cli.dashboard)
    await page.waitForSelector('body[data-ready=true]')
    await signIn(page, CHARLIE)
    await connectTo(page, cli.browserAddrs[0] ?? '', BOB)
    await page.selectOption('[data-testid=send-to]', BOB)
    await page.setInputFiles('[data-testid=folder-input]', src)
    const row = '#transfer-list li[data-dir=out][data-kind=folder][data-name="dataset"]'
    await page.waitForSelector(row)
    assert.equal(await page.getAttribute(row, 'data-files'), '50')
    await page.waitForSelector(`${row}[data-state=sending], ${row}[data-state=done]`, { timeout: 120_000 })
    await screenshot(page, '20-folder-sending')
    await page.waitForSelector(`${row}[data-state=done]`, { timeout: 240_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; row: ${await page.textContent(row).catch(() => 'none')}`) })
    assert.equal(await page.getAttribute(row, 'data-files-done'), '50')
    assert.equal(await page.$$eval(`${row} [data-testid=folder-files] li`, (ls) => ls.filter((l) => (l as HTMLElement).dataset.progress === '100.0').length), 50)
    await page.click(`${row} [data-testid=folder-files] summary`)
    await screenshot(page, '20-folder-sent')
    const got = await cli.waitFor((e) => e.event === 'folder' && e.name === 'dataset')
    assert.equal(got.files, 50)
    assert.equal(got.from, CHARLIE)
    assert.equal(got.blake3, await page.getAttribute(row, 'data-blake3'))
    assert.deepEqual(await diskTree(String(got.path)), await diskTree(src))
    assert.equal(cli.events.filter((e) => e.event === 'file').length, 0, 'one folder event, no file event per entry')
  })

  it('sends two dropped files as one transfer (a folder of both), not only the first', async () => {
    await page.selectOption('[data-testid=send-to]', BOB)
    await page.evaluate(() => {
      const dt = new DataTransfer()
      dt.items.add(new File(['first dropped file'], 'one.txt'))
      dt.items.add(new File([new Uint8Array(70_000).fill(7)], 'two.bin'))
      document.getElementById('drop')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    })
    const row = '#transfer-list li[data-dir=out][data-kind=folder][data-name="2 files"]'
    await page.waitForSelector(`${row}[data-state=done]`, { timeout: 60_000 })
      .catch(async (err: Error) => { throw new Error(`${err.message}; transfers: ${await page.textContent('#transfer-list')}; notice: ${await errorText(page, 'send')}`) })
    const got = await cli.waitFor((e) => e.event === 'folder' && e.name === '2 files')
    assert.equal(got.files, 2)
    const tree = await diskTree(String(got.path))
    assert.deepEqual(Object.keys(tree).sort(), ['one.txt', 'two.bin'])
  })

  it('receives the folder Node→browser into OPFS, asked once (name, 50 files); every hash equal', async () => {
    const { sender: eve, addr } = await NodeSender.start()
    try {
      await connectTo(page, addr, EVE)
      eve.sendLater(src, CHARLIE)
      const asking = `#transfer-list li[data-dir=in][data-state=asking][data-peer="${EVE}"][data-name="dataset"]`
      await page.waitForSelector(asking, { timeout: 60_000 })
        .catch(async (err: Error) => { throw new Error(`${err.message}; transfers: ${await page.textContent('#transfer-list')}`) })
      assert.match(await page.textContent(asking) ?? '', /dataset\/ \(50 files\)/)
      await screenshot(page, '21-folder-consent')
      await page.click(`${asking} [data-testid=accept]`)
      const { result, error } = await eve.next()
      assert.equal(error, undefined)
      assert.equal((result as unknown as { files: number }).files, 50)
      const row = `#transfer-list li[data-dir=in][data-kind=folder][data-id="${result?.id ?? ''}"]`
      await page.waitForSelector(`${row}[data-state=done]`, { timeout: 300_000 })
      assert.equal(await page.$$(`#transfer-list li[data-dir=in][data-state=asking]`).then((l) => l.length), 0, 'no consent per file')
      assert.deepEqual(await opfsTree(page, `inbox/${EVE}/dataset`), await diskTree(src))
      // the inbox lists the folder's files under it
      const listed = `#inbox-list tr[data-path="inbox/${EVE}/dataset/train/shards/f-2.bin"]`
      await page.waitForSelector(listed, { timeout: 30_000 })
      assert.equal(await page.textContent(`${listed} td:nth-child(1)`), 'dataset/train/shards/f-2.bin')
      await screenshot(page, '21-folder-received')
    } finally {
      eve.stop()
    }
  })
})
