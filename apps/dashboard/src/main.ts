/**
 * The subwire dashboard: a wallet-extension user as a full peer. Connect a wallet (or
 * a development key), connect to Node peers by multiaddr, send and receive files, and
 * query peers over RPC. Every failure is shown with what it means.
 */
import { createWebPeer, devSigner, orderByTransport, transportOfAddr, walletAccounts, walletSigner } from '@subwire/peer-web'
import type { InboxFile, OpfsFileStore, WebPeer } from '@subwire/peer-web'
import type { RemotePeer, Signer, TransferProgressEvent } from '@subwire/shared'

/** What the server that hosts the dashboard may tell it (`npm start` writes it). */
interface HostConfig {
  /** Browser-dialable addresses of the local Node peer. */
  peer?: string[]
  /** Allow loopback/LAN addresses (true when served from 127.0.0.1). */
  allowPrivateAddresses?: boolean
  /** Subnets to use. */
  netuids?: number[]
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} missing`)
  return el as T
}

const HASHES_KEY = 'subwire.inboxHashes'
let peer: WebPeer | undefined
let host: HostConfig = {}
let sending: AbortController | undefined

// --- errors -----------------------------------------------------------------

const EXPLAIN: Record<string, string> = {
  WalletUnavailableError: 'No Polkadot wallet extension answered. Install polkadot-js, Talisman or SubWallet and allow this site, or use a development key.',
  WalletAccountNotFoundError: 'The wallet has no such sr25519 account.',
  SignatureRejectedError: 'You rejected the signature in the wallet, so this browser is not signed in. Click "Sign in" to try again.',
  PeerUnreachableError: 'The peer could not be reached on any of its addresses.',
  InvalidDestinationError: 'That is not a multiaddr ending in /p2p/<PeerId>.',
  FileRefusedError: 'The peer refused the file.',
  FileTooLargeError: 'The peer refused the file: too large.',
  InsufficientDiskSpaceError: 'The peer refused the file: not enough disk space.',
  FileHashMismatchError: 'The file did not match its BLAKE3 hash: nothing was kept.',
  ChunkHashMismatchError: 'A chunk did not match its hash: the transfer was stopped.',
  ConnectionClosedError: 'The connection to the peer was lost. Send the same file again to resume where it stopped.',
  TransferCancelledError: 'The transfer was cancelled.',
  FilesNotEnabledError: 'That peer does not receive files.',
  SubnetNotServedError: 'That peer does not serve this subnet.',
  RequestTimeoutError: 'The peer did not answer in time.',
  UnknownRpcTypeError: 'The peer has no handler for that request type.',
  HandshakeFailedError: 'The peer failed the hotkey handshake.',
  NotStartedError: 'Sign in first.'
}

function showError (err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err))
  const box = $('error')
  box.hidden = false
  box.dataset['errorName'] = e.name
  box.textContent = `${EXPLAIN[e.name] ?? 'Something failed.'} (${e.name}: ${e.message})`
}

function clearError (): void {
  $('error').hidden = true
}

async function guarded (fn: () => Promise<void>): Promise<void> {
  clearError()
  try { await fn() } catch (err) { showError(err) }
}

// --- formatting --------------------------------------------------------------

const short = (s: string): string => s.length > 16 ? `${s.slice(0, 8)}…${s.slice(-6)}` : s

function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

function progressText (e: TransferProgressEvent): string {
  const { bytes: done, total, rate } = e.detail
  if (e.type === 'transfer:hashing') return `hashing ${bytes(done)} of ${bytes(total)}`
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : Infinity
  return `${bytes(done)} of ${bytes(total)} · ${(rate / 1e6).toFixed(1)} MB/s · ETA ${Number.isFinite(eta) ? `${eta} s` : '…'}`
}

// --- identity ---------------------------------------------------------------

async function startPeer (signer: Signer, source: string): Promise<void> {
  await peer?.stop()
  const p = await createWebPeer({
    signer,
    netuids: host.netuids ?? [42],
    allowPrivateAddresses: host.allowPrivateAddresses ?? ['127.0.0.1', 'localhost'].includes(location.hostname),
    protocol: { files: { minFreeBytes: 64 * 1024 * 1024 } }
  })
  await p.start() // the wallet signs the attestation here, once
  peer = p
  ;(globalThis as { subwirePeer?: WebPeer }).subwirePeer = p
  $('my-ss58').textContent = p.ss58
  $('my-peer-id').textContent = p.peerId
  $('my-source').textContent = source
  $('me').hidden = false
  p.on('peer:authenticated', () => { renderPeers() })
  p.on('peer:disconnected', () => { renderPeers() })
  p.on('file:accepted', (o) => { receiving(o.id, `receiving ${o.name} (${bytes(o.size)}) from ${short(o.from.ss58)}`) })
  p.on('file:progress', (e) => { receiving(e.detail.id, `receiving from ${short(e.from)}: ${progressText(e)}`) })
  p.on('file:failed', (f) => { if (f.id !== undefined) receiving(f.id, `failed from ${short(f.from)}: ${f.error.name}: ${f.error.message}`) })
  p.on('file:received', async (f) => {
    const hashes = JSON.parse(localStorage.getItem(HASHES_KEY) ?? '{}') as Record<string, string>
    hashes[f.path] = f.blake3
    localStorage.setItem(HASHES_KEY, JSON.stringify(hashes))
    receiving(f.id, undefined)
    await renderInbox()
  })
  for (const ev of ['queue:added', 'queue:attempt', 'queue:retry', 'queue:delivered', 'queue:dead', 'queue:dropped', 'queue:progress'] as const) {
    p.outbox?.on(ev, () => { scheduleOutbox() })
  }
  p.outbox?.on('queue:progress', (e) => { outboxProgress.set(e.id, e.bytes) })
  p.outbox?.on('queue:delivered', ({ item, result }) => {
    $('queue-status').textContent = `delivered ${item.label} to ${short(item.dest)}${result === undefined ? '' : ` (BLAKE3 ${result.blake3})`}`
  })
  document.body.dataset['signedIn'] = 'true'
  renderPeers()
  await renderOutbox()
  await renderInbox()
  const first = host.peer?.[0]
  if (first !== undefined && ($('peer-addr') as HTMLInputElement).value === '') ($('peer-addr') as HTMLInputElement).value = first
}

$('connect-wallet').addEventListener('click', () => {
  void guarded(async () => {
    const accounts = await walletAccounts({ appName: 'subwire dashboard' })
    if (accounts.length === 0) throw Object.assign(new Error('The wallet has no sr25519 accounts'), { name: 'WalletAccountNotFoundError' })
    const select = $('account') as HTMLSelectElement
    select.replaceChildren(...accounts.map((a) => new Option(`${a.name ?? 'account'} (${a.source}) ${a.ss58}`, a.ss58)))
    $('accounts').hidden = false
  })
})

$('sign-in').addEventListener('click', () => {
  void guarded(async () => {
    const ss58 = ($('account') as HTMLSelectElement).value
    await startPeer(await walletSigner(ss58, { appName: 'subwire dashboard' }), 'wallet extension')
  })
})

$('use-dev-key').addEventListener('click', () => {
  void guarded(async () => { await startPeer(devSigner(), 'development key (kept in this browser)') })
})

// --- peers ------------------------------------------------------------------

const latency = new Map<string, number>()

function renderPeers (): void {
  const list = peer?.peers() ?? []
  const rows = list.map((r: RemotePeer) => {
    const tr = document.createElement('tr')
    tr.dataset['ss58'] = r.ss58
    const ms = latency.get(r.peerId)
    for (const [text, mono] of [[r.ss58, true], [short(r.peerId), true], [peer?.transportTo(r.peerId) ?? '', false], [ms === undefined ? '…' : `${ms.toFixed(1)} ms`, false]] as const) {
      const td = document.createElement('td')
      td.textContent = text
      if (mono) td.className = 'mono'
      tr.append(td)
    }
    return tr
  })
  $('peer-list').replaceChildren(...rows)
  for (const id of ['send-to', 'rpc-to']) {
    const select = $(id) as HTMLSelectElement
    const keep = select.value
    select.replaceChildren(...list.map((r) => new Option(`${short(r.ss58)} (${peer?.transportTo(r.peerId)})`, r.ss58)))
    if (list.some((r) => r.ss58 === keep)) select.value = keep
  }
}

// latency as libp2p's connection monitor measures it (it pings every connection)
setInterval(() => {
  if (peer === undefined) return
  let changed = false
  for (const r of peer.peers()) {
    const ms = peer.rtt(r.peerId)
    if (ms !== undefined && ms !== latency.get(r.peerId)) { latency.set(r.peerId, ms); changed = true }
  }
  if (changed) renderPeers()
}, 1000)

$('add-peer').addEventListener('submit', (ev) => {
  ev.preventDefault()
  void guarded(async () => {
    if (peer === undefined) throw Object.assign(new Error('Sign in first'), { name: 'NotStartedError' })
    // the addresses to try: several may be pasted (space-separated); the peer's own address
    // list when it is the one this dashboard is served by. WebTransport first, then
    // WebRTC-Direct, then WebSockets.
    const typed = ($('peer-addr') as HTMLInputElement).value.trim().split(/\s+/).filter((a) => a !== '')
    const ids = new Set(typed.map((a) => a.slice(a.lastIndexOf('/p2p/') + 5)))
    const served = (host.peer ?? []).filter((a) => ids.has(a.slice(a.lastIndexOf('/p2p/') + 5)))
    const candidates = [...new Set([...typed, ...served])]
    const status = $('connect-status')
    status.hidden = false
    status.textContent = `connecting (${orderByTransport(candidates).map(transportOfAddr).join(', then ')})…`
    const { remote, transport, failed } = await peer.connectFirst(candidates, { signal: AbortSignal.timeout(30_000) })
    status.dataset['transport'] = transport
    status.textContent = `connected to ${short(remote.ss58)} over ${transport}` +
      (failed.length === 0 ? '' : ` (${failed.map((f) => `${f.transport} failed: ${f.error.message}`).join('; ')})`)
    renderPeers()
    for (const id of ['send-to', 'rpc-to']) ($(id) as HTMLSelectElement).value = remote.ss58
  })
})

// --- send -------------------------------------------------------------------

async function send (file: File): Promise<void> {
  if (peer === undefined) throw Object.assign(new Error('Sign in first'), { name: 'NotStartedError' })
  const to = ($('send-to') as HTMLSelectElement).value
  if (to === '') throw Object.assign(new Error('Connect to a peer first'), { name: 'InvalidDestinationError' })
  sending = new AbortController()
  $('send-progress').hidden = false
  $('send-result').hidden = true
  $('send-status').textContent = `starting ${file.name}`
  $('send-bar').style.width = '0%'
  $('send-cancel').hidden = false
  try {
    const result = await peer.sendFile(to, file, {
      signal: sending.signal,
      onProgress: (e) => {
        $('send-status').textContent = progressText(e)
        if (e.type === 'transfer:bytes') $('send-bar').style.width = `${(100 * e.detail.bytes / Math.max(1, e.detail.total)).toFixed(1)}%`
      }
    })
    $('send-bar').style.width = '100%'
    const res = $('send-result')
    res.hidden = false
    res.dataset['blake3'] = result.blake3
    res.textContent = `${result.name} delivered (${bytes(result.size)}${result.resumedFrom > 0 ? `, resumed from ${bytes(result.resumedFrom)}` : ''}) in ${(result.ms / 1000).toFixed(1)} s. BLAKE3 ${result.blake3}`
    $('send-status').textContent = 'done'
  } finally {
    sending = undefined
    $('send-cancel').hidden = true
  }
}

$('file-input').addEventListener('change', () => {
  const file = ($('file-input') as HTMLInputElement).files?.[0]
  if (file !== undefined) void guarded(async () => { await send(file) })
  ;($('file-input') as HTMLInputElement).value = ''
})
const drop = $('drop')
drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over') })
drop.addEventListener('dragleave', () => { drop.classList.remove('over') })
drop.addEventListener('drop', (ev) => {
  ev.preventDefault()
  drop.classList.remove('over')
  const file = ev.dataTransfer?.files[0]
  if (file !== undefined) void guarded(async () => { await send(file) })
})
$('send-cancel').addEventListener('click', () => { sending?.abort() })

// --- inbox ------------------------------------------------------------------

const receivingRows = new Map<string, string>()
function receiving (id: string, text: string | undefined): void {
  if (text === undefined) receivingRows.delete(id)
  else receivingRows.set(id, text)
  $('receiving').replaceChildren(...[...receivingRows.values()].map((t) => Object.assign(document.createElement('div'), { textContent: t })))
}

async function renderInbox (): Promise<void> {
  const store = peer?.files as OpfsFileStore | undefined
  if (store === undefined) return
  const hashes = JSON.parse(localStorage.getItem(HASHES_KEY) ?? '{}') as Record<string, string>
  const files: InboxFile[] = await store.list()
  $('inbox-list').replaceChildren(...files.map((f) => {
    const tr = document.createElement('tr')
    tr.dataset['path'] = f.path
    tr.dataset['blake3'] = hashes[f.path] ?? ''
    const cells = [f.name, short(f.sender), bytes(f.size), hashes[f.path] === undefined ? '' : short(hashes[f.path] ?? '')]
    for (const c of cells) tr.append(Object.assign(document.createElement('td'), { textContent: c }))
    const td = document.createElement('td')
    const a = document.createElement('a')
    a.textContent = 'download'
    a.href = '#'
    a.addEventListener('click', (ev) => {
      ev.preventDefault()
      void guarded(async () => {
        const file = await store.file(f.path)
        const url = URL.createObjectURL(file) // disk-backed: not read into memory
        const link = Object.assign(document.createElement('a'), { href: url, download: f.name })
        link.click()
        setTimeout(() => { URL.revokeObjectURL(url) }, 60_000)
      })
    })
    td.append(a)
    tr.append(td)
    return tr
  }))
}

// --- RPC --------------------------------------------------------------------

$('rpc-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  void guarded(async () => {
    if (peer === undefined) throw Object.assign(new Error('Sign in first'), { name: 'NotStartedError' })
    const to = ($('rpc-to') as HTMLSelectElement).value
    let body: unknown
    try {
      body = JSON.parse(($('rpc-body') as HTMLTextAreaElement).value)
    } catch (err) {
      throw Object.assign(new Error(`The body is not valid JSON: ${(err as Error).message}`), { name: 'InvalidJsonError' })
    }
    const started = performance.now()
    const reply = await peer.request(to, ($('rpc-type') as HTMLInputElement).value.trim(), body)
    const ms = performance.now() - started
    $('rpc-reply').textContent = `${JSON.stringify(reply, null, 2)}\n\n(${ms.toFixed(1)} ms)`
  })
})

// --- outbox -----------------------------------------------------------------

let outboxTimer: ReturnType<typeof setTimeout> | undefined
const outboxProgress = new Map<string, number>()

function scheduleOutbox (): void {
  outboxTimer ??= setTimeout(() => { outboxTimer = undefined; void renderOutbox() }, 100)
}

async function renderOutbox (): Promise<void> {
  const outbox = peer?.outbox
  if (outbox === undefined) return
  const items = [...await outbox.list(), ...await outbox.dead()]
  const now = Date.now()
  const rows = items.map((i) => {
    const tr = document.createElement('tr')
    tr.dataset['id'] = i.id
    tr.dataset['state'] = i.state
    tr.dataset['attempts'] = String(i.attempts)
    const next = i.state === 'dead' ? 'dead-lettered' : i.nextAttemptAt <= now ? 'now' : `in ${Math.ceil((i.nextAttemptAt - now) / 1000)} s`
    const progress = outboxProgress.get(i.id)
    const cells = [short(i.dest), i.kind, i.label, `${bytes(i.size)}${progress === undefined ? '' : ` (${bytes(progress)} sent)`}`, String(i.attempts), next, i.lastError === undefined ? '' : `${i.lastError.name}: ${i.lastError.message}`]
    for (const text of cells) {
      const td = document.createElement('td')
      td.textContent = text
      tr.append(td)
    }
    const td = document.createElement('td')
    for (const [label, action] of [['Retry', async () => { await outbox.retry(i.id) }], ['Drop', async () => { await outbox.drop(i.id) }]] as const) {
      const b = document.createElement('button')
      b.className = 'secondary'
      b.textContent = label
      b.dataset['testid'] = `outbox-${label.toLowerCase()}`
      b.addEventListener('click', () => { void guarded(async () => { await action(); await renderOutbox() }) })
      td.append(b)
    }
    tr.append(td)
    return tr
  })
  $('outbox-list').replaceChildren(...rows)
  document.body.dataset['outbox'] = String(items.length)
}

setInterval(() => { if (peer?.outbox !== undefined) scheduleOutbox() }, 1000)
$('queue-form').addEventListener('submit', (ev) => { ev.preventDefault() })

$('queue-file').addEventListener('change', () => {
  const input = $('queue-file') as HTMLInputElement
  const file = input.files?.[0]
  input.value = ''
  if (file === undefined) return
  void guarded(async () => {
    if (peer === undefined) throw Object.assign(new Error('Sign in first'), { name: 'NotStartedError' })
    const dest = ($('queue-dest') as HTMLInputElement).value.trim()
    $('queue-status').textContent = `queueing ${file.name}: hashing and storing it in this browser…`
    const { id } = await peer.sendFile(dest, file, {
      queue: true,
      onProgress: (e) => { $('queue-status').textContent = `queueing ${file.name}: ${progressText(e)}` }
    })
    $('queue-status').textContent = `queued ${file.name} (${id})`
    await renderOutbox()
  })
})

// --- start ------------------------------------------------------------------

async function loadHost (): Promise<void> {
  try {
    const res = await fetch('/subwire.json', { cache: 'no-store' })
    if (res.ok) host = await res.json() as HostConfig
  } catch {}
  const fromUrl = new URLSearchParams(location.search).get('peer')
  if (fromUrl !== null) host.peer = [fromUrl, ...(host.peer ?? [])]
  if (host.peer?.[0] !== undefined) ($('peer-addr') as HTMLInputElement).value = host.peer[0]
  document.body.dataset['ready'] = 'true'
}

void loadHost()
