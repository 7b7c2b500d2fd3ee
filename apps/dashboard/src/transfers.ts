/**
 * The transfer list: every file and folder in and out, with its state, progress, rate, ETA
 * and a rate sparkline, and Cancel / Retry; a folder also shows each of its files' progress.
 * Outgoing transfers are sent one after another; an offer waiting for the receiver's
 * consent reads "waiting for the receiver". The list (and
 * the files being sent, in IndexedDB) survives a reload: a file that was moving when the
 * page went away is paused, and Resume (like Retry) sends it again from what the receiver
 * verified.
 */
import { asError, bytes, button, el, explain, short } from './ui.ts'
import { BlobFileSource } from '@subwire/peer-web'
import type { PickedFile, PickedFolder } from './picking.ts'
import { createManifest } from '@subwire/shared'
import type { WebPeer } from '@subwire/peer-web'
import type { FileManifest, FileOffer, FolderProgressEvent, TransferProgressEvent } from '@subwire/shared'

export type TransferState = 'waiting' | 'asking' | 'hashing' | 'offered' | 'sending' | 'receiving' | 'paused' | 'verifying' | 'done' | 'failed' | 'cancelled' | 'declined'

export interface Transfer {
  id: string
  dir: 'out' | 'in'
  /** The other side's hotkey. */
  peer: string
  name: string
  size: number
  state: TransferState
  /** Bytes sent or received (what the receiver verified, after a resume). */
  bytes: number
  /** Bytes hashed, while an outgoing file is hashed. */
  hashed?: number
  rate: number
  samples: number[]
  error?: { name: string, message: string }
  blake3?: string
  resumedFrom?: number
  bytesSent?: number
  /** Set for a folder: one transfer of several files. */
  kind?: 'folder'
  /** A folder's files with their progress (paths inside the folder). */
  files?: Array<{ path: string, size: number, bytes: number }>
  /** A folder's file count (known before its list, for an incoming offer). */
  fileCount?: number
}

const LIST_KEY = 'subwire.transfers'
const ACCEPT_KEY = 'subwire.alwaysAccept'
const SAMPLES = 30
/** How long an offer waits for the user's answer before it is declined. */
const CONSENT_MS = 5 * 60_000
const ACTIVE: TransferState[] = ['hashing', 'offered', 'sending', 'verifying']

