/**
 * What a person sees of a failure: one friendly sentence in the section where it
 * happened, the technical detail behind a toggle, a dismiss button, and nothing left
 * over once the next action there succeeds.
 */

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} missing`)
  return el as T
}

/** The sections that show their own notices. */
export type Area = 'identity' | 'peers' | 'members' | 'send' | 'transfers' | 'inbox' | 'messages' | 'rpc' | 'outbox' | 'settings'

const COMMON: Record<string, string> = {
  WalletUnavailableError: 'No Polkadot wallet extension answered. Install polkadot-js, Talisman or SubWallet and allow this site, or use a development key.',
  WalletAccountNotFoundError: 'The wallet has no sr25519 account to sign in with.',
  SignatureRejectedError: 'You rejected the signature in the wallet, so this browser is not signed in. Click "Sign in" to try again.',
  PeerUnreachableError: 'The peer could not be reached on any of its addresses.',
  InvalidDestinationError: 'That is neither an SS58 hotkey nor a multiaddr ending in /p2p/<PeerId>.',
  NoNodePeerError: 'Connect to a Node peer first: hotkeys are looked up through the Node peers this browser is connected to.',
  FilesNotEnabledError: 'That peer does not receive files.',
  SubnetNotServedError: 'That peer does not serve this subnet.',
  RequestTimeoutError: 'The peer did not answer in time.',
  UnknownRpcTypeError: 'The peer has no handler for that request type.',
  HandshakeFailedError: 'The peer failed the hotkey handshake.',
  AccessDeniedError: 'The peer does not let this hotkey in.',
  PeerNotStartedError: 'Sign in first.',
  InvalidJsonError: 'That is not valid JSON.'
}

/** Explanations that depend on what was being done. */
const BY_AREA: Partial<Record<Area, Record<string, string>>> = {
  transfers: {
    FileRefusedError: 'The peer declined the file.',
    FileTooLargeError: 'The peer refused the file: it is too large for it.',
    InsufficientDiskSpaceError: 'The peer refused the file: it has not enough disk space.',
    FileHashMismatchError: 'The file did not match its BLAKE3 hash, so nothing was kept.',
    ChunkHashMismatchError: 'A piece of the file did not match its hash, so the transfer was stopped.',
    ConnectionLostError: 'The connection to the peer was lost. Retry to continue where it stopped.',
    ConnectionClosedError: 'The connection to the peer was lost. Retry to continue where it stopped.', // libp2p's
    TransferCancelledError: 'The other side cancelled the transfer.'
  },
  rpc: { ConnectionLostError: 'The connection to the peer was lost before it answered.', ConnectionClosedError: 'The connection to the peer was lost before it answered.' },
  messages: { ConnectionLostError: 'The connection to the peer was lost before it confirmed the message.', ConnectionClosedError: 'The connection to the peer was lost before it confirmed the message.' },
  peers: {
    PeerMismatchError: 'The peer at the link\'s addresses is not the hotkey the link names, so it was disconnected.',
    HotkeyMismatchError: 'The peer at the addresses found for that hotkey answered with another hotkey, so it was disconnected.',
    UnknownDestinationError: 'No connected Node peer knows that hotkey: it has published no record in their DHT (is that peer online?).',
    NoBrowserAddressError: 'That peer publishes no address a browser can dial (WebTransport, WebRTC-Direct or WebSockets).',
    BlockedPeerError: 'You blocked that hotkey: unblock it in Settings to connect.',
    ConnectionLostError: 'The connection closed while connecting.',
    ConnectionClosedError: 'The connection closed while connecting.', // libp2p's
    OperationAbortedError: 'Connecting took too long.',
    AbortError: 'Connecting took too long.', // a DOMException from an AbortSignal
    TimeoutError: 'Connecting took too long.'
  },
  members: { OperationAbortedError: 'The Node peers did not list the subnet in time.', AbortError: 'The Node peers did not list the subnet in time.', TimeoutError: 'The Node peers did not list the subnet in time.', InvalidNetuidError: 'A subnet is a number from 0 to 65535.' },
  settings: { InvalidHotkeyError: 'That is not an SS58 hotkey (or it is your own).', InvalidLimitError: 'The limit must be a number of MiB/s, 0 or more.' }
}

const FALLBACK: Record<Area, string> = {
  identity: 'Signing in failed.',
  peers: 'Connecting to the peer failed.',
  members: 'The subnet\'s members could not be listed.',
  send: 'The files could not be added.',
  transfers: 'The transfer failed.',
  inbox: 'The file could not be opened.',
  messages: 'The message was not delivered.',
  rpc: 'The request failed.',
  outbox: 'The outbox action failed.',
  settings: 'The setting could not be changed.'
}

/** An error made in the dashboard, with a name the explanations know. */
export function named (name: string, message: string): Error {
  return Object.assign(new Error(message), { name })
}

export function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

/** One sentence for `err` where it happened in `area`. */
export function explain (area: Area, err: unknown): string {
  const e = typeof err === 'object' && err !== null && typeof (err as { name?: unknown }).name === 'string' ? err as { name: string } : asError(err)
  return BY_AREA[area]?.[e.name] ?? COMMON[e.name] ?? FALLBACK[area]
}

/** Shows one notice in `area`: the sentence, the detail behind a toggle, a dismiss button. */
export function showNotice (area: Area, err: unknown): void {
  const e = asError(err)
  const box = $(`notice-${area}`)
  box.dataset['errorName'] = e.name
  const text = Object.assign(document.createElement('span'), { className: 'msg', textContent: explain(area, e) })
  const dismiss = Object.assign(document.createElement('button'), { type: 'button', className: 'dismiss', textContent: '×', title: 'Dismiss' })
  dismiss.setAttribute('aria-label', 'Dismiss this message')
  dismiss.dataset['testid'] = 'dismiss'
  dismiss.addEventListener('click', () => { clearNotice(area) })
  const details = document.createElement('details')
  details.append(Object.assign(document.createElement('summary'), { textContent: 'Technical detail' }),
    Object.assign(document.createElement('code'), { textContent: `${e.name}: ${e.message}` }))
  box.replaceChildren(text, dismiss, details)
  box.hidden = false
}

export function clearNotice (area: Area): void {
  const box = $(`notice-${area}`)
  box.hidden = true
  box.replaceChildren()
  delete box.dataset['errorName']
}

/** Runs `fn` for `area`: a success clears that area's notice, a failure shows one. */
export async function guarded (area: Area, fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn()
    clearNotice(area)
    return true
  } catch (err) {
    showNotice(area, err)
    return false
  }
}

export const short = (s: string): string => s.length > 16 ? `${s.slice(0, 8)}…${s.slice(-6)}` : s

export function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

export function el<K extends keyof HTMLElementTagNameMap> (tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props)
  e.append(...children)
  return e
}

export function button (label: string, testid: string, onClick: () => void, cls = 'secondary small'): HTMLButtonElement {
  const b = el('button', { type: 'button', className: cls, textContent: label })
  b.dataset['testid'] = testid
  b.addEventListener('click', onClick)
  return b
}

/** Reads JSON from a text box, or throws `InvalidJsonError` naming the box. */
export function parseJson (text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw named('InvalidJsonError', `${what} is not valid JSON: ${asError(err).message}`)
  }
}
