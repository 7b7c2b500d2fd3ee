/**
 * What the dashboard asks of the browser while files move, each only where the browser
 * has it (feature-detected; where it is missing or refused, nothing fails):
 * - a notification when a transfer finishes or a peer asks to send a file, while the tab
 *   is not in front (permission asked once, on the first sign-in or file choice);
 * - a screen wake lock while any file moves, so the device does not sleep mid-transfer.
 *
 * `document.body.dataset.wakeLock` says how the lock stands: `held`, `released`,
 * `unsupported` or `denied` (the browser refused, e.g. a hidden tab or a policy).
 */

const ASKED_KEY = 'subwire.notificationsAsked'

export class Alerts {
  #lock: WakeLockSentinel | undefined
  #want = false
  #requesting = false

  constructor () {
    document.body.dataset['wakeLock'] = 'wakeLock' in navigator ? 'released' : 'unsupported'
    // the browser drops the lock when the tab is hidden: take it again when it is back
    document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') void this.#sync() })
  }

  /** Asks for permission to notify, once per browser, from a user's click. */
  ask (): void {
    if (!('Notification' in globalThis) || Notification.permission !== 'default' || localStorage.getItem(ASKED_KEY) !== null) return
    localStorage.setItem(ASKED_KEY, new Date().toISOString())
    void Notification.requestPermission().catch(() => {}) // refused or dismissed: no notifications, nothing else changes
  }

  /** Shows a notification if allowed and the tab is not in front. */
  notify (title: string, body: string, tag: string): void {
    if (!('Notification' in globalThis) || Notification.permission !== 'granted') return
    if (document.visibilityState === 'visible' && document.hasFocus()) return
    try {
      const n = new Notification(title, { body, tag, icon: '/favicon.svg' })
      n.onclick = () => { window.focus(); n.close() }
    } catch {} // some browsers allow notifications only from a service worker: none then
  }

  /** Holds the screen wake lock while `moving` is true. */
  moving (moving: boolean): void {
    if (moving === this.#want) return
    this.#want = moving
    void this.#sync()
  }

  async #sync (): Promise<void> {
    const body = document.body
    if (!('wakeLock' in navigator) || this.#requesting) return
    if (!this.#want) {
      const lock = this.#lock
      this.#lock = undefined
      await lock?.release().catch(() => {})
      body.dataset['wakeLock'] = 'released'
      return
    }
    if (this.#lock !== undefined && !this.#lock.released) return
    this.#requesting = true
    try {
      const lock = await navigator.wakeLock.request('screen')
      this.#lock = lock
      body.dataset['wakeLock'] = 'held'
      lock.addEventListener('release', () => { if (this.#lock === lock) body.dataset['wakeLock'] = this.#want ? 'denied' : 'released' })
    } catch {
      body.dataset['wakeLock'] = 'denied' // hidden tab, policy or battery saver: the transfer goes on regardless
    } finally {
      this.#requesting = false
    }
    if (!this.#want) await this.#sync()
  }
}