/** Files being sent and their manifests, kept in IndexedDB so Resume works after a reload without hashing again. */
class KeptFiles {
  #db: Promise<IDBDatabase> | undefined
  #open (): Promise<IDBDatabase> {
    this.#db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open('subwire-dashboard', 1)
      req.onupgradeneeded = () => { req.result.createObjectStore('files') }
      req.onsuccess = () => { resolve(req.result) }
      req.onerror = () => { reject(req.error ?? new Error('IndexedDB failed')) }
    })
    return this.#db
  }

  async #run<T> (mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<T> {
    const db = await this.#open()
    return await new Promise<T>((resolve, reject) => {
      const req = fn(db.transaction('files', mode).objectStore('files'))
      req.onsuccess = () => { resolve(req.result as T) }
      req.onerror = () => { reject(req.error ?? new Error('IndexedDB failed')) }
    })
  }

  async put (id: string, file: File | PickedFile[]): Promise<void> { await this.#run('readwrite', (s) => s.put(file, id)) }
  async get (id: string): Promise<File | PickedFile[] | undefined> { return await this.#run<File | PickedFile[] | undefined>('readonly', (s) => s.get(id)) }
  async delete (id: string): Promise<void> {
    await this.#run('readwrite', (s) => s.delete(id))
    await this.#run('readwrite', (s) => s.delete(`manifest:${id}`))
  }

  async putManifest (m: FileManifest): Promise<void> { await this.#run('readwrite', (s) => s.put(m, `manifest:${m.id}`)) }
  async getManifest (id: string): Promise<FileManifest | undefined> { return await this.#run<FileManifest | undefined>('readonly', (s) => s.get(`manifest:${id}`)) }
}

export class Transfers {
  readonly #list: Transfer[]
  readonly #root: HTMLElement
  readonly #kept = new KeptFiles()
  readonly #files = new Map<string, File | PickedFile[]>()
  /** The manifest of each file being sent, so a Resume offers the same one without hashing again. */
  readonly #manifests = new Map<string, FileManifest>()
  readonly #controllers = new Map<string, AbortController>()
  readonly #why = new Map<string, 'pause' | 'cancel'>()
  readonly #asking = new Map<string, (accept: boolean) => void>()
  readonly #onChange: (t: Transfer) => void
  #peer: WebPeer | undefined
  #busy = false
  #renderTimer: ReturnType<typeof setTimeout> | undefined

  constructor (root: HTMLElement, onChange: (t: Transfer) => void) {
    this.#root = root
    this.#onChange = onChange
    this.#list = (JSON.parse(localStorage.getItem(LIST_KEY) ?? '[]') as Transfer[]).map((t) => {
      // what was moving when the page went away is now paused (outgoing) or failed (incoming)
      if (t.dir === 'out' && (ACTIVE.includes(t.state) || t.state === 'waiting')) return { ...t, state: 'paused' as const, rate: 0 }
      if (t.dir === 'in' && (t.state === 'receiving' || t.state === 'asking')) return { ...t, state: 'failed' as const, rate: 0, error: { name: 'ConnectionLostError', message: 'the page was reloaded' } }
      return t
    })
    this.render()
  }

  get all (): readonly Transfer[] { return this.#list }

  /** Uses `peer` from now on (after sign-in). */
  attach (peer: WebPeer): void {
    this.#peer = peer
    peer.on('file:accepted', (o) => { this.#incoming(o, 'receiving') })
    peer.on('file:progress', (e) => { this.#progress(e.detail.id, e, 'receiving') })
    peer.on('file:received', (f) => {
      const t = this.#find(f.id)
      if (t === undefined) return
      Object.assign(t, { state: 'done', bytes: t.size, rate: 0, blake3: f.blake3, resumedFrom: f.resumedFrom })
      this.#changed(t)
    })
    peer.on('folder:accepted', (o) => { this.#incoming(o, 'receiving') })
    peer.on('folder:progress', (e) => { this.#folderProgress(e.detail.id, e, 'receiving') })
    peer.on('folder:received', (f) => {
      const t = this.#find(f.id)
      if (t === undefined) return
      Object.assign(t, { state: 'done', bytes: t.size, rate: 0, blake3: f.blake3, files: f.entries.map((e) => ({ path: e.path, size: e.size, bytes: e.size })) })
      this.#changed(t)
    })
    peer.on('folder:failed', (f) => {
      const t = f.id === undefined ? undefined : this.#find(f.id)
      if (t === undefined || t.state === 'declined' || t.state === 'cancelled') return
      Object.assign(t, { state: 'failed', rate: 0, error: { name: f.error.name, message: f.error.message } })
      this.#changed(t)
    })
    peer.on('file:failed', (f) => {
      const t = f.id === undefined ? undefined : this.#find(f.id)
      if (t === undefined || t.state === 'declined' || t.state === 'cancelled') return
      Object.assign(t, { state: 'failed', rate: 0, error: { name: f.error.name, message: f.error.message } })
      this.#changed(t)
    })
    this.#pump()
  }

  /** The consent hook: asks in the list unless the sender is always accepted. */
  async consent (offer: FileOffer, ask: boolean): Promise<void> {
    if (!ask || this.alwaysAccepted().includes(offer.from.ss58)) return
    const t = this.#incoming(offer, 'asking')
    const accepted = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { resolve(false) }, CONSENT_MS)
      this.#asking.set(t.id, (a) => { clearTimeout(timer); resolve(a) })
    })
    this.#asking.delete(t.id)
    if (!accepted) {
      Object.assign(t, { state: 'declined', error: { name: 'FileRefusedError', message: 'You declined it' } })
      this.#changed(t)
      throw new Error('The receiver declined the file')
    }
    t.state = 'receiving'
    this.#changed(t)
  }

  alwaysAccepted (): string[] { return JSON.parse(localStorage.getItem(ACCEPT_KEY) ?? '[]') as string[] }

  /** Adds a folder (or several dropped files) to send to `to` as one transfer. */
  async addFolder (to: string, folder: PickedFolder): Promise<void> {
    const size = folder.files.reduce((n, f) => n + f.file.size, 0)
    const t: Transfer = {
      id: crypto.randomUUID(), dir: 'out', peer: to, name: folder.name, size, state: 'waiting', bytes: 0, rate: 0, samples: [],
      kind: 'folder', fileCount: folder.files.length, files: folder.files.map((f) => ({ path: f.path, size: f.file.size, bytes: 0 }))
    }
    this.#files.set(t.id, folder.files)
    this.#list.unshift(t)
    this.#changed(t)
    await this.#kept.put(t.id, folder.files).catch(() => {}) // without IndexedDB, Resume works until a reload
    this.#pump()
  }

  /** Adds files to send to `to`; each is its own transfer. */
  async add (to: string, files: File[]): Promise<void> {
    for (const file of files) {
      const t: Transfer = { id: crypto.randomUUID(), dir: 'out', peer: to, name: file.name, size: file.size, state: 'waiting', bytes: 0, rate: 0, samples: [] }
      this.#files.set(t.id, file)
      this.#list.unshift(t)
      this.#changed(t)
      await this.#kept.put(t.id, file).catch(() => {}) // without IndexedDB, Resume works until a reload
    }
    this.#pump()
  }

  cancel (id: string): void {
    const t = this.#find(id)
    if (t?.dir === 'in') {
      this.#peer?.cancelTransfer(id, 'cancelled by the receiver')
      Object.assign(t, { state: 'cancelled', rate: 0 })
      this.#changed(t)
      return
    }
    this.#stop(id, 'cancel')
  }

  /** Stops sending; the receiver keeps what it verified, and Resume continues from there. */
  pause (id: string): void {
    const t = this.#find(id)
    if (t?.dir === 'out') this.#stop(id, 'pause')
  }

  /** Resume (a paused file) and Retry (a failed one) both send again from the receiver's verified offset. */
  resume (id: string): void {
    const t = this.#find(id)
    if (t === undefined || t.dir !== 'out') return
    Object.assign(t, { state: 'waiting', rate: 0 })
    delete t.error
    this.#changed(t)
    this.#pump()
  }

  answer (id: string, accept: boolean, always: boolean): void {
    const t = this.#find(id)
    if (accept && always && t !== undefined && !this.alwaysAccepted().includes(t.peer)) {
      localStorage.setItem(ACCEPT_KEY, JSON.stringify([...this.alwaysAccepted(), t.peer]))
    }
    this.#asking.get(id)?.(accept)
  }

  remove (id: string): void {
    const i = this.#list.findIndex((t) => t.id === id)
    if (i >= 0) this.#list.splice(i, 1)
    this.#files.delete(id)
    this.#manifests.delete(id)
    void this.#kept.delete(id).catch(() => {})
    this.#save()
    this.render()
  }

  #stop (id: string, why: 'pause' | 'cancel'): void {
    const t = this.#find(id)
    if (t === undefined) return
    const c = this.#controllers.get(id)
    if (c !== undefined) { this.#why.set(id, why); c.abort(); return }
    t.state = why === 'pause' ? 'paused' : 'cancelled'
    this.#changed(t)
  }

  #find (id: string): Transfer | undefined { return this.#list.find((t) => t.id === id) }

  #incoming (o: FileOffer, state: TransferState): Transfer {
    let t = this.#find(o.id)
    if (t === undefined) {
      t = { id: o.id, dir: 'in', peer: o.from.ss58, name: o.name, size: o.size, state, bytes: 0, rate: 0, samples: [], ...(o.files === undefined ? {} : { kind: 'folder' as const, fileCount: o.files, files: [] }) }
      this.#list.unshift(t)
    } else if (t.state !== 'declined') {
      t.state = state
    }
    this.#changed(t)
    return t
  }

  #progress (id: string, e: TransferProgressEvent, moving: TransferState): void {
    const t = this.#find(id)
    if (t === undefined || t.state === 'declined' || t.state === 'cancelled') return
    const { bytes: done, total, rate } = e.detail
    if (e.type === 'transfer:hashing') {
      // hashed whole: the offer goes out and waits for the receiver's answer (its consent)
      Object.assign(t, { state: done >= total ? 'offered' : 'hashing', hashed: done, rate })
    } else {
      Object.assign(t, { state: done >= total && t.dir === 'out' ? 'verifying' : moving, bytes: done, rate })
      t.samples = [...t.samples, rate].slice(-SAMPLES)
    }
    this.#changed(t, true)
  }

  /** A folder's progress: the total, and the file the event is about. */
  #folderProgress (id: string, e: FolderProgressEvent, moving: TransferState): void {
    const t = this.#find(id)
    if (t === undefined || t.state === 'declined' || t.state === 'cancelled') return
    const { bytes: done, total, rate, file } = e.detail
    if (e.type === 'folder:hashing') {
      Object.assign(t, { state: done >= total ? 'offered' : 'hashing', hashed: done, rate })
    } else {
      Object.assign(t, { state: done >= total && t.dir === 'out' ? 'verifying' : moving, bytes: done, rate })
      t.samples = [...t.samples, rate].slice(-SAMPLES)
      t.files ??= []
      const f = t.files[file.index] ?? (t.files[file.index] = { path: file.path, size: file.total, bytes: 0 })
      f.bytes = file.bytes
      // an earlier file the events skipped (resumed whole) is done once a later one moves
      for (let i = 0; i < file.index; i++) { const g = t.files[i]; if (g !== undefined) g.bytes = g.size }
    }
    this.#changed(t, true)
  }

  #pump (): void {
    if (this.#busy || this.#peer === undefined) return
    const next = [...this.#list].reverse().find((t) => t.dir === 'out' && t.state === 'waiting')
    if (next === undefined) return
    this.#busy = true
    void this.#send(next).finally(() => { this.#busy = false; this.#pump() })
  }

  async #send (t: Transfer): Promise<void> {
    const peer = this.#peer
    if (peer === undefined) return
    const file = this.#files.get(t.id) ?? await this.#kept.get(t.id).catch(() => undefined)
    if (Array.isArray(file)) { await this.#sendFolder(t, file); return }
    if (file === undefined) {
      Object.assign(t, { state: 'failed', error: { name: 'SourceMissingError', message: 'the file is no longer in this browser: add it again' } })
      this.#changed(t)
      return
    }
    this.#files.set(t.id, file)
    const controller = new AbortController()
    this.#controllers.set(t.id, controller)
    Object.assign(t, { state: 'hashing', rate: 0 })
    this.#changed(t)
    try {
      const onProgress = (e: TransferProgressEvent): void => { this.#progress(t.id, e, 'sending') }
      const manifest = await this.#manifest(t, file, controller.signal, onProgress)
      Object.assign(t, { state: 'offered' })
      this.#changed(t)
      // the same manifest and transfer id each time: the receiver sees one transfer, paused
      // and resumed, and continues after the chunks it verified
      const result = await peer.sendFile(t.peer, file, { id: t.id, manifest, signal: controller.signal, onProgress })
      Object.assign(t, { state: 'done', bytes: t.size, rate: 0, blake3: result.blake3, resumedFrom: result.resumedFrom, bytesSent: result.bytesSent })
      this.#files.delete(t.id)
      this.#manifests.delete(t.id)
      void this.#kept.delete(t.id).catch(() => {})
    } catch (err) {
      const why = this.#why.get(t.id)
      this.#why.delete(t.id)
      // the user's own Pause or Cancel is a state, not a failure
      if (why === 'pause') Object.assign(t, { state: 'paused', rate: 0 })
      else if (why === 'cancel') Object.assign(t, { state: 'cancelled', rate: 0 })
      else { const e = asError(err); Object.assign(t, { state: e.name === 'FileRefusedError' ? 'declined' : 'failed', rate: 0, error: { name: e.name, message: e.message } }) }
    } finally {
      this.#controllers.delete(t.id)
    }
    this.#changed(t)
  }

  /** Sends a folder as one transfer (hashed again on each attempt; the receiver resumes from what it verified). */
  async #sendFolder (t: Transfer, files: PickedFile[]): Promise<void> {
    const peer = this.#peer
    if (peer === undefined) return
    this.#files.set(t.id, files)
    const controller = new AbortController()
    this.#controllers.set(t.id, controller)
    Object.assign(t, { state: 'hashing', rate: 0 })
    this.#changed(t)
    try {
      const result = await peer.sendFolder(t.peer, { name: t.name, files: files.map((f) => ({ file: f.file, path: f.path })) }, {
        id: t.id,
        signal: controller.signal,
        onProgress: (e) => { this.#folderProgress(t.id, e, 'sending') }
      })
      Object.assign(t, { state: 'done', bytes: t.size, rate: 0, blake3: result.blake3, resumedFrom: result.resumedFrom, bytesSent: result.bytesSent })
      for (const f of t.files ?? []) f.bytes = f.size
      this.#files.delete(t.id)
      void this.#kept.delete(t.id).catch(() => {})
    } catch (err) {
      this.#failed(t, err)
    } finally {
      this.#controllers.delete(t.id)
    }
    this.#changed(t)
  }

  /** How a send ended short: the user's own Pause or Cancel is a state, not a failure. */
  #failed (t: Transfer, err: unknown): void {
    const why = this.#why.get(t.id)
    this.#why.delete(t.id)
    if (why === 'pause') Object.assign(t, { state: 'paused', rate: 0 })
    else if (why === 'cancel') Object.assign(t, { state: 'cancelled', rate: 0 })
    else { const e = asError(err); Object.assign(t, { state: e.name === 'FileRefusedError' ? 'declined' : 'failed', rate: 0, error: { name: e.name, message: e.message } }) }
  }

  /** The file's manifest: kept from an earlier attempt, or hashed now (and kept). */
  async #manifest (t: Transfer, file: File, signal: AbortSignal, onProgress: (e: TransferProgressEvent) => void): Promise<FileManifest> {
    const kept = this.#manifests.get(t.id) ?? await this.#kept.getManifest(t.id).catch(() => undefined)
    if (kept !== undefined && kept.size === file.size) return kept
    const manifest = await createManifest(new BlobFileSource(file), { id: t.id, signal, onProgress })
    this.#manifests.set(t.id, manifest)
    await this.#kept.putManifest(manifest).catch(() => {}) // without IndexedDB, a Resume after a reload hashes again
    return manifest
  }

  #changed (t: Transfer, throttle = false): void {
    this.#onChange(t)
    if (!throttle) { this.#save(); this.render(); return }
    this.#renderTimer ??= setTimeout(() => { this.#renderTimer = undefined; this.#save(); this.render() }, 150)
  }

  #save (): void {
    localStorage.setItem(LIST_KEY, JSON.stringify(this.#list.slice(0, 200)))
  }

  render (): void {
    document.getElementById('transfers-empty')?.toggleAttribute('hidden', this.#list.length > 0)
    this.#root.replaceChildren(...this.#list.map((t) => this.#row(t)))
  }

  #row (t: Transfer): HTMLElement {
    const li = el('li')
    Object.assign(li.dataset, { id: t.id, dir: t.dir, state: t.state, name: t.name, peer: t.peer, bytes: String(t.bytes), blake3: t.blake3 ?? '', resumedFrom: String(t.resumedFrom ?? ''), bytesSent: String(t.bytesSent ?? '') })
    const pct = t.size === 0 ? (t.state === 'done' ? 100 : 0) : 100 * t.bytes / t.size
    li.dataset['progress'] = pct.toFixed(1)
    // while hashing, the bar shows the hashing pass (data-progress stays what was sent)
    const barPct = t.state === 'hashing' && t.size > 0 ? 100 * (t.hashed ?? 0) / t.size : pct
    const arrow = t.dir === 'out' ? `to ${short(t.peer)}` : `from ${short(t.peer)}`
    const who = el('div', { className: 'who', title: t.peer }, `${t.dir === 'out' ? '↑' : '↓'} ${arrow} · `, el('span', { className: 'mono' }, t.peer))
    const amount = t.state === 'hashing' ? `${bytes(t.hashed ?? 0)} of ${bytes(t.size)} hashed` : `${bytes(t.bytes)} of ${bytes(t.size)}`
    const stats = el('div', { className: 'stats' }, el('span', { className: `state state-${t.state}` }, LABEL[t.state]), ` · ${amount}`)
    if (t.state === 'sending' || t.state === 'receiving') {
      const eta = t.rate > 0 ? Math.ceil((t.size - t.bytes) / t.rate) : Infinity
      stats.append(` · ${(t.rate / 1e6).toFixed(1)} MB/s · ETA ${Number.isFinite(eta) ? `${eta} s` : '…'} `, sparkline(t.samples))
    }
    if (t.state === 'done' && t.resumedFrom !== undefined && t.resumedFrom > 0) stats.append(` · resumed from ${bytes(t.resumedFrom)}`)
    if (t.blake3 !== undefined) stats.append(` · BLAKE3 ${short(t.blake3)}`)
    const title = t.kind === 'folder' ? `${t.name}/ (${t.fileCount ?? t.files?.length ?? 0} files)` : t.name
    const info = el('div', {}, el('div', { className: 'what' }, title), who, stats)
    const bar = el('div', { className: 'bar' }, el('div', { className: 'fill' }))
    bar.setAttribute('role', 'progressbar')
    bar.setAttribute('aria-label', `${t.name} progress`)
    bar.setAttribute('aria-valuenow', barPct.toFixed(0))
    ;(bar.firstChild as HTMLElement).style.width = `${barPct.toFixed(1)}%`
    li.append(info, el('div', { className: 'actions' }, ...this.#actions(t)), bar)
    if (t.kind === 'folder') {
      li.dataset['kind'] = 'folder'
      li.dataset['files'] = String(t.fileCount ?? t.files?.length ?? 0)
      li.dataset['filesDone'] = String((t.files ?? []).filter((f) => f.bytes >= f.size).length)
      if ((t.files ?? []).length > 0) li.append(this.#fileList(t))
    }
    if (t.error !== undefined && t.state !== 'cancelled') {
      const reason = el('div', { className: 'reason' }, t.state === 'declined' && t.dir === 'in' ? 'You declined it.' : explain('transfers', t.error), ' ')
      const details = el('details', {}, el('summary', { textContent: 'Technical detail' }), el('code', { textContent: `${t.error.name}: ${t.error.message}` }))
      reason.append(details)
      li.append(reason)
    }
    return li
  }

  /** A folder's files, each with its own progress bar (the first 200). */
  #fileList (t: Transfer): HTMLElement {
    const done = (t.files ?? []).filter((f) => f.bytes >= f.size).length
    const list = el('ul', { className: 'files' })
    for (const f of (t.files ?? []).slice(0, 200)) {
      if (f === undefined || f === null) continue
      const pct = f.size === 0 ? (f.bytes >= f.size && t.state === 'done' ? 100 : 0) : 100 * f.bytes / f.size
      const bar = el('div', { className: 'bar small' }, el('div', { className: 'fill' }))
      bar.setAttribute('role', 'progressbar')
      bar.setAttribute('aria-label', `${f.path} progress`)
      bar.setAttribute('aria-valuenow', pct.toFixed(0))
      ;(bar.firstChild as HTMLElement).style.width = `${pct.toFixed(1)}%`
      const item = el('li', {}, el('span', { className: 'mono' }, f.path), ` ${bytes(f.size)} `, bar)
      Object.assign(item.dataset, { path: f.path, progress: pct.toFixed(1) })
      list.append(item)
    }
    const details = el('details', {}, el('summary', { textContent: `${done} of ${t.fileCount ?? t.files?.length ?? 0} files` }), list)
    details.dataset['testid'] = 'folder-files'
    return details
  }

  #actions (t: Transfer): HTMLElement[] {
    const out: HTMLElement[] = []
    if (t.state === 'asking') {
      const always = el('input', { type: 'checkbox' })
      always.dataset['testid'] = 'always-accept'
      out.push(button('Accept', 'accept', () => { this.answer(t.id, true, always.checked) }, ''),
        button('Decline', 'decline', () => { this.answer(t.id, false, false) }),
        el('label', { className: 'check' }, always, 'always accept from this hotkey'))
      return out
    }
    if (t.dir === 'out' && (t.state === 'sending' || t.state === 'hashing' || t.state === 'offered')) out.push(button('Pause', 'pause', () => { this.pause(t.id) }, 'small'))
    if (t.dir === 'out' && t.state === 'paused') out.push(button('Resume', 'resume', () => { this.resume(t.id) }, 'small'))
    if (t.dir === 'out' && (t.state === 'failed' || t.state === 'cancelled' || t.state === 'declined')) out.push(button('Retry', 'retry', () => { this.resume(t.id) }, 'small'))
    if (ACTIVE.includes(t.state) || ['waiting', 'paused', 'receiving'].includes(t.state)) out.push(button('Cancel', 'cancel', () => { this.cancel(t.id) }))
    if (['done', 'failed', 'cancelled', 'declined'].includes(t.state)) out.push(button('Remove', 'remove', () => { this.remove(t.id) }))
    for (const b of out) b.setAttribute('aria-label', `${(b.textContent ?? '')} ${t.name}`)
    return out
  }
}

const LABEL: Record<TransferState, string> = {
  waiting: 'waiting',
  asking: 'asks for your consent',
  hashing: 'hashing',
  offered: 'waiting for the receiver',
  sending: 'sending',
  receiving: 'receiving',
  paused: 'paused',
  verifying: 'verifying',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
  declined: 'declined'
}

function sparkline (samples: number[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('width', '60')
  svg.setAttribute('height', '14')
  svg.setAttribute('class', 'spark')
  svg.setAttribute('aria-hidden', 'true')
  const max = Math.max(1, ...samples)
  const pts = samples.map((s, i) => `${(60 * i / Math.max(1, SAMPLES - 1)).toFixed(1)},${(13 - 12 * s / max).toFixed(1)}`).join(' ')
  const line = document.createElementNS(ns, 'polyline')
  line.setAttribute('points', pts)
  line.setAttribute('fill', 'none')
  line.setAttribute('stroke', '#2da44e')
  line.setAttribute('stroke-width', '1.5')
  svg.append(line)
  return svg
}
