/**
 * The messages panel: control messages received (with the sender's verified hotkey) and
 * a send box (destination, action, JSON payload) that reports the receiver's ack.
 */
import { el, short } from './ui.ts'
import type { SubwireMessage } from '@subwire/shared'

const MAX_SHOWN = 100

export class Messages {
  readonly #root: HTMLElement
  readonly #list: Array<SubwireMessage & { at: number }> = []

  constructor (root: HTMLElement) { this.#root = root }

  add (m: SubwireMessage): void {
    this.#list.unshift({ ...m, at: Date.now() })
    this.#list.length = Math.min(this.#list.length, MAX_SHOWN)
    this.render()
  }

  render (): void {
    document.getElementById('messages-empty')?.toggleAttribute('hidden', this.#list.length > 0)
    this.#root.replaceChildren(...this.#list.map((m) => {
      const li = el('li', {},
        el('strong', {}, m.action), ' from ', el('span', { className: 'mono', title: m.from }, short(m.from)), ' ✓ verified',
        ` · ${new Date(m.at).toLocaleTimeString()}`,
        el('div', {}, el('code', {}, JSON.stringify(m.payload) ?? 'null')))
      Object.assign(li.dataset, { from: m.from, action: m.action, payload: JSON.stringify(m.payload) ?? 'null' })
      return li
    }))
  }
}
