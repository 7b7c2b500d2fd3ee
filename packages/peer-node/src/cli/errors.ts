/**
 * What a person sees of an error the CLI could not avoid: one line, in the user's terms.
 *
 * @packageDocumentation
 */

/** `/ip4/127.0.0.1/udp/4801/quic-v1` → `127.0.0.1:4801/udp`; other addresses as they are. */
function hostPort (addr: string): string {
  const m = /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)\/(tcp|udp)\/(\d+)/.exec(addr)
  if (m === null) return addr
  const host = (m[1] as string).includes(':') ? `[${m[1] as string}]` : m[1] as string
  return `${host}:${m[3] as string}/${m[2] as string}`
}

/**
 * libp2p's "Some configured addresses failed to be listened on …" (with a stack per
 * address and advice about `transportManager.faultTolerance`) as one line per address.
 */
function listenFailure (message: string): string | undefined {
  const lines = [...message.matchAll(/^\s+(\/\S+): (?:Error: )?(.*)$/gm)].map((m) => {
    const addr = m[1] as string
    const reason = m[2] as string
    if (/address already in use|EADDRINUSE|os error 98/i.test(reason)) return `${hostPort(addr)} is already in use (another listener? choose another with --listen)`
    if (/permission denied|EACCES|os error 13/i.test(reason)) return `${hostPort(addr)} needs privileges to listen on (choose a port above 1023 with --listen)`
    if (/cannot assign requested address|EADDRNOTAVAIL|os error 99/i.test(reason)) return `${hostPort(addr)} is not an address of this machine (choose another with --listen)`
    return `${hostPort(addr)} cannot be listened on: ${reason}`
  })
  return lines.length === 0 ? undefined : lines.join('; ')
}

/** The one line `subwire: …` prints for `err`. */
export function describeError (err: Error): string {
  if (err.name === 'UnsupportedListenAddressesError') return listenFailure(err.message) ?? err.message.split('\n')[0] as string
  return err.message
}
