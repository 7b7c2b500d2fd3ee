/**
 * Checks a command's destination and file before anything is queued or dialled: a mistake
 * the user can see fails at once (exit 2), never as an item retried for 72 hours.
 *
 * @packageDocumentation
 */
import { open, stat } from 'node:fs/promises'
import { OperationAbortedError, PeerUnreachableError, toError, UnknownDestinationError, isAbortError } from '@subwire/shared'
import { parseDestination } from '@subwire/shared/protocol'
import { UsageError } from './args.ts'
import { listenerStatus } from './listener.ts'
import { readConfig } from '../home.ts'
import type { RemotePeer } from '@subwire/shared'
import type { NodePeer } from '../node-peer.ts'
import type { CliContext } from './context.ts'

/** Default time `--no-queue` sends and queries give a dial before they fail. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5000

/**
 * A destination a person typed: a multiaddr ending in a valid `/p2p/<PeerId>` (exit 2
 * otherwise), or an SS58 that something can resolve: the address book, the running
 * listener it is connected to, or (when the home has bootstrap peers or a subtensor) the DHT
 * or the metagraph at dial time, with a warning that says so; exit 1 with
 * `UnknownDestinationError` otherwise, saying how to add it.
 */
export async function checkDestination (ctx: CliContext, dest: string): Promise<void> {
  let parsed: ReturnType<typeof parseDestination>
  try {
    parsed = parseDestination(dest)
  } catch (err) {
    throw new UsageError(toError(err).message)
  }
  if (parsed.kind === 'multiaddr') return
  const config = await readConfig(ctx.home())
  let known = false
  await ctx.withBook(async (book) => {
    const entry = await book.get(parsed.ss58)
    known = entry !== undefined && entry.addrs.length > 0
  })
  // a peer connected to the running listener (a browser, which has no address to dial) is reachable through it
  if (!known) {
    const peers = (await listenerStatus(ctx))?.peers as Array<{ ss58: string }> | undefined
    known = peers?.some((p) => p.ss58 === parsed.ss58) === true
  }
  if (known) return
  // the DHT or the metagraph is asked at dial time: say so, since nothing here knows the hotkey yet
  const resolvers = [...((config.bootstrap?.length ?? 0) > 0 ? ['the DHT (through the bootstrap peers)'] : []), ...(config.subtensor === undefined ? [] : [`the metagraph (${config.subtensor})`])]
  if (resolvers.length > 0) {
    ctx.warn('unresolved', `${dest} is not in the address book: ${resolvers.join(' and ')} will be asked for its address at each attempt (subwire resolve ${dest} asks now)`)
    return
  }
  throw new UnknownDestinationError(`No address is known for ${dest} (it is not in the address book and the home has no bootstrap peers for the DHT): add it with "subwire peers add ${dest} MULTIADDR", or use a multiaddr ending in /p2p/<PeerId>`)
}

/** A file to send: it must exist and be a readable regular file (exit 2 otherwise). */
export async function checkFile (path: string): Promise<void> {
  let s: Awaited<ReturnType<typeof stat>>
  try {
    s = await stat(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot be read (${code ?? toError(err).message})`)
  }
  if (!s.isFile()) throw new UsageError(`${path} is not a regular file${s.isDirectory() ? ' (a directory)' : ''}`)
  // opened (a regular file: this cannot block as a FIFO would), not only stat'ed: a file this
  // user may not read would otherwise be queued and dead-lettered at its first attempt
  try {
    await (await open(path, 'r')).close()
  } catch (err) {
    throw new UsageError(`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? toError(err).message})`)
  }
}

/** Connects within `ms`, naming the address and the time in the error when it cannot. */
export async function connectWithin (peer: NodePeer, dest: string, ms: number): Promise<RemotePeer> {
  try {
    return await peer.connect(dest, { signal: AbortSignal.timeout(ms) })
  } catch (err) {
    const e = toError(err)
    if (isAbortError(e) || e.name === 'TimeoutError') {
      throw new PeerUnreachableError(`could not reach ${dest} within ${ms / 1000} s (--timeout to wait longer)`)
    }
    throw e
  }
}
