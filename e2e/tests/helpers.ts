// Shared pieces of the end-to-end tests: a real `subwire listen` process (the CLI) with the
// dashboard, Chromium with the test wallet extension, and file helpers.
import { fork, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { build } from 'vite'
import { buildTestWallet } from '../wallet/build.ts'
import type { ChildProcess } from 'node:child_process'
import type { BrowserContext, Page } from 'playwright-core'
import type { SendFileResult } from '@subwire/shared'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = join(ROOT, 'packages/peer-node/bin/subwire.js')
export const DASHBOARD_DIST = join(ROOT, 'apps/dashboard/dist')
/** Screenshots and other artifacts. */
export const ARTIFACTS = join(ROOT, 'e2e/test-results')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

let dashboardBuilt: Promise<unknown> | undefined
/** Builds the dashboard once per run. */
export async function buildDashboard (): Promise<void> {
  dashboardBuilt ??= build({ root: join(ROOT, 'apps/dashboard'), configFile: join(ROOT, 'apps/dashboard/vite.config.ts'), logLevel: 'warn' })
  await dashboardBuilt
}

/** A free TCP port that is also free on UDP (picked from the OS, then checked). */
export async function freePort (): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => { resolve(p) }) })
    })
    if (port < 60_000) return port
  }
}

/** One JSON event line of `subwire --json listen`. */
export type CliEvent = Record<string, unknown> & { event?: string }

/** A running `subwire listen` (the real CLI, in its own process group). */
export class CliPeer {
  readonly proc: ChildProcess
  readonly events: CliEvent[] = []
  readonly #waiters: Array<{ pred: (e: CliEvent) => boolean, resolve: (e: CliEvent) => void }> = []
  stderr = ''

  private constructor (proc: ChildProcess) {
    this.proc = proc
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let e: CliEvent
      try { e = JSON.parse(line) as CliEvent } catch { return }
      this.events.push(e)
      for (const w of [...this.#waiters]) {
        if (w.pred(e)) { this.#waiters.splice(this.#waiters.indexOf(w), 1); w.resolve(e) }
      }
    })
    proc.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
  }

  /** `subwire init` a home (if `uri` is given) and starts `subwire listen --json` with the dashboard. */
  static async start (home: string, init: { ports: { quic: number, browser: number, dashboard: number, webtransport?: number }, uri?: string }): Promise<CliPeer> {
    const listen = [
      `/ip4/127.0.0.1/udp/${init.ports.quic}/quic-v1`,
      `/ip4/127.0.0.1/udp/${init.ports.browser}/webrtc-direct`,
      `/ip4/127.0.0.1/tcp/${init.ports.browser}/ws`
    ].flatMap((a) => ['--listen', a])
    if (init.uri !== undefined) {
      const r = spawnSync(process.execPath, [BIN, '--home', home, '--json', 'init', '--hotkey-uri', init.uri, ...listen], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`subwire init failed: ${r.stderr}`)
    }
    // with a WebTransport port the launcher runs the peer under Deno
    const webtransport = init.ports.webtransport === undefined ? [] : [`--webtransport=/ip4/127.0.0.1/udp/${init.ports.webtransport}/quic-v1/webtransport`]
    const proc = spawn(process.execPath, [BIN, '--home', home, '--json', 'listen', '--dashboard', DASHBOARD_DIST, '--dashboard-port', String(init.ports.dashboard), '--min-free', '0', ...webtransport],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    const peer = new CliPeer(proc)
    const exited = new Promise<never>((_resolve, reject) => { proc.once('exit', (code) => { reject(new Error(`subwire listen exited with ${code}: ${peer.stderr}`)) }) })
    await Promise.race([peer.waitFor((e) => e.event === 'listening', 30_000), exited])
    exited.catch(() => {})
    return peer
  }

  /** The `listening` event. */
  get listening (): CliEvent { return this.events.find((e) => e.event === 'listening') as CliEvent }
  /** Browser-dialable addresses: WebTransport (when on), then WebRTC-Direct, then WebSockets. */
  get browserAddrs (): string[] { return this.listening.browserMultiaddrs as string[] }
  /** The dashboard URL. */
  get dashboard (): string { return this.listening.dashboard as string }

  /** Resolves with the first event (past or future) matching `pred`. */
  async waitFor (pred: (e: CliEvent) => boolean, ms = 60_000): Promise<CliEvent> {
    const seen = this.events.find(pred)
    if (seen !== undefined) return seen
    return await new Promise<CliEvent>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`no matching CLI event within ${ms} ms; got ${JSON.stringify(this.events.map((e) => e.event))}; stderr ${this.stderr}`)) }, ms)
      this.#waiters.push({ pred, resolve: (e) => { clearTimeout(t); resolve(e) } })
    })
  }

  /** Kills the whole process group at once (the launcher and the peer): `kill -9`. */
  async kill (): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const gone = new Promise((resolve) => { this.proc.once('exit', resolve) })
    process.kill(-this.proc.pid!, 'SIGKILL')
    await gone
  }

  /** Stops it with SIGINT, as Ctrl-C does. */
  async stop (): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const gone = new Promise((resolve) => { this.proc.once('exit', resolve) })
    process.kill(-this.proc.pid!, 'SIGINT')
    await gone
  }
}

