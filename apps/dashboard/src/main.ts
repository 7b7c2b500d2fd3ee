/**
 * The subwire dashboard: a wallet-extension user as a full peer. Sign in with a wallet
 * (or a development key), connect to peers, send many files and receive them with
 * consent, exchange messages and query peers over RPC. Each failure is said once, in the
 * section where it happened, with the technical detail behind a toggle.
 */
import { createWebPeer, devSigner, walletAccounts, walletSigner } from '@subwire/peer-web'
import { isSs58 } from '@subwire/shared'
import { Alerts } from './alerts.ts'
import { browserAddrs, Members } from './members.ts'
import { Messages } from './messages.ts'
import { Settings } from './settings.ts'
import { sharedPeer, showShare } from './share.ts'
import { connectingText, ENCRYPTION, Peers } from './peers.ts'
import { Transfers } from './transfers.ts'
import { folderFromInput, fromDrop, fromPicked } from './picking.ts'
import type { PickedFolder } from './picking.ts'
import type { TransferState } from './transfers.ts'
import { $, bytes, clearNotice, el, guarded, named, parseJson, short, showNotice } from './ui.ts'
import type { InboxFile, OpfsFileStore, WebPeer } from '@subwire/peer-web'
import type { Signer } from '@subwire/shared'

/** What the server that hosts the dashboard may tell it (`npm start` writes it). */
interface HostConfig {
  /** Browser-dialable addresses of the local Node peer. */
  peer?: string[]
  /** Allow loopback/LAN addresses (true when served from 127.0.0.1). */
  allowPrivateAddresses?: boolean
  /** Subnets to use. */
  netuids?: number[]
}

/** How this browser signed in last, so a reload signs in the same way. */
type Session = { kind: 'dev' } | { kind: 'wallet', ss58: string }

const HASHES_KEY = 'subwire.inboxHashes'
const SESSION_KEY = 'subwire.session'
let peer: WebPeer | undefined
let host: HostConfig = {}

const input = (id: string): HTMLInputElement => $<HTMLInputElement>(id)
const needPeer = (): WebPeer => {
  if (peer === undefined) throw named('PeerNotStartedError', 'Sign in first')
  return peer
}

const settings = new Settings(() => { settings.render(); renderPeers() })
const peers = new Peers(() => { renderPeers() }, (addrs) => { void connect(addrs) }, (ss58, addrs) => { showShare(ss58, addrs) }, {
  isBlocked: (ss58) => settings.isBlocked(ss58),
  block: (ss58) => { void guarded('settings', async () => { settings.block(ss58) }) }
})
const members = new Members((m) => { void connect(browserAddrs(m), { expect: m.ss58, found: 'the subnet\'s member list' }) }, (ss58) => settings.isBlocked(ss58))
/** The peer a shared link named (`?hotkey=…&peer=…`). */
const linked = sharedPeer()
const alerts = new Alerts()
/** The state each transfer was last seen in, so a notification comes once per change. */
const lastState = new Map<string, TransferState>()
const MOVING: TransferState[] = ['hashing', 'sending', 'receiving', 'verifying']
const transfers = new Transfers($('transfer-list'), (t) => {
  if (t.state === 'done' && t.dir === 'in') void renderInbox()
  peers.moved(t.peer, transfers.all.filter((x) => x.peer === t.peer).reduce((n, x) => n + x.bytes, 0))
  if (lastState.get(t.id) !== t.state) {
    lastState.set(t.id, t.state)
    if (t.state === 'asking') alerts.notify('A peer asks to send you a file', `${short(t.peer)} wants to send you ${t.name} (${bytes(t.size)})`, `ask:${t.id}`)
    if (t.state === 'done') alerts.notify(t.dir === 'out' ? 'File sent' : 'File received', `${t.name} (${bytes(t.size)}) ${t.dir === 'out' ? 'to' : 'from'} ${short(t.peer)}`, `done:${t.id}`)
  }
  alerts.moving(transfers.all.some((x) => MOVING.includes(x.state)))
})
const messages = new Messages($('message-list'))

