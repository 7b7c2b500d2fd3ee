/**
 * Share a peer: a link that opens this dashboard with the peer's hotkey and browser
 * addresses filled in (so whoever opens it connects in one click), and a QR code of it.
 *
 * The link is `…/?hotkey=<ss58>&peer=<multiaddr>&peer=…`; the dashboard checks, once
 * connected, that the peer behind the addresses is the hotkey the link names.
 */
import encodeQR from '@paulmillr/qr'
import { transportOfAddr } from '@subwire/peer-web'
import { $, button, el, short } from './ui.ts'

/** Addresses put in a link: a browser can dial only these, and a QR code stays scannable. */
const MAX_LINK_ADDRS = 3

/** What a link names. */
export interface SharedPeer {
  hotkey: string | undefined
  addrs: string[]
}

/** The link to `hotkey` at `addrs`, on this dashboard. */
export function shareLink (hotkey: string, addrs: string[]): string {
  const url = new URL(location.pathname, location.origin)
  url.searchParams.set('hotkey', hotkey)
  const dialable = addrs.filter((a) => a.includes('/p2p/') && transportOfAddr(a) !== 'unknown')
  for (const a of dialable.slice(0, MAX_LINK_ADDRS)) url.searchParams.append('peer', a)
  return url.toString()
}

/** The peer the page's own URL names, if any. */
export function sharedPeer (search = location.search): SharedPeer {
  const params = new URLSearchParams(search)
  return { hotkey: params.get('hotkey') ?? undefined, addrs: params.getAll('peer').filter((a) => a.trim() !== '') }
}

/** Shows the link and its QR code for `hotkey` in the share panel. */
export function showShare (hotkey: string, addrs: string[]): void {
  const link = shareLink(hotkey, addrs)
  const panel = $('share')
  const box = el('input', { id: 'share-link', type: 'text', readOnly: true, value: link, className: 'mono' })
  box.dataset['testid'] = 'share-link'
  box.setAttribute('aria-label', `Link to ${hotkey}`)
  const status = el('span', { className: 'hint', id: 'share-status' })
  status.setAttribute('role', 'status')
  const copy = button('Copy link', 'share-copy', () => {
    void navigator.clipboard?.writeText(link).then(() => { status.textContent = 'copied' }, () => { box.select(); status.textContent = 'press Ctrl+C to copy' })
  }, 'small')
  const close = button('Close', 'share-close', () => { panel.hidden = true; panel.replaceChildren() })
  const qr = el('div', { id: 'share-qr', className: 'qr' })
  qr.dataset['testid'] = 'share-qr'
  qr.setAttribute('role', 'img')
  qr.setAttribute('aria-label', `QR code of the link to ${hotkey}`)
  // built from the library's own SVG text (no user HTML goes into it: the link is URL-encoded)
  qr.innerHTML = encodeQR(link, 'svg', { ecc: 'medium', border: 2 })
  panel.replaceChildren(
    el('p', {}, `Link to ${short(hotkey)}: whoever opens it gets this dashboard with the peer filled in and connects in one click.`),
    el('div', { className: 'row' }, box, copy, close, status),
    qr)
  panel.hidden = false
}