/** Signs the dashboard in through the test wallet as `ss58`: connect, pick the account, sign the attestation. */
export async function signIn (page: Page, ss58: string): Promise<void> {
  await page.click('[data-testid=connect-wallet]')
  await page.waitForSelector('#accounts:not([hidden])')
  await page.selectOption('[data-testid=account]', ss58)
  await page.click('[data-testid=sign-in]')
  await page.waitForSelector('body[data-signed-in=true]', { timeout: 30_000 })
}

/** Chromium with the test wallet extension (accounts signing as polkadot-js does). */
export async function launchWithWallet (dir: string, wallet: { accounts: Array<{ uri: string, name: string }>, reject?: boolean }): Promise<{ context: BrowserContext, page: Page }> {
  const ext = await buildTestWallet(join(dir, 'wallet'), wallet)
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox',
      `--disable-extensions-except=${ext}`,
      `--load-extension=${ext}`,
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // CHROMIUM_ARGS adds flags when debugging, e.g. "--log-net-log=/tmp/netlog.json --net-log-capture-mode=Everything"
      ...(process.env.CHROMIUM_ARGS ?? '').split(' ').filter((a) => a !== '')
    ]
  })
  const page = context.pages()[0] ?? await context.newPage()
  return { context, page }
}

/** Size and SHA-256 of a received file, read back from OPFS inside the page. */
export async function opfsFile (page: Page, path: string): Promise<{ size: number, sha: string }> {
  return await page.evaluate(async (p) => {
    const peer = (globalThis as unknown as { subwirePeer: { files: { file: (p: string) => Promise<File> } } }).subwirePeer
    const file = await peer.files.file(p)
    const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer())
    return { size: file.size, sha: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('') }
  }, path)
}

/** Writes `size` random bytes to `path`, 4 MiB at a time; returns its SHA-256 (hex). */
export async function randomFile (path: string, size: number): Promise<string> {
  const h = createHash('sha256')
  const f = await open(path, 'w')
  try {
    for (let done = 0; done < size;) {
      const n = Math.min(4 << 20, size - done)
      const b = randomBytes(n)
      h.update(b)
      await f.write(b)
      done += n
    }
  } finally {
    await f.close()
  }
  return h.digest('hex')
}

/** SHA-256 of a file on disk, streamed. */
export async function sha256File (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Saves a full-page screenshot as a test artifact. */
export async function screenshot (page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/** The sentence of a dashboard section's notice (`identity`, `peers`, `rpc`, …), or '' if it is hidden. */
export async function errorText (page: Page, area: string): Promise<string> {
  return await page.evaluate((a) => { const e = document.getElementById(`notice-${a}`); return e === null || e.hidden ? '' : e.querySelector('.msg')?.textContent ?? '' }, area)
}

/** What the Node sender process reports. */
export interface SenderReport { addr?: string, published?: number, result?: SendFileResult, messageId?: string, error?: string }

/** A Node peer (//Eve) in its own process that sends files into the browser on request. */
export class NodeSender {
  readonly #proc: ChildProcess

  private constructor (proc: ChildProcess) { this.#proc = proc }

  /**
   * Starts it; resolves with it and its WebRTC-Direct (or WebSockets) address. With
   * `bootstrap` (a multiaddr it can dial) it first publishes its hotkey record in that
   * peer's DHT (`published`: how many DHT peers took it).
   */
  static async start (transport: 'webrtc-direct' | 'ws' = 'webrtc-direct', options: { bootstrap?: string } = {}): Promise<{ sender: NodeSender, addr: string, published: number }> {
    const args = [transport, ...(options.bootstrap === undefined ? [] : [options.bootstrap])]
    const sender = new NodeSender(fork(join(ROOT, 'e2e', 'fixtures', 'node-sender.ts'), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }))
    const { addr, published } = await sender.next()
    if (addr === undefined) throw new Error('the Node sender reported no address')
    return { sender, addr, published: published ?? 0 }
  }

  /** The next report. */
  async next (): Promise<SenderReport> {
    return await new Promise((resolve) => { this.#proc.once('message', resolve) })
  }

  /** Sends `path` to `to`; resolves with the outcome. */
  async send (path: string, to: string): Promise<SenderReport> {
    const outcome = this.next()
    this.#proc.send({ send: path, to })
    return await outcome
  }

  /** Asks it to send without waiting; read the outcome with {@link NodeSender.next}. */
  sendLater (path: string, to: string): void { this.#proc.send({ send: path, to }) }

  /** Sends a control message to `to`; resolves with the outcome. */
  async message (to: string, action: string, payload: unknown): Promise<SenderReport> {
    const outcome = this.next()
    this.#proc.send({ to, message: { action, payload } })
    return await outcome
  }

  /** Stops it. */
  stop (): void { this.#proc.disconnect() }
}