function setSignedIn (on: boolean): void {
  for (const e of document.querySelectorAll<HTMLInputElement>('.needs-peer')) e.disabled = !on
  document.body.dataset['signedIn'] = String(on)
  $('me').hidden = !on
  $('signed-in-actions').hidden = !on
}

// --- identity ---------------------------------------------------------------

async function startPeer (signer: Signer, source: string, session: Session): Promise<void> {
  await peer?.stop()
  peers.detach()
  $('identity-status').textContent = session.kind === 'wallet' ? 'Waiting for the wallet to sign…' : 'Signing in…'
  const p = await createWebPeer({
    signer,
    netuids: host.netuids ?? [42],
    allowPrivateAddresses: host.allowPrivateAddresses ?? ['127.0.0.1', 'localhost'].includes(location.hostname),
    protocol: { files: { minFreeBytes: 64 * 1024 * 1024 }, encryption: { ...ENCRYPTION } }
  })
  try {
    await p.start() // the wallet signs the attestation here, once
  } finally {
    $('identity-status').textContent = ''
  }
  peer = p
  ;(globalThis as { subwirePeer?: WebPeer }).subwirePeer = p
  localStorage.setItem(SESSION_KEY, JSON.stringify(session))
  $('my-ss58').textContent = p.ss58
  $('my-peer-id').textContent = p.peerId
  $('my-source').textContent = source
  p.subwire.onFileOffer(async (offer) => { await transfers.consent(offer, input('ask-consent').checked) })
  p.on('message', (m) => { messages.add(m) })
  p.on('file:received', (f) => {
    const hashes = JSON.parse(localStorage.getItem(HASHES_KEY) ?? '{}') as Record<string, string>
    hashes[f.path] = f.blake3
    localStorage.setItem(HASHES_KEY, JSON.stringify(hashes))
  })
  settings.attach(p)
  settings.render()
  peers.attach(p)
  transfers.attach(p)
  for (const ev of ['queue:added', 'queue:attempt', 'queue:retry', 'queue:delivered', 'queue:dead', 'queue:dropped', 'queue:progress'] as const) {
    p.outbox?.on(ev, () => { scheduleOutbox() })
  }
  p.outbox?.on('queue:progress', (e) => { outboxProgress.set(e.id, e.bytes) })
  p.outbox?.on('queue:delivered', ({ item, result }) => {
    $('queue-status').textContent = `delivered ${item.label} to ${short(item.dest)}${result === undefined ? '' : ` (BLAKE3 ${result.blake3})`}`
  })
  setSignedIn(true)
  renderPeers()
  await renderOutbox()
  await renderInbox()
  // reconnect the peers this browser knows (and has not blocked), in the background
  for (const k of peers.known) if (!settings.isBlocked(k.ss58)) void connect(k.addrs, { quiet: true })
}

$('connect-wallet').addEventListener('click', () => {
  void guarded('identity', async () => {
    const accounts = await walletAccounts({ appName: 'subwire dashboard' })
    if (accounts.length === 0) throw named('WalletAccountNotFoundError', 'The wallet has no sr25519 accounts')
    const select = $<HTMLSelectElement>('account')
    select.replaceChildren(...accounts.map((a) => new Option(`${a.name ?? 'account'} (${a.source}) ${a.ss58}`, a.ss58)))
    $('accounts').hidden = false
    select.focus()
  })
})

async function signInWallet (ss58: string): Promise<void> {
  await startPeer(await walletSigner(ss58, { appName: 'subwire dashboard' }), 'wallet extension', { kind: 'wallet', ss58 })
}

$('sign-in').addEventListener('click', () => {
  alerts.ask()
  void guarded('identity', async () => { await signInWallet($<HTMLSelectElement>('account').value) })
})

