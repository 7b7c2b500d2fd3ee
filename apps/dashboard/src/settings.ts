/**
 * Settings kept in this browser's storage and applied to the peer at every sign-in:
 * - the browser's own block list: a blocked hotkey's messages, files and requests are
 *   refused by the engine with `AccessDeniedError`, which reaches the sender (its live
 *   connection is left open for that; a new one to it is refused at the handshake);
 * - an upload limit, paced on peer-web's sending path (`WebPeer.uploads`), shared by every
 *   file sent from this page.
 */
import { isSs58 } from '@subwire/shared'
import { $, bytes, button, el, named } from './ui.ts'
import type { WebPeer } from '@subwire/peer-web'

const BLOCKED_KEY = 'subwire.blocked'
const LIMIT_KEY = 'subwire.uploadLimit'
const MiB = 1024 * 1024

export class Settings {
  #blocked: string[] = JSON.parse(localStorage.getItem(BLOCKED_KEY) ?? '[]') as string[]
  #limit = Number(localStorage.getItem(LIMIT_KEY) ?? '0') || 0
  #peer: WebPeer | undefined
  readonly #onChange: () => void

  constructor (onChange: () => void) { this.#onChange = onChange }

  get blocked (): readonly string[] { return this.#blocked }
  isBlocked (ss58: string): boolean { return this.#blocked.includes(ss58) }
  /** The upload limit in bytes per second (0: none). */
  get uploadLimit (): number { return this.#limit }

  /** Applies the block list and the limit to a peer just started. */
  attach (peer: WebPeer): void {
    this.#peer = peer
    this.#apply()
  }

  detach (): void { this.#peer = undefined }

  block (text: string): void {
    const ss58 = text.trim()
    if (!isSs58(ss58)) throw named('InvalidHotkeyError', `not an SS58 address: "${ss58}"`)
    if (this.#peer !== undefined && ss58 === this.#peer.ss58) throw named('InvalidHotkeyError', 'that is this browser\'s own hotkey')
    if (!this.#blocked.includes(ss58)) this.#blocked = [...this.#blocked, ss58]
    this.#save()
  }

  unblock (ss58: string): void {
    this.#blocked = this.#blocked.filter((b) => b !== ss58)
    this.#save()
  }

  /** Sets the upload limit from MiB/s as typed (0 or empty: none). */
  setUploadLimit (mibPerSecond: number): void {
    if (!Number.isFinite(mibPerSecond) || mibPerSecond < 0) throw named('InvalidLimitError', `not a rate: ${mibPerSecond}`)
    this.#limit = Math.round(mibPerSecond * MiB)
    localStorage.setItem(LIMIT_KEY, String(this.#limit))
    this.#apply()
    this.#onChange()
  }

  #save (): void {
    localStorage.setItem(BLOCKED_KEY, JSON.stringify(this.#blocked))
    this.#apply()
    this.#onChange()
  }

  #apply (): void {
    const p = this.#peer
    if (p === undefined) return
    // no recheck of live sessions: the connection stays so each refusal reaches the sender typed
    p.subwire.acl.update({ allow: [...p.subwire.acl.rules.allow], block: this.#blocked })
    p.uploads.bytesPerSecond = this.#limit
  }

  render (): void {
    $('blocked-list').replaceChildren(...this.#blocked.map((ss58) => {
      const li = el('li', {}, el('span', { className: 'mono', title: ss58 }, ss58), ' ')
      li.dataset['ss58'] = ss58
      const b = button('Unblock', 'unblock', () => { this.unblock(ss58) })
      b.setAttribute('aria-label', `Unblock ${ss58}`)
      li.append(b)
      return li
    }))
    $('blocked-empty').hidden = this.#blocked.length > 0
    const status = $('limit-status')
    status.textContent = this.#limit === 0 ? 'No upload limit.' : `Uploads are limited to ${bytes(this.#limit)}/s in total.`
    status.dataset['limit'] = String(this.#limit)
  }
}
