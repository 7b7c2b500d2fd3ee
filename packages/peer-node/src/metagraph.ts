/**
 * The metagraph source: a subnet's registered hotkeys with their axon IP and port, stake
 * (`TotalHotkeyAlpha` on that subnet) and validator permit, read from a subtensor node over
 * its RPC with `@polkadot/api` (storage items `SubtensorModule.Keys`, `Axons`,
 * `ValidatorPermit`, `TotalHotkeyAlpha`, `NetworksAdded`), refreshed on a schedule.
 *
 * As a {@link HotkeySource} it is discovery's last resort: an axon is dialled by IP and
 * port over QUIC and TCP without a PeerId (the chain has none; the handshake proves the
 * hotkey). A chain that cannot be reached or read is a `ChainUnavailableError`, never an
 * empty metagraph: the firewall built from it fails closed.
 *
 * Logs under `subwire:metagraph`.
 *
 * @packageDocumentation
 */
import type { ApiPromise } from '@polkadot/api'
import { ChainUnavailableError, InvalidConfigError, toError } from '@subwire/shared'
import type { AbortOptions, HotkeySource, ResolvedHotkey } from '@subwire/shared'
import type { Logger } from '@libp2p/interface'
import type { ProviderInterface } from '@polkadot/rpc-provider/types'

/** How often the snapshot of each subnet is read again by default (axons change rarely; a tempo is ~72 min on finney). */
export const DEFAULT_METAGRAPH_REFRESH_MS = 120_000
/** How long connecting to the node and reading one subnet may take by default. */
export const DEFAULT_METAGRAPH_TIMEOUT_MS = 10_000

/** One registered hotkey of a subnet. */
export interface MetagraphNeuron {
  /** Its uid in the subnet. */
  uid: number
  /** The hotkey (SS58). */
  ss58: string
  /** Its stake on the subnet (`TotalHotkeyAlpha`, in the chain's smallest unit). */
  stake: bigint
  /** Whether it holds a validator permit. */
  validatorPermit: boolean
  /** The axon's IP, if it served one. */
  ip?: string | undefined
  /** The axon's port, if it served one. */
  port?: number | undefined
  /** Addresses to dial (QUIC and TCP on the axon's IP and port), none without an axon. */
  multiaddrs: string[]
}

/** Configuration of a {@link MetagraphSource}. */
export interface MetagraphSourceInit {
  /** The subtensor node's WebSocket RPC, e.g. `ws://127.0.0.1:9944`. */
  url: string
  /** Subnets whose metagraph is kept (and refreshed). */
  netuids: number[]
  /** Refresh period in ms (default {@link DEFAULT_METAGRAPH_REFRESH_MS}); 0: no schedule, read on demand. */
  refreshMs?: number | undefined
  /** Deadline of a read (default {@link DEFAULT_METAGRAPH_TIMEOUT_MS}). */
  timeoutMs?: number | undefined
}

/** What a {@link MetagraphSource} is given. */
export interface MetagraphSourceComponents {
  /** The `subwire:metagraph` logger. */
  log: Logger
}

interface Snapshot { at: number, neurons: MetagraphNeuron[] }

/** An axon's IP from the chain's u128 and type (4 or 6); undefined for none or a malformed one. */
export function axonIp (ip: bigint, ipType: number): string | undefined {
  if (ip === 0n) return undefined
  if (ipType === 4) {
    if (ip > 0xffffffffn) return undefined
    return [24n, 16n, 8n, 0n].map((s) => String((ip >> s) & 0xffn)).join('.')
  }
  if (ipType === 6) return Array.from({ length: 8 }, (_, i) => ((ip >> BigInt((7 - i) * 16)) & 0xffffn).toString(16)).join(':')
  return undefined
}

/** The multiaddrs a subwire peer on an axon's IP and port listens on (QUIC first, then TCP: the default listens on both at one port). */
export function axonMultiaddrs (ip: string | undefined, port: number | undefined): string[] {
  if (ip === undefined || port === undefined || port === 0) return []
  const proto = ip.includes(':') ? 'ip6' : 'ip4'
  return [`/${proto}/${ip}/udp/${port}/quic-v1`, `/${proto}/${ip}/tcp/${port}`]
}

type Codec = { toString: () => string, toJSON: () => unknown }
type Entries = Array<[{ args: Codec[] }, Codec]>