$('use-dev-key').addEventListener('click', () => {
  alerts.ask()
  void guarded('identity', async () => { await startPeer(devSigner(), 'development key (kept in this browser)', { kind: 'dev' }) })
})

$('sign-out').addEventListener('click', () => {
  void guarded('identity', async () => {
    localStorage.removeItem(SESSION_KEY)
    peers.detach()
    settings.detach()
    await peer?.stop()
    peer = undefined
    setSignedIn(false)
    renderPeers()
  })
})

// --- peers ------------------------------------------------------------------

function renderPeers (): void {
  peers.render($('peer-list'))
  members.render(peer, $('member-list'), $('members-caption'))
  const live = peers.connected()
  for (const id of ['send-to', 'rpc-to', 'message-to']) {
    const select = $<HTMLSelectElement>(id)
    const keep = select.value
    select.replaceChildren(...live.map((ss58) => new Option(short(ss58), ss58)))
    if (live.includes(keep)) select.value = keep
  }
}

setInterval(() => { if (peer !== undefined) renderPeers() }, 2000)

/**
 * Connects to the first reachable of `addrs` (WebTransport, then WebRTC-Direct, then WebSockets).
 * `expect`: the hotkey the addresses were found for (the handshake must prove it), `found`: where.
 */
async function connect (typed: string[], options: { quiet?: boolean, expect?: string, found?: string } = {}): Promise<void> {
  const p = peer
  if (p === undefined) return
  const ids = new Set(typed.map((a) => a.slice(a.lastIndexOf('/p2p/') + 5)))
  const known = peers.known.find((k) => ids.has(k.peerId))
  const expected = options.expect ?? known?.ss58
  if (expected !== undefined && settings.isBlocked(expected)) {
    if (options.quiet !== true) showNotice('peers', named('BlockedPeerError', `${expected} is on this browser's block list`))
    return
  }
  const served = (host.peer ?? []).filter((a) => ids.has(a.slice(a.lastIndexOf('/p2p/') + 5)))
  const candidates = [...new Set([...typed, ...served])]
  const status = $('connect-status')
  if (options.quiet !== true) { status.hidden = false; status.textContent = connectingText(candidates) }
  peers.connecting(expected, true)
  const ok = await guarded('peers', async () => {
    try {
      const { remote, transport, failed } = await p.connectFirst(candidates, { signal: AbortSignal.timeout(30_000) })
      // a link names the hotkey behind its addresses: another one there is not the peer it promised
      if (options.quiet !== true && linked.hotkey !== undefined && linked.addrs.some((a) => candidates.includes(a)) && remote.ss58 !== linked.hotkey) {
        const mismatch = named('PeerMismatchError', `the link names ${linked.hotkey}, but the peer at its addresses is ${remote.ss58}`)
        for (const c of p.libp2p.getConnections()) if (c.remotePeer.toString() === remote.peerId) c.abort(mismatch)
        throw mismatch
      }
      if (options.expect !== undefined && remote.ss58 !== options.expect) {
        const mismatch = named('HotkeyMismatchError', `the addresses found for ${options.expect} lead to ${remote.ss58}`)
        for (const c of p.libp2p.getConnections()) if (c.remotePeer.toString() === remote.peerId) c.abort(mismatch)
        throw mismatch
      }
      peers.remember({ ss58: remote.ss58, peerId: remote.peerId, addrs: candidates })
      status.hidden = false
      status.dataset['transport'] = transport
      status.textContent = `connected to ${short(remote.ss58)} over ${transport}${options.found === undefined ? '' : `, found in ${options.found}`}` +
        (failed.length === 0 ? '' : ` (${failed.map((f) => `${f.transport} failed: ${f.error.message}`).join('; ')})`)
      renderPeers()
      if (options.quiet !== true) for (const id of ['send-to', 'rpc-to', 'message-to']) $<HTMLSelectElement>(id).value = remote.ss58
    } finally {
      peers.connecting(expected, false)
    }
  })
  // a known peer that is offline after a reload is not an error: its row says "disconnected"
  if (!ok && options.quiet === true) { clearNotice('peers'); status.hidden = true }
}

