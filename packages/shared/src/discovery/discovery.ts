/**
 * The discovery part: publishes this peer's signed hotkey record (and republishes it
 * before it expires and whenever the addresses change), announces its subnets, dials the
 * bootstrap peers, and resolves a hotkey to addresses in a fixed order: the address book,
 * the records cache, the DHT, then the other sources (the metagraph). What the DHT gave is
 * cached until the record expires; the handshake still proves the hotkey.
 *
 * Logs under `subwire:discovery`.
 *
 * @packageDocumentation
 */
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_HOTKEY_RECORD_LIFETIME_MS, HOTKEY_RECORD_REPUBLISH_FRACTION } from '../constants.ts'
import { InvalidConfigError, UnknownDestinationError, toError } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import { createHotkeyRecord, hotkeyRecordKey, hotkeyRecordToValue, peerRecordKey, verifyHotkeyRecord } from './record.ts'
import type { AbortOptions } from '../abort.ts'
import type { AddressBook } from '../auth/address-book.ts'
import type { Signer } from '../identity/signers.ts'
import type { HotkeyRecord } from './record.ts'
import type { HotkeySource, RecordRouting, ResolvedHotkey } from './types.ts'
import type { Libp2p, Logger } from '@libp2p/interface'

/** How long `start()` waits for the bootstrap peers before going on without them. */
const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000
/** How often a bootstrap peer the routing table did not take is offered to it again. */
const BOOTSTRAP_RETRY_MS = 2_000
/** How many times (a routing table that refuses a live bootstrap peer for a minute is logged and left alone). */
const BOOTSTRAP_RETRIES = 30
/** Coalesces bursts of address changes into one republish. */
const REPUBLISH_DEBOUNCE_MS = 500
/** How long one publish may take before it is logged as failed (retried at the next change or period). */
const PUBLISH_TIMEOUT_MS = 30_000
/**
 * After a publish that reached nobody, a new authenticated connection retries it no sooner
 * than this, doubling per failure up to {@link PUBLISH_RETRY_MAX_MS}: retrying on every new
 * connection made a loaded 50-peer DHT publish 4-5 times per peer, each publish making more
 * connections (bench/discovery.ts).
 */
const PUBLISH_RETRY_MIN_MS = 2_000
/** The longest wait between two such retries. */
const PUBLISH_RETRY_MAX_MS = 60_000

const subnetKey = (netuid: number): Uint8Array => new TextEncoder().encode(`/subwire-subnet/${netuid}`)

/** What the {@link Discovery} part is given. */
export interface DiscoveryComponents {
  /** The libp2p node (its PeerId, addresses and address-change events; bootstrap dials). */
  libp2p: Libp2p
  /** Signs the records. */
  signer: Signer
  /** The DHT; none: only the address book and the sources resolve. */
  routing?: RecordRouting | undefined
  /** Asked after the DHT, in order (the metagraph). */
  sources?: HotkeySource[] | undefined
  /** Asked first. */
  addressBook?: AddressBook | undefined
  /** The `subwire:discovery` logger. */
  log: Logger
}

/** Configuration of the {@link Discovery} part. */
export interface DiscoveryInit {
  /** Subnets this peer announces itself a member of. */
  netuids: number[]
  /** Multiaddrs (ending in `/p2p/<PeerId>`) dialled at start to join the DHT. */
  bootstrap?: string[] | undefined
  /** Lifetime of our records (default 1 h); republished at half of it. */
  recordLifetimeMs?: number | undefined
  /** Publish our record and subnets (default: whenever this peer has listen addresses). */
  publish?: boolean | undefined
}

/** Publishes our record and resolves others'. */
export class Discovery {
  readonly #c: DiscoveryComponents
  readonly #netuids: number[]
  readonly #bootstrap: string[]
  readonly #lifetimeMs: number
  readonly #publish: boolean | undefined
  readonly #cache = new Map<string, ResolvedHotkey>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #joining: ReturnType<typeof setTimeout> | undefined
  #debounce: ReturnType<typeof setTimeout> | undefined
  #published: HotkeyRecord | undefined
  #reached = 0
  /** The background publish running now: never two at once (a change meanwhile runs one more after it). */
  #inFlight: Promise<void> | undefined
  #again = false
  #failures = 0
  #retryAt = 0
  #started = false
  readonly #onSelfUpdate = (): void => { this.#schedule(REPUBLISH_DEBOUNCE_MS) }

