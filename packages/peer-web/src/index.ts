/**
 * `@subwire/peer-web`: the subwire peer for browsers. It will run the same
 * `@subwire/shared` engine over WebRTC-Direct, WebTransport and WebSockets, with the
 * hotkey from a Polkadot wallet extension (the browser-peer issue). Today it re-exports
 * the protocol so the dashboard and the layering rules already have their package.
 *
 * @packageDocumentation
 */
export { createSubwire, Subwire, callbackSigner, uriSigner } from '@subwire/shared'
export type { Signer, SubwireInit, SubwireComponents } from '@subwire/shared'