$('add-peer').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const typed = input('peer-addr').value.trim().split(/\s+/).filter((a) => a !== '')
  if (typed.length === 1 && isSs58(typed[0] ?? '')) { void connectByHotkey(typed[0] ?? ''); return }
  void (async () => {
    const valid = await guarded('peers', async () => {
      needPeer()
      if (typed.length === 0 || typed.some((a) => !a.includes('/p2p/'))) throw named('InvalidDestinationError', `not a multiaddr with /p2p/: ${typed.join(' ')}`)
    })
    // connect() says its own failure; inside the guard above, the guard's success would clear it at once
    if (valid) await connect(typed)
  })()
})

/**
 * Finds `ss58` through the connected Node peers (the browser's DHT client asks them for its
 * signed record and verifies it here) and connects to it; the handshake proves the hotkey.
 */
async function connectByHotkey (ss58: string): Promise<void> {
  const status = $('connect-status')
  let addrs: string[] = []
  let source = ''
  const found = await guarded('peers', async () => {
    const p = needPeer()
    if (settings.isBlocked(ss58)) throw named('BlockedPeerError', `${ss58} is on this browser's block list`)
    if (p.peers().some((r) => r.ss58 === ss58)) { addrs = []; return }
    if (p.peers().length === 0) throw named('NoNodePeerError', `no Node peer is connected to look ${ss58} up through`)
    status.hidden = false
    status.textContent = `looking ${short(ss58)} up through the connected Node peers…`
    try {
      const r = await p.resolve(ss58, { signal: AbortSignal.timeout(15_000) })
      source = r.source === 'cache' ? `the ${r.via ?? 'cached'} record (cached)` : r.source === 'dht' ? 'the DHT of the connected Node peers (signed record verified here)' : r.source
      addrs = browserAddrs(r)
      if (addrs.length === 0) throw named('NoBrowserAddressError', `the record of ${ss58} names only ${r.multiaddrs.join(', ') || 'no addresses'}`)
    } catch (err) {
      status.hidden = true
      throw err
    }
  })
  if (!found) return
  if (addrs.length === 0) {
    // connected already: offer it as the destination
    status.hidden = false
    status.textContent = `already connected to ${short(ss58)}`
    for (const id of ['send-to', 'rpc-to', 'message-to']) $<HTMLSelectElement>(id).value = ss58
    return
  }
  await connect(addrs, { expect: ss58, found: source })
}

// --- members ----------------------------------------------------------------

$('members-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const status = $('members-status')
  void guarded('members', async () => {
    const p = needPeer()
    const netuid = Number(input('members-netuid').value)
    if (!Number.isInteger(netuid) || netuid < 0 || netuid > 65535) throw named('InvalidNetuidError', `not a subnet: ${input('members-netuid').value}`)
    if (p.peers().length === 0) throw named('NoNodePeerError', 'no Node peer is connected to ask')
    status.textContent = `asking the connected Node peers for subnet ${netuid}…`
    try {
      await members.load(p, netuid)
    } finally {
      status.textContent = ''
    }
    document.body.dataset['membersOf'] = String(netuid)
    renderPeers()
  })
})

// --- settings ---------------------------------------------------------------

$('block-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  void guarded('settings', async () => {
    needPeer()
    settings.block(input('block-ss58').value)
    input('block-ss58').value = ''
  })
})

$('limit-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  void guarded('settings', async () => {
    needPeer()
    const text = input('limit-mib').value.trim()
    settings.setUploadLimit(text === '' ? 0 : Number(text))
  })
})

// --- send -------------------------------------------------------------------

