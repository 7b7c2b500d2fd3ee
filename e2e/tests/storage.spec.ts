// The storage compliance suites, run in real Chromium against the browser bodies (IndexedDB):
// the same suite the memory and SQLite bodies pass under node:test.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chromium } from 'playwright-core'
import { build } from 'vite'
import { serveDashboard } from '@subwire/peer-node'
import { CHROMIUM, freePort, ROOT } from './helpers.ts'
import type { Browser } from 'playwright-core'
import type { DashboardServer } from '@subwire/peer-node'

interface Result { name: string, ok: boolean, error?: string, ms: number }

describe('storage compliance in Chromium', () => {
  let dir: string
  let server: DashboardServer
  let browser: Browser

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-storage-'))
    await build({ root: join(ROOT, 'e2e/browser-suite'), configFile: false, logLevel: 'warn', build: { outDir: join(dir, 'dist'), target: 'es2023', emptyOutDir: true, chunkSizeWarningLimit: 4096 } })
    server = await serveDashboard({ dir: join(dir, 'dist'), port: await freePort(), config: () => ({ peer: [], allowPrivateAddresses: true, netuids: [42] }) })
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] })
  })

  after(async () => {
    await browser?.close()
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('the IndexedDB outbox store passes the QueueStore compliance suite, and the OPFS inbox keeps concurrent writes', async (t) => {
    const page = await browser.newPage()
    page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
    await page.goto(server.url)
    const results = await page.evaluate(async () => await (globalThis as unknown as { subwireSuite: Promise<Result[]> }).subwireSuite)
    assert.ok(results.length >= 10, `the suite ran (${results.length} cases)`)
    for (const r of results) {
      await t.test(r.name, () => { assert.ok(r.ok, r.error) })
    }
    await page.close()
  })
})
