/**
 * The bridge between the discovery part and a `@libp2p/kad-dht` service, written against
 * the service's shape so `shared` needs no DHT dependency: the validators and selectors
 * for the record namespaces, and a {@link RecordRouting} over the service.
 *
 * @packageDocumentation
 */
import { CID } from 'multiformats/cid'
import { HotkeyRecordExpiredError, InvalidHotkeyRecordError, InvalidSignatureError } from '../errors/index.ts'
import { sha256 } from 'multiformats/hashes/sha2'
import { peerIdFromString } from '@libp2p/peer-id'
import { DHT_ALPHA, DHT_DISJOINT_PATHS, DHT_K, DHT_PROTOCOL, HOTKEY_RECORD_NAMESPACE, PEER_RECORD_NAMESPACE } from '../constants.ts'
import { decodeHotkeyRecord, hotkeyRecordFromValue, selectHotkeyRecord, validateHotkeyRecordEntry } from './record.ts'
import type { AbortOptions } from '../abort.ts'
import type { RecordRouting } from './types.ts'

/**
 * After the first value (or provider) arrives, wait this long for more, then answer with
 * the best so far: a query otherwise runs until every close peer answered or timed out,
 * and one dead peer among them would hold every lookup for its dial timeout.
 */
export const DHT_ANSWER_GRACE_MS = 300

/** A signal that aborts with `options.signal` or when `grace` is called and its time has passed. */
function graceful (options: AbortOptions): { signal: AbortSignal, grace: () => void, expired: () => boolean, done: () => void } {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  return {
    signal: options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]),
    grace: () => { timer ??= setTimeout(() => { controller.abort() }, DHT_ANSWER_GRACE_MS) },
    expired: () => controller.signal.aborted && options.signal?.aborted !== true,
    done: () => { clearTimeout(timer); controller.abort() }
  }
}
import type { Connection, PeerId } from '@libp2p/interface'

/** The part of a kad-dht query event this bridge reads. */
interface KadEvent { name: string, messageType?: string, value?: Uint8Array, record?: { value: Uint8Array } | null, providers?: Array<{ id: PeerId }> }

/** The part of the `@libp2p/kad-dht` service used here. */
export interface KadService {
  /** See kad-dht's `put`. */
  put: (key: Uint8Array, value: Uint8Array, options?: AbortOptions) => AsyncIterable<KadEvent>
  /** See kad-dht's `get`. */
  get: (key: Uint8Array, options?: AbortOptions) => AsyncIterable<KadEvent>
  /** See kad-dht's `provide`. */
  provide: (cid: CID, options?: AbortOptions) => AsyncIterable<KadEvent>
  /** See kad-dht's `findProviders`. */
  findProviders: (cid: CID, options?: AbortOptions) => AsyncIterable<KadEvent>
  /** kad-dht's routing table: a query with no peer in it would wait for one, so it is asked first. */
  routingTable?: { size: number, find?: (peer: PeerId) => Promise<PeerId | undefined>, add?: (peer: PeerId, options?: AbortOptions) => Promise<void> } | undefined
}

/** The part of the identify service used here. */
export interface IdentifyService {
  /** Asks the remote for its protocols and listen addresses (the kad topology hears of it). */
  identify: (connection: Connection) => Promise<unknown>
}

/**
 * The kad-dht options subwire needs: its own protocol id (never the public IPFS DHT), the
 * validator and selector of both record namespaces (highest valid `seq` wins), queries
 * that do not wait for the first self-lookup, narrow queries ({@link DHT_ALPHA}) and a
 * small k ({@link DHT_K}).
 */