async function addFiles (files: File[] | PickedFolder | undefined): Promise<void> {
  alerts.ask()
  await guarded('send', async () => {
    needPeer()
    const to = $<HTMLSelectElement>('send-to').value
    if (to === '') throw named('InvalidDestinationError', 'Connect to a peer first')
    if (files === undefined || (Array.isArray(files) ? files : files.files).length === 0) throw named('NoFilesError', 'nothing was dropped')
    if (Array.isArray(files)) await transfers.add(to, files)
    else await transfers.addFolder(to, files)
  })
}

$('choose-files').addEventListener('click', () => { input('file-input').click() })
input('file-input').addEventListener('change', () => {
  // one file is itself; several go as one folder transfer, as when they are dropped
  const picked = fromPicked([...input('file-input').files ?? []])
  input('file-input').value = ''
  void addFiles(picked === undefined ? [] : picked instanceof File ? [picked] : picked)
})
$('choose-folder').addEventListener('click', () => { input('folder-input').click() })
input('folder-input').addEventListener('change', () => {
  const folder = folderFromInput([...input('folder-input').files ?? []])
  input('folder-input').value = ''
  void addFiles(folder)
})
const drop = $('drop')
drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over') })
drop.addEventListener('dragleave', () => { drop.classList.remove('over') })
drop.addEventListener('drop', (ev) => {
  ev.preventDefault()
  drop.classList.remove('over')
  // a single file is itself; several files or a directory go as one folder transfer
  const dropped = fromDrop(ev.dataTransfer)
  void dropped.then(async (d) => { await addFiles(d === undefined ? [] : d instanceof File ? [d] : d) })
})

// --- inbox ------------------------------------------------------------------

async function renderInbox (): Promise<void> {
  const store = peer?.files as OpfsFileStore | undefined
  if (store === undefined) return
  const hashes = JSON.parse(localStorage.getItem(HASHES_KEY) ?? '{}') as Record<string, string>
  const files: InboxFile[] = await store.list()
  $('inbox-list').replaceChildren(...files.map((f) => {
    const tr = el('tr')
    tr.dataset['path'] = f.path
    tr.dataset['blake3'] = hashes[f.path] ?? ''
    for (const c of [f.name, short(f.sender), bytes(f.size), hashes[f.path] === undefined ? '' : short(hashes[f.path] ?? '')]) tr.append(el('td', {}, c))
    const download = el('button', { type: 'button', className: 'secondary small', textContent: 'Download' })
    download.setAttribute('aria-label', `Download ${f.name}`)
    download.addEventListener('click', () => {
      void guarded('inbox', async () => {
        const file = await store.file(f.path)
        const url = URL.createObjectURL(file) // disk-backed: not read into memory
        el('a', { href: url, download: f.name }).click()
        setTimeout(() => { URL.revokeObjectURL(url) }, 60_000)
      })
    })
    tr.append(el('td', {}, download))
    return tr
  }))
}

// --- messages ---------------------------------------------------------------

$('message-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const status = $('message-status')
  status.textContent = 'sending…'
  void guarded('messages', async () => {
    try {
      const p = needPeer()
      const to = $<HTMLSelectElement>('message-to').value
      if (to === '') throw named('InvalidDestinationError', 'Connect to a peer first')
      const payload = parseJson($<HTMLTextAreaElement>('message-payload').value, 'The payload')
      const action = input('message-action').value.trim()
      const id = await p.message(to, action, payload)
      status.textContent = `delivered ${action} to ${short(to)} (acknowledged)`
      status.dataset['messageId'] = id
    } catch (err) {
      status.textContent = ''
      throw err
    }
  })
})

// --- RPC --------------------------------------------------------------------