/** Reads and keeps subnets' metagraphs; resolves hotkeys to their axons. */
export class MetagraphSource implements HotkeySource {
  /** Shown as a resolution's `source`. */
  readonly name = 'metagraph'
  readonly #log: Logger
  readonly #url: string
  readonly #netuids: number[]
  readonly #refreshMs: number
  readonly #timeoutMs: number
  readonly #snapshots = new Map<number, Snapshot>()
  #api: Promise<ApiPromise> | undefined
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (components: MetagraphSourceComponents, init: MetagraphSourceInit) {
    if (!/^wss?:\/\//.test(init.url)) throw new InvalidConfigError(`subtensor: "${init.url}" is not a ws:// or wss:// URL`)
    this.#log = components.log
    this.#url = init.url
    this.#netuids = [...init.netuids]
    this.#refreshMs = init.refreshMs ?? DEFAULT_METAGRAPH_REFRESH_MS
    this.#timeoutMs = init.timeoutMs ?? DEFAULT_METAGRAPH_TIMEOUT_MS
    if (!(this.#refreshMs >= 0) || !(this.#timeoutMs > 0)) throw new InvalidConfigError('subtensor: refreshMs must be >= 0 and timeoutMs > 0')
  }

  /** Reads the subnets now (in the background) and then every `refreshMs`. */
  start (): void {
    if (this.#refreshMs === 0 || this.#timer !== undefined) return
    const refresh = (): void => {
      for (const n of this.#netuids) {
        this.neurons(n, { fresh: true }).catch((err: unknown) => { this.#log('reading the metagraph of subnet %d failed: %s', n, toError(err).message) })
      }
    }
    refresh()
    this.#timer = setInterval(refresh, this.#refreshMs)
    this.#timer.unref()
  }

  /** Stops refreshing and disconnects from the node. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    const api = this.#api
    this.#api = undefined
    if (api !== undefined) await (await api.catch(() => undefined))?.disconnect().catch(() => {})
  }

  /**
   * The registered hotkeys of `netuid`: the snapshot if it is younger than the refresh
   * period, else read now (`fresh`: always read). Throws `ChainUnavailableError` if the
   * node cannot be reached or read, or `InvalidConfigError` if the subnet does not exist.
   */
  async neurons (netuid: number, options: AbortOptions & { fresh?: boolean } = {}): Promise<MetagraphNeuron[]> {
    const snap = this.#snapshots.get(netuid)
    if (options.fresh !== true && snap !== undefined && (this.#refreshMs === 0 ? false : Date.now() - snap.at < this.#refreshMs)) return snap.neurons
    const neurons = await this.#read(netuid, options)
    this.#snapshots.set(netuid, { at: Date.now(), neurons })
    this.#log('subnet %d: %d neuron(s)', netuid, neurons.length)
    return neurons
  }

  /** Where `ss58` serves its axon in one of the kept subnets, or undefined. */
  async resolve (ss58: string, options: AbortOptions = {}): Promise<ResolvedHotkey | undefined> {
    for (const netuid of this.#netuids) {
      const n = (await this.neurons(netuid, options)).find((x) => x.ss58 === ss58)
      if (n !== undefined && n.multiaddrs.length > 0) return toResolved(n, netuid)
    }
    return undefined
  }

  /** The subnet's hotkeys that serve an axon. */
  async members (netuid: number, options: AbortOptions = {}): Promise<ResolvedHotkey[]> {
    return (await this.neurons(netuid, options)).filter((n) => n.multiaddrs.length > 0).map((n) => toResolved(n, netuid))
  }

  async #connect (): Promise<ApiPromise> {
    this.#api ??= (async () => {
      // @polkadot/api loads only when a chain is read: it is ~1,000 modules and ~100 MiB that
      // every other command (a send, a query) would pay at start-up
      const { ApiPromise, WsProvider } = await import('@polkadot/api')
      // no automatic reconnect: a read that cannot reach the node fails (and the next one tries again)
      const provider = new WsProvider(this.#url, false)
      await provider.connect()
      return await ApiPromise.create({ provider: provider as unknown as ProviderInterface, noInitWarn: true, throwOnConnect: true })
    })()
    try {
      return await this.#api
    } catch (err) {
      this.#api = undefined
      throw err
    }
  }

  async #read (netuid: number, options: AbortOptions): Promise<MetagraphNeuron[]> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), ...(options.signal === undefined ? [] : [options.signal])])
    let api: ApiPromise | undefined
    try {
      const work = (async () => {
        api = await this.#connect()
        if (!api.isConnected) throw new Error('not connected')
        const q = api.query.subtensorModule as unknown as Record<string, ((...args: unknown[]) => Promise<Codec>) & { entries: (...args: unknown[]) => Promise<Entries> }>
        const get = (name: string): NonNullable<typeof q[string]> => {
          const f = q[name]
          if (f === undefined) throw new Error(`the runtime has no SubtensorModule.${name}`)
          return f
        }
        if ((await get('networksAdded')(netuid)).toJSON() !== true) return undefined
        const [keys, axons, permits] = await Promise.all([get('keys').entries(netuid), get('axons').entries(netuid), get('validatorPermit')(netuid)])
        const permit = (permits.toJSON() as boolean[] | null) ?? []
        const axonOf = new Map(axons.map(([k, v]) => [k.args[1]?.toString() as string, v.toJSON() as { ip: number | string, port: number, ipType: number }]))
        const neurons = await Promise.all(keys.map(async ([k, v]) => {
          const uid = Number(k.args[1]?.toString())
          const ss58 = v.toString()
          const axon = axonOf.get(ss58)
          const ip = axon === undefined ? undefined : axonIp(BigInt(axon.ip), axon.ipType)
          const port = axon?.port
          const stake = BigInt((await get('totalHotkeyAlpha')(ss58, netuid)).toString())
          return { uid, ss58, stake, validatorPermit: permit[uid] === true, ip, port, multiaddrs: axonMultiaddrs(ip, port) }
        }))
        return neurons.sort((a, b) => a.uid - b.uid)
      })()
      const result = await raceSignal(work, signal)
      if (result === undefined) throw new InvalidConfigError(`subnet ${netuid} does not exist on ${this.#url}`)
      return result
    } catch (err) {
      if (toError(err).name === InvalidConfigError.name) throw err
      options.signal?.throwIfAborted()
      // a half-open client is dropped so the next read connects afresh
      const stale = this.#api
      this.#api = undefined
      void stale?.then(async (a) => { await a.disconnect() }).catch(() => {})
      throw new ChainUnavailableError(`The subtensor node ${this.#url} could not be read: ${toError(err).message}`, { cause: err })
    }
  }
}

function toResolved (n: MetagraphNeuron, netuid: number): ResolvedHotkey {
  return { ss58: n.ss58, multiaddrs: n.multiaddrs, source: 'metagraph', netuids: [netuid], details: { netuid, uid: n.uid, stake: n.stake.toString(), validatorPermit: n.validatorPermit, ip: n.ip, port: n.port } }
}

async function raceSignal<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  p.catch(() => {})
  if (signal.aborted) throw toError(signal.reason)
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(toError(signal.reason)) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