export function subwireDhtInit (): { protocol: string, allowQueryWithZeroPeers: boolean, alpha: number, disjointPaths: number, kBucketSize: number, validators: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>>, selectors: Record<string, (key: Uint8Array, values: Uint8Array[]) => number> } {
  const validate = async (key: Uint8Array, value: Uint8Array): Promise<void> => { validateHotkeyRecordEntry(key, value) }
  const select = (key: Uint8Array, values: Uint8Array[]): number => selectHotkeyRecord(key, values)
  return {
    protocol: DHT_PROTOCOL,
    // queries start at once instead of waiting for the first self-lookup, which waits on
    // every close peer (a dead one for its dial timeout); discovery waits for the bootstrap
    // peers itself, and the bridge does not query with an empty routing table
    allowQueryWithZeroPeers: true,
    // a few paths, a few peers each: kad-dht's 10 × 10 made every lookup ask most of a subnet
    alpha: DHT_ALPHA,
    disjointPaths: DHT_DISJOINT_PATHS,
    // records at (and queries over) 8 closest peers, not kad-dht's 20
    kBucketSize: DHT_K,
    validators: { [HOTKEY_RECORD_NAMESPACE]: validate, [PEER_RECORD_NAMESPACE]: validate },
    selectors: { [HOTKEY_RECORD_NAMESPACE]: select, [PEER_RECORD_NAMESPACE]: select }
  }
}

/** The content id a provider key stands for: a raw CIDv1 of its SHA-256. */
export async function providerCid (key: Uint8Array): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(key))
}

/**
 * The valid value with the highest `seq`, or undefined. Values are tried from the highest
 * `seq` down and the first that verifies wins, so a lookup costs one sr25519 verification
 * here instead of one per answer (kad-dht's validator already checked each on arrival; a
 * lookup gathers several copies of the same record).
 */
function bestValid (key: Uint8Array, values: Uint8Array[]): Uint8Array | undefined {
  const bySeq: Array<{ v: Uint8Array, seq: number }> = []
  for (const v of values) {
    try {
      bySeq.push({ v, seq: decodeHotkeyRecord(hotkeyRecordFromValue(v).bytes).seq })
    } catch (err) {
      if (!REFUSED_RECORD.has((err as Error).name)) throw err // not a record: never chosen
    }
  }
  bySeq.sort((a, b) => b.seq - a.seq)
  const tried = new Set<string>()
  for (const { v } of bySeq) {
    const id = v.join(',')
    if (tried.has(id)) continue
    tried.add(id)
    try {
      validateHotkeyRecordEntry(key, v)
      return v
    } catch (err) {
      if (!REFUSED_RECORD.has((err as Error).name)) throw err
    }
  }
  return undefined
}

/** Why a value is not a usable record (anything else is a bug and is thrown). */
const REFUSED_RECORD = new Set([InvalidHotkeyRecordError.name, HotkeyRecordExpiredError.name, InvalidSignatureError.name])

/** What {@link kadRecordRouting} is given. */
export interface KadRoutingComponents {
  /** The kad-dht service. */
  dht: KadService
  /** The identify service, run on each authenticated connection (libp2p is configured not to run it on every new one). */
  identify?: IdentifyService | undefined
  /** Finds an open connection by id. */
  connection: (id: string) => Connection | undefined
  /** Logs identify failures. */
  log: (format: string, ...args: unknown[]) => void
  /**
   * True if a connection to `peerId` is open. Given, the routing table learns only peers it
   * is connected to (see {@link learnConnectedContactsOnly}).
   */
  connected?: ((peerId: string) => boolean) | undefined
}

/** kad-dht 16's method that takes a peer it heard of into the routing table (not part of its public API). */
interface KadContactHook { onPeerConnect?: (peer: { id: PeerId }) => Promise<void> }

/**
 * Makes the routing table learn only peers this node has a connection to. kad-dht takes
 * every peer named in any answer ("closer peers") as a new contact and pings it first: a
 * dial, a QUIC handshake, subwire's hotkey handshake and identify for each, 20 at a time.
 * In a 50-peer benchmark that dialled nearly the full mesh (~780 connections during the
 * publishes) and the handshakes, starved, timed out and were dialled again. Queries still
 * dial the closer peers they ask, and a peer that answers (or dials us) is learned once its
 * connection is authenticated and identified. Returns false if the service has no such
 * method (another kad-dht version): then every contact is pinged as before.
 */
export function learnConnectedContactsOnly (dht: object, connected: (peerId: string) => boolean): boolean {
  const hook = dht as KadContactHook
  const learn = hook.onPeerConnect
  if (typeof learn !== 'function') return false
  hook.onPeerConnect = async (peer) => {
    if (connected(peer.id.toString())) await learn.call(dht, peer)
  }
  return true
}