$('rpc-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const reply = $('rpc-reply')
  reply.textContent = '' // a failed request must not leave the previous answer on screen
  void guarded('rpc', async () => {
    const p = needPeer()
    const to = $<HTMLSelectElement>('rpc-to').value
    if (to === '') throw named('InvalidDestinationError', 'Connect to a peer first')
    const body = parseJson($<HTMLTextAreaElement>('rpc-body').value, 'The body')
    const started = performance.now()
    const answer = await p.request(to, input('rpc-type').value.trim(), body)
    reply.textContent = `${JSON.stringify(answer, null, 2)}\n\n(${(performance.now() - started).toFixed(1)} ms)`
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
  $('outbox-list').replaceChildren(...items.map((i) => {
    const tr = el('tr')
    Object.assign(tr.dataset, { id: i.id, state: i.state, attempts: String(i.attempts) })
    const next = i.state === 'dead' ? 'dead-lettered' : i.nextAttemptAt <= now ? 'now' : `in ${Math.ceil((i.nextAttemptAt - now) / 1000)} s`
    const progress = outboxProgress.get(i.id)
    for (const text of [short(i.dest), i.kind, i.label, `${bytes(i.size)}${progress === undefined ? '' : ` (${bytes(progress)} sent)`}`, String(i.attempts), next, i.lastError === undefined ? '' : `${i.lastError.name}: ${i.lastError.message}`]) tr.append(el('td', {}, text))
    const td = el('td')
    for (const [label, action] of [['Retry', async () => { await outbox.retry(i.id) }], ['Drop', async () => { await outbox.drop(i.id) }]] as const) {
      const b = el('button', { type: 'button', className: 'secondary small', textContent: label })
      b.dataset['testid'] = `outbox-${label.toLowerCase()}`
      b.addEventListener('click', () => { void guarded('outbox', async () => { await action(); await renderOutbox() }) })
      td.append(b)
    }
    tr.append(td)
    return tr
  }))
  document.body.dataset['outbox'] = String(items.length)
}

setInterval(() => { if (peer?.outbox !== undefined) scheduleOutbox() }, 1000)
$('queue-form').addEventListener('submit', (ev) => { ev.preventDefault() })
$('queue-choose').addEventListener('click', () => { input('queue-file').click() })

input('queue-file').addEventListener('change', () => {
  const file = input('queue-file').files?.[0]
  input('queue-file').value = ''
  if (file === undefined) return
  void guarded('outbox', async () => {
    const p = needPeer()
    const dest = input('queue-dest').value.trim()
    $('queue-status').textContent = `queueing ${file.name}: hashing and storing it in this browser…`
    const { id } = await p.sendFile(dest, file, {
      queue: true,
      onProgress: (e) => { $('queue-status').textContent = `queueing ${file.name}: ${e.type === 'transfer:hashing' ? 'hashing' : 'storing'} ${bytes(e.detail.bytes)} of ${bytes(e.detail.total)}` }
    })
    $('queue-status').textContent = `queued ${file.name} (${id})`
    await renderOutbox()
  })
})

// --- start ------------------------------------------------------------------

async function loadHost (): Promise<void> {
  setSignedIn(false)
  try {
    const res = await fetch('/subwire.json', { cache: 'no-store' })
    if (res.ok) host = await res.json() as HostConfig
  } catch {} // served without a Node peer (vite dev): no host config
  if (linked.addrs.length > 0) {
    // a shared link: its peer, all of its addresses, in the box (Connect tries them in turn)
    input('peer-addr').value = linked.addrs.join(' ')
    const note = $('link-peer')
    note.textContent = `From a shared link: ${linked.hotkey ?? 'a peer'}, filled in above. Press Connect once signed in.`
    note.hidden = false
  } else if (host.peer?.[0] !== undefined) {
    input('peer-addr').value = host.peer[0]
  }
  input('limit-mib').value = String(settings.uploadLimit / (1024 * 1024))
  input('members-netuid').value = String(host.netuids?.[0] ?? 42)
  settings.render()
  renderPeers()
  document.body.dataset['ready'] = 'true'
  const session = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null') as Session | null
  if (session !== null) {
    await guarded('identity', async () => {
      if (session.kind === 'dev') await startPeer(devSigner(), 'development key (kept in this browser)', session)
      else await signInWallet(session.ss58)
    })
  }
}

void loadHost()
