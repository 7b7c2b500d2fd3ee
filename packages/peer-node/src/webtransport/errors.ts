/**
 * Errors of the WebTransport listener. They never cross the wire, so they live with the
 * listener rather than in `@subwire/shared`; check them by `.name`.
 *
 * @packageDocumentation
 */
import { SubwireError } from '@subwire/shared'

/** WebTransport listening was asked for where it cannot run (it needs Deno's QUIC endpoint). */
export class WebTransportUnavailableError extends SubwireError {
  static override name = 'WebTransportUnavailableError'
  static override code = 'ERR_WEBTRANSPORT_UNAVAILABLE'
  static defaultMessage = 'WebTransport listening needs Deno (run "subwire listen --webtransport")'
}
/** A WebTransport session broke the libp2p WebTransport rules (wrong path, stream header or session). */
export class WebTransportProtocolError extends SubwireError {
  static override name = 'WebTransportProtocolError'
  static override code = 'ERR_WEBTRANSPORT_PROTOCOL'
  static defaultMessage = 'WebTransport session broke the libp2p WebTransport protocol'
}