  constructor (components: DiscoveryComponents, init: DiscoveryInit) {
    this.#c = components
    this.#netuids = init.netuids
    this.#bootstrap = [...(init.bootstrap ?? [])]
    for (const b of this.#bootstrap) {
      try { multiaddr(b) } catch (err) { throw new InvalidConfigError(`bootstrap address "${b}" is not a multiaddr: ${toError(err).message}`) }
    }
    this.#lifetimeMs = init.recordLifetimeMs ?? DEFAULT_HOTKEY_RECORD_LIFETIME_MS
    if (!(this.#lifetimeMs >= 1000)) throw new InvalidConfigError('recordLifetimeMs must be at least 1000')
    this.#publish = init.publish
  }

  /** The record we published last, if any. */
  get record (): HotkeyRecord | undefined { return this.#published }

  /** True if a DHT was injected. */
  get hasRouting (): boolean { return this.#c.routing !== undefined }

  /** Dials the bootstrap peers (bounded), then publishes in the background and keeps the record fresh. */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.#started) return
    this.#started = true
    for (const s of this.#c.sources ?? []) await s.start?.()
    this.#c.libp2p.addEventListener('self:peer:update', this.#onSelfUpdate)
    const reached: string[] = []
    await Promise.all(this.#bootstrap.map(async (b) => {
      const signal = options.signal === undefined ? AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS) : AbortSignal.any([options.signal, AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS)])
      try {
        reached.push((await this.#c.libp2p.dial(multiaddr(b), { signal })).remotePeer.toString())
      } catch (err) {
        this.#c.log('bootstrap peer %s not reached: %s', b, toError(err).message)
      }
    }))
    // the routing table learns a bootstrap peer after its handshake and identify: wait (bounded) for one
    // (peers a persistent peer store remembers from an earlier run may be long gone)
    const deadline = Date.now() + BOOTSTRAP_DIAL_TIMEOUT_MS
    const knows = this.#c.routing?.knows
    const ready = async (): Promise<boolean> => {
      for (const p of reached) if (knows === undefined ? (this.#c.routing?.peers ?? 1) > 0 : await knows(p)) return true
      return false
    }
    while (reached.length > 0 && !(await ready()) && Date.now() < deadline && options.signal?.aborted !== true) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    if (reached.length > 0 && !(await ready())) this.#join(reached, BOOTSTRAP_RETRIES)
    this.#schedule(0)
  }

  /**
   * The routing table has none of the bootstrap peers we reached (kad-dht learns a peer
   * from identify and pings it first; under load either can fail, and nothing tries again,
   * which left half the peers of a 50-peer benchmark with an empty table): offer them again
   * every {@link BOOTSTRAP_RETRY_MS} until one is taken, then publish.
   */
  #join (peers: string[], left: number): void {
    const routing = this.#c.routing
    if (routing?.add === undefined || routing.knows === undefined || !this.#started) return
    this.#joining = setTimeout(() => {
      void (async () => {
        for (const p of peers) {
          try {
            await routing.add?.(p, { signal: AbortSignal.timeout(BOOTSTRAP_RETRY_MS * 2) })
          } catch (err) {
            this.#c.log('routing table did not take bootstrap peer %s: %s', p, toError(err).message)
          }
          if (await routing.knows?.(p)) {
            this.#c.log('bootstrap peer %s joined the routing table', p)
            if (this.#reached === 0) this.#schedule(0)
            return
          }
        }
        if (left > 1) this.#join(peers, left - 1)
        else this.#c.log('no bootstrap peer joined the routing table after %d tries', BOOTSTRAP_RETRIES)
      })()
    }, BOOTSTRAP_RETRY_MS)
  }

  /** Stops republishing; the sources stop refreshing. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearTimeout(this.#timer)
    clearTimeout(this.#joining)
    clearTimeout(this.#debounce)
    this.#debounce = undefined
    this.#c.libp2p.removeEventListener('self:peer:update', this.#onSelfUpdate)
    for (const s of this.#c.sources ?? []) await s.stop?.()
  }

  /** A connection was authenticated: the DHT may learn the peer; a publish that reached nobody is retried. */
  authenticated (connectionId: string): void {
    this.#c.routing?.authenticated?.(connectionId)
    // never postpones a publish already scheduled (connections authenticating every second would put it off for good)
    if (this.#started && this.#reached === 0 && this.#debounce === undefined && this.#inFlight === undefined && Date.now() >= this.#retryAt && this.#shouldPublish()) this.#schedule(REPUBLISH_DEBOUNCE_MS * 2)
  }

  #shouldPublish (): boolean {
    return this.#c.routing !== undefined && (this.#publish ?? this.#addrs().length > 0)
  }

  #addrs (): string[] {
    const suffix = `/p2p/${this.#c.libp2p.peerId.toString()}`
    return [...new Set(this.#c.libp2p.getMultiaddrs().map((ma) => {
      const s = ma.toString()
      return s.endsWith(suffix) ? s.slice(0, -suffix.length) : s
    }))]
  }

