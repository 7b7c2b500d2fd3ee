// End to end: an in-process Node peer with a live WebRTC-Direct connection to Chromium is
// stopped, and the process lives on. node-datachannel used to abort the process (`terminate
// called after throwing … std::system_error`, or SIGSEGV) when a peer closed such a
// connection or stopped while one was open (README, "Known limits"). Here the peer runs in
// this process, as a library user's would; each round starts a new one, connects the
// dashboard, sends 4 MiB into the browser, stops the peer and waits for a late crash.
// SUBWIRE_STOP_ROUNDS sets the rounds (default 3).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createNodePeer, loadHotkey, serveDashboard } from '@subwire/peer-node'
import { buildDashboard, DASHBOARD_DIST, errorText, launchWithWallet, opfsFile, randomFile, signIn } from './helpers.ts'
import type { DashboardServer, NodePeer } from '@subwire/peer-node'
import type { BrowserContext, Page } from 'playwright-core'

const CHARLIE = '5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y'
const EVE = '5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw'
const ROUNDS = Number(process.env.SUBWIRE_STOP_ROUNDS ?? 3)
const AFTER_STOP_MS = 4_000

describe('WebRTC-Direct: stopping an in-process peer with a live browser connection', () => {
  let dir: string
  let context: BrowserContext
  let page: Page
  let dashboard: DashboardServer
  let eve: NodePeer | undefined
  let firstPort: string | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subwire-e2e-rtc-stop-'))
    await buildDashboard()
    dashboard = await serveDashboard({
      dir: DASHBOARD_DIST,
      config: () => ({ peer: eve?.multiaddrs.filter((a) => a.includes('/webrtc-direct/')) ?? [], allowPrivateAddresses: true, netuids: [42] })
    })
    ;({ context, page } = await launchWithWallet(join(dir, 'chromium'), { accounts: [{ uri: '//Charlie', name: 'charlie hotkey' }] }))
    page.on('pageerror', (e) => { process.stderr.write(`page error: ${e.message}\n`) })
    await page.goto(dashboard.url)
    await page.waitForSelector('body[data-ready=true]')
    await signIn(page, CHARLIE)
  })

  after(async () => {
    await eve?.stop()
    if (process.env.SUBWIRE_DEBUG_HANDLES !== undefined) setTimeout(() => { process.stderr.write(`alive: ${JSON.stringify(process.getActiveResourcesInfo())}\n`) }, 3_000).unref()
    await context?.close()
    await dashboard?.close()
    await rm(dir, { recursive: true, force: true })
  })

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: connects, sends 4 MiB to the browser, stops, and the process lives on`, async () => {
      eve = await createNodePeer({
        signer: await loadHotkey({ uri: '//Eve' }),
        netuids: [42],
        transports: ['webrtc-direct'],
        listen: ['/ip4/127.0.0.1/udp/0/webrtc-direct'],
        queue: false
      })
      await eve.start()
      const addr = eve.multiaddrs.find((a) => a.includes('/webrtc-direct/'))
      assert.ok(addr !== undefined)
      // a later peer in this process takes over the stopped one's UDP port (its listener is parked, not freed)
      const port = addr.split('/')[4]
      firstPort ??= port
      assert.equal(port, firstPort)
      await page.fill('[data-testid=peer-addr]', addr)
      await page.click('[data-testid=add-peer]')
      // this round's peer sees the browser (the page may still show the last round's row)
      for (const deadline = Date.now() + 30_000; !eve.peers().some((p) => p.ss58 === CHARLIE);) {
        if (Date.now() > deadline) throw new Error(`the browser did not connect; notice: ${await errorText(page, 'peers')}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const file = join(dir, `round-${round}.bin`)
      const sha = await randomFile(file, 4 << 20)
      const sending = eve.sendFile(CHARLIE, file)
      // the first offer from Eve asks the user: accept, and always from Eve
      const asking = `#transfer-list li[data-dir=in][data-state=asking][data-peer="${EVE}"]`
      const asked = await Promise.race([sending.then(() => false), page.waitForSelector(asking, { timeout: 30_000 }).then(() => true)])
      if (asked) {
        await page.check(`${asking} [data-testid=always-accept]`)
        await page.click(`${asking} [data-testid=accept]`)
      }
      const result = await sending
      const row = `#inbox-list tr[data-blake3="${result.blake3}"]`
      await page.waitForSelector(row, { timeout: 30_000 })
      assert.equal((await opfsFile(page, await page.getAttribute(row, 'data-path') ?? '')).sha, sha)
      await eve.stop()
      eve = undefined
      // the crash came during stop() or a few seconds after it
      await new Promise((resolve) => setTimeout(resolve, AFTER_STOP_MS))
    })
  }
})