/** A {@link RecordRouting} over a kad-dht service. */
export function kadRecordRouting (c: KadRoutingComponents): RecordRouting {
  // kad-dht pauses a query until its routing table has a peer; with nobody to ask, answer at once
  const alone = (): boolean => c.dht.routingTable !== undefined && c.dht.routingTable.size === 0
  if (c.connected !== undefined && !learnConnectedContactsOnly(c.dht, c.connected)) c.log('this kad-dht has no onPeerConnect: every peer heard of is pinged')
  return {
    get peers () { return c.dht.routingTable?.size ?? 0 },
    async knows (peerId) {
      const find = c.dht.routingTable?.find
      if (find === undefined) return (c.dht.routingTable?.size ?? 0) > 0
      return (await find.call(c.dht.routingTable, peerIdFromString(peerId))) !== undefined
    },
    async add (peerId, options = {}) {
      // kad-dht pings a new contact before it takes it (2-5 s timeout): under load that ping
      // fails, the peer is dropped and nothing asks again; the caller retries
      await c.dht.routingTable?.add?.call(c.dht.routingTable, peerIdFromString(peerId), options)
    },
    async put (key, value, options = {}) {
      if (alone()) return 0
      let reached = 0
      try {
        // a put's events include the FIND_NODE answers of its closest-peers query: count the peers that took the record
        for await (const e of c.dht.put(key, value, options)) if (e.name === 'PEER_RESPONSE' && e.messageType === 'PUT_VALUE') reached++
      } catch (err) {
        // the caller's budget ended while slow peers were still being sent the record: it is
        // stored at those that took it (kad-dht waits for every one of the closest peers)
        if (reached === 0 || options.signal?.aborted !== true) throw err
        c.log('put stopped by its deadline after %d peer(s) took the record', reached)
      }
      return reached
    },
    async get (key, options = {}) {
      if (alone()) return undefined
      const values: Uint8Array[] = []
      const g = graceful(options)
      try {
        for await (const e of c.dht.get(key, { ...options, signal: g.signal })) {
          // kad-dht's get() yields its VALUE only once the whole query has ended (it waits to
          // pick the best and correct stale peers); each peer's answer passes by earlier as a
          // PEER_RESPONSE carrying the record, already checked by our validator: start the grace there
          const value = e.name === 'PEER_RESPONSE' ? e.record?.value : e.name === 'VALUE' ? e.value : undefined
          if (value !== undefined) { values.push(value); g.grace() }
        }
      } catch (err) {
        if (!g.expired() && (err as Error).name !== 'NotFoundError') throw err
      } finally {
        g.done()
      }
      return bestValid(key, values)
    },
    async provide (key, options = {}) {
      if (alone()) return
      let sent = 0
      try {
        for await (const e of c.dht.provide(await providerCid(key), options)) if (e.name === 'PEER_RESPONSE' && e.messageType === 'ADD_PROVIDER') sent++
      } catch (err) {
        // as for put: the announcement is at the peers that were sent it
        if (sent === 0 || options.signal?.aborted !== true) throw err
        c.log('provide stopped by its deadline after %d peer(s) were told', sent)
      }
    },
    async * providers (key, options = {}) {
      if (alone()) return
      const seen = new Set<string>()
      const g = graceful(options)
      try {
        for await (const e of c.dht.findProviders(await providerCid(key), { ...options, signal: g.signal })) {
          for (const p of e.name === 'PROVIDER' ? e.providers ?? [] : []) {
            const id = p.id.toString()
            g.grace()
            if (!seen.has(id)) { seen.add(id); yield id }
          }
        }
      } catch (err) {
        if (!g.expired()) throw err
      } finally {
        g.done()
      }
    },
    authenticated (connectionId) {
      const conn = c.connection(connectionId)
      if (conn === undefined || c.identify === undefined) return
      c.identify.identify(conn).catch((err: unknown) => { c.log('identify of %s failed: %s', conn.remotePeer.toString(), (err as Error).message) })
    }
  }
}