  #schedule (ms: number): void {
    if (!this.#started || !this.#shouldPublish()) return
    clearTimeout(this.#debounce)
    this.#debounce = setTimeout(() => { this.#debounce = undefined; this.#publishInBackground() }, ms)
  }

  /** One background publish at a time; one that reached nobody is retried with a backoff (see {@link PUBLISH_RETRY_MIN_MS}). */
  #publishInBackground (): void {
    if (this.#inFlight !== undefined) { this.#again = true; return }
    this.#inFlight = this.publish({ signal: AbortSignal.timeout(PUBLISH_TIMEOUT_MS) })
      .then((reached) => reached, (err: unknown) => { this.#c.log('publishing our record failed: %s', toError(err).message); return 0 })
      .then((reached) => {
        this.#failures = reached > 0 ? 0 : this.#failures + 1
        this.#retryAt = reached > 0 ? 0 : Date.now() + Math.min(PUBLISH_RETRY_MAX_MS, PUBLISH_RETRY_MIN_MS * 2 ** (this.#failures - 1))
      })
      .finally(() => {
        this.#inFlight = undefined
        if (this.#again) { this.#again = false; this.#schedule(REPUBLISH_DEBOUNCE_MS) }
      })
  }

  /**
   * Signs and stores our record under our hotkey and our PeerId and announces our
   * subnets. Resolves with how many DHT peers took the record. Also re-arms the
   * republish timer (at half the lifetime).
   */
  async publish (options: AbortOptions = {}): Promise<number> {
    const routing = this.#c.routing
    if (routing === undefined) return 0
    throwIfAborted(options.signal)
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { this.#schedule(0) }, this.#lifetimeMs * HOTKEY_RECORD_REPUBLISH_FRACTION)
    const seq = Math.max(Date.now(), (this.#published?.seq ?? 0) + 1)
    const signed = await createHotkeyRecord(this.#c.signer, { peerId: this.#c.libp2p.peerId.toString(), multiaddrs: this.#addrs(), netuids: this.#netuids, seq, lifetimeMs: this.#lifetimeMs }, options)
    this.#published = signed.record
    const value = hotkeyRecordToValue(signed)
    const [byHotkey] = await Promise.all([
      routing.put(hotkeyRecordKey(this.#c.signer.ss58), value, options),
      routing.put(peerRecordKey(signed.record.peerId), value, options),
      ...this.#netuids.map(async (n) => { await routing.provide(subnetKey(n), options) })
    ])
    this.#reached = byHotkey
    this.#c.log('published record seq %d with %d address(es) to %d peer(s)', seq, signed.record.multiaddrs.length, byHotkey)
    return byHotkey
  }

  /** Forgets a cached answer (its address did not answer). */
  forget (ss58: string): void {
    this.#cache.delete(ss58)
  }

  /** True if something besides the address book can answer (a DHT or a source). */
  get canLookUp (): boolean { return this.#c.routing !== undefined || (this.#c.sources?.length ?? 0) > 0 }

  /**
   * Where `ss58` can be reached: the address book, the cache, the DHT, then each source
   * (`fresh`: skip the address book and the cache, after their address did not answer).
   * Throws `UnknownDestinationError` if none knows it.
   */
  async resolve (ss58: string, options: AbortOptions & { fresh?: boolean } = {}): Promise<ResolvedHotkey> {
    throwIfAborted(options.signal)
    const tried: string[] = []
    if (options.fresh !== true) {
      tried.push('the address book')
      const entry = await this.#c.addressBook?.get(ss58, options)
      if (entry !== undefined && entry.addrs.length > 0) return { ss58, peerId: entry.peerId, multiaddrs: entry.addrs, source: 'address-book' }
      const cached = this.#cache.get(ss58)
      if (cached !== undefined && (cached.expiresAt === undefined || cached.expiresAt > Date.now())) return { ...cached, source: 'cache', via: cached.source }
    }
    this.#cache.delete(ss58)
    if (this.#c.routing !== undefined) {
      tried.push('the DHT')
      const found = await this.#fromDht(ss58, options)
      if (found !== undefined) return this.#remember(found)
    }
    for (const s of this.#c.sources ?? []) {
      tried.push(s.name)
      try {
        const found = await s.resolve(ss58, options)
        if (found !== undefined && found.multiaddrs.length > 0) return this.#remember(found)
      } catch (err) {
        throwIfAborted(options.signal)
        this.#c.log('source %s could not resolve %s: %s', s.name, ss58, toError(err).message)
      }
    }
    throw new UnknownDestinationError(`No address is known for ${ss58} (asked ${tried.join(', ')})`)
  }

  async #fromDht (ss58: string, options: AbortOptions): Promise<ResolvedHotkey | undefined> {
    let value: Uint8Array | undefined
    try {
      value = await this.#c.routing?.get(hotkeyRecordKey(ss58), options)
    } catch (err) {
      throwIfAborted(options.signal)
      this.#c.log('DHT lookup of %s failed: %s', ss58, toError(err).message)
      return undefined
    }
    if (value === undefined) return undefined
    // the DHT validated it on the way in; a reader checks again, with its own clock
    const record = verifyHotkeyRecord(value, { expectedSs58: ss58 })
    return fromRecord(record)
  }

  /** The cached, unexpired DHT answer for `peerId` that names `netuid`, if any. */
  #cachedByPeerId (peerId: string, netuid: number): ResolvedHotkey | undefined {
    const now = Date.now()
    for (const c of this.#cache.values()) {
      if (c.peerId === peerId && c.record !== undefined && c.netuids?.includes(netuid) === true && (c.expiresAt === undefined || c.expiresAt > now)) return c
    }
    return undefined
  }

  #remember (found: ResolvedHotkey): ResolvedHotkey {
    if (found.expiresAt !== undefined) this.#cache.set(found.ss58, found)
    return found
  }

  /**
   * The members of a subnet: the hotkeys whose peers announced it in the DHT (each with
   * its verified record), merged with each source's members and with the cached answers
   * that name the subnet (what is known here when the DHT is slow or the caller's budget
   * ends the listing early). A source that fails is logged and skipped. Our own hotkey is
   * left out.
   */
  async members (netuid: number, options: AbortOptions = {}): Promise<ResolvedHotkey[]> {
    throwIfAborted(options.signal)
    const byHotkey = new Map<string, ResolvedHotkey>()
    const self = this.#c.libp2p.peerId.toString()
    const routing = this.#c.routing
    if (routing !== undefined) {
      const lookups: Array<Promise<void>> = []
      try {
        for await (const peerId of routing.providers(subnetKey(netuid), options)) {
          if (peerId === self) continue
          // a member whose verified record is cached needs no lookup (a listing gets half a fan-out's deadline)
          const known = this.#cachedByPeerId(peerId, netuid)
          if (known !== undefined) { byHotkey.set(known.ss58, known); continue }
          lookups.push((async () => {
            const value = await routing.get(peerRecordKey(peerId), options)
            if (value === undefined) return
            const r = verifyHotkeyRecord(value, { expectedPeerId: peerId })
            if (!r.netuids.includes(netuid)) return
            const prev = byHotkey.get(r.ss58)
            if (prev?.record === undefined || prev.record.seq < r.seq) byHotkey.set(r.ss58, this.#remember(fromRecord(r)))
          })().catch((err: unknown) => { this.#c.log('record of member %s not usable: %s', peerId, toError(err).message) }))
        }
      } catch (err) {
        // a caller's budget ran out (or the DHT failed): the members found so far are the answer
        this.#c.log('listing subnet %d in the DHT ended early: %s', netuid, toError(err).message)
      }
      await Promise.all(lookups)
    }
    for (const s of this.#c.sources ?? []) {
      if (s.members === undefined) continue
      try {
        for (const m of await s.members(netuid, options)) {
          if (!byHotkey.has(m.ss58)) byHotkey.set(m.ss58, m)
        }
      } catch (err) {
        throwIfAborted(options.signal)
        this.#c.log('source %s could not list subnet %d: %s', s.name, netuid, toError(err).message)
      }
    }
    // what is known here already (a slow or cut-short DHT listing loses nobody we resolved)
    const now = Date.now()
    for (const c of this.#cache.values()) {
      if (c.netuids?.includes(netuid) === true && (c.expiresAt === undefined || c.expiresAt > now) && !byHotkey.has(c.ss58)) byHotkey.set(c.ss58, c)
    }
    byHotkey.delete(this.#c.signer.ss58)
    return [...byHotkey.values()]
  }

  /**
   * The members of a subnet as they are found (what {@link members} lists, each hotkey
   * once, the first record found for it): the cached answers that name the subnet first,
   * then each DHT provider as soon as its record is known (cached, or once looked up), then
   * the sources. A fan-out asks each one at once instead of waiting for the whole listing.
   * Ends when the DHT listing ends or `options.signal` aborts (what was found is kept).
   */
  async * listMembers (netuid: number, options: AbortOptions = {}): AsyncGenerator<ResolvedHotkey> {
    throwIfAborted(options.signal)
    const seen = new Set<string>([this.#c.signer.ss58])
    const now = Date.now()
    for (const c of [...this.#cache.values()]) {
      if (c.netuids?.includes(netuid) === true && (c.expiresAt === undefined || c.expiresAt > now) && !seen.has(c.ss58)) { seen.add(c.ss58); yield c }
    }
    const routing = this.#c.routing
    if (routing !== undefined) {
      const found: ResolvedHotkey[] = []
      let wake: (() => void) | undefined
      let pending = 0
      let ended = false
      const push = (m: ResolvedHotkey): void => { found.push(m); wake?.() }
      const self = this.#c.libp2p.peerId.toString()
      void (async () => {
        try {
          for await (const peerId of routing.providers(subnetKey(netuid), options)) {
            if (peerId === self) continue
            const known = this.#cachedByPeerId(peerId, netuid)
            if (known !== undefined) { push(known); continue }
            pending++
            void (async () => {
              const value = await routing.get(peerRecordKey(peerId), options)
              if (value === undefined) return
              const r = verifyHotkeyRecord(value, { expectedPeerId: peerId })
              if (r.netuids.includes(netuid)) push(this.#remember(fromRecord(r)))
            })().catch((err: unknown) => { this.#c.log('record of member %s not usable: %s', peerId, toError(err).message) })
              .finally(() => { pending--; wake?.() })
          }
        } catch (err) {
          this.#c.log('listing subnet %d in the DHT ended early: %s', netuid, toError(err).message)
        } finally {
          ended = true
          wake?.()
        }
      })()
      while (true) {
        const m = found.shift()
        if (m !== undefined) {
          if (!seen.has(m.ss58)) { seen.add(m.ss58); yield m }
          continue
        }
        if (ended && pending === 0) break
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
      }
    }
    for (const s of this.#c.sources ?? []) {
      if (s.members === undefined || options.signal?.aborted === true) continue
      try {
        for (const m of await s.members(netuid, options)) if (!seen.has(m.ss58)) { seen.add(m.ss58); yield m }
      } catch (err) {
        this.#c.log('source %s could not list subnet %d: %s', s.name, netuid, toError(err).message)
      }
    }
  }
}

function fromRecord (record: HotkeyRecord): ResolvedHotkey {
  return { ss58: record.ss58, peerId: record.peerId, multiaddrs: record.multiaddrs, source: 'dht', expiresAt: record.expiresAt, record, netuids: record.netuids }
}
