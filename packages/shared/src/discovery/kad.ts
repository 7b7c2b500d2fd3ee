/**
 * The bridge between the discovery part and a `@libp2p/kad-dht` service, written against
 * the service's shape so `shared` needs no DHT dependency: the validators and selectors
 * for the record namespaces, and a {@link RecordRouting} over the service.
 *
 * @packageDocumentation
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DHT_PROTOCOL, HOTKEY_RECORD_NAMESPACE, PEER_RECORD_NAMESPACE } from '../constants.ts'
import { selectHotkeyRecord, validateHotkeyRecordEntry } from './record.ts'
import type { AbortOptions } from '../abort.ts'
import type { RecordRouting } from './types.ts'
import type { Connection, PeerId } from '@libp2p/interface'

/** The part of a kad-dht query event this bridge reads. */
interface KadEvent { name: string, value?: Uint8Array, providers?: Array<{ id: PeerId }> }

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
  routingTable?: { size: number } | undefined
}

/** The part of the identify service used here. */
export interface IdentifyService {
  /** Asks the remote for its protocols and listen addresses (the kad topology hears of it). */
  identify: (connection: Connection, options?: AbortOptions) => Promise<unknown>
}

/**
 * The kad-dht options subwire needs: its own protocol id (never the public IPFS DHT) and
 * the validator and selector of both record namespaces (highest valid `seq` wins).
 */
export function subwireDhtInit (): { protocol: string, validators: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>>, selectors: Record<string, (key: Uint8Array, values: Uint8Array[]) => number> } {
  const validate = async (key: Uint8Array, value: Uint8Array): Promise<void> => { validateHotkeyRecordEntry(key, value) }
  const select = (key: Uint8Array, values: Uint8Array[]): number => selectHotkeyRecord(key, values)
  return {
    protocol: DHT_PROTOCOL,
    validators: { [HOTKEY_RECORD_NAMESPACE]: validate, [PEER_RECORD_NAMESPACE]: validate },
    selectors: { [HOTKEY_RECORD_NAMESPACE]: select, [PEER_RECORD_NAMESPACE]: select }
  }
}

/** The content id a provider key stands for: a raw CIDv1 of its SHA-256. */
export async function providerCid (key: Uint8Array): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(key))
}

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
}

/** A {@link RecordRouting} over a kad-dht service. */
export function kadRecordRouting (c: KadRoutingComponents): RecordRouting {
  // kad-dht pauses a query until its routing table has a peer; with nobody to ask, answer at once
  const alone = (): boolean => c.dht.routingTable !== undefined && c.dht.routingTable.size === 0
  return {
    get peers () { return c.dht.routingTable?.size ?? 0 },
    async put (key, value, options = {}) {
      if (alone()) return 0
      let reached = 0
      for await (const e of c.dht.put(key, value, options)) if (e.name === 'PEER_RESPONSE') reached++
      return reached
    },
    async get (key, options = {}) {
      if (alone()) return undefined
      let best: Uint8Array | undefined
      try {
        for await (const e of c.dht.get(key, options)) if (e.name === 'VALUE' && e.value !== undefined) best = e.value
      } catch (err) {
        if ((err as Error).name !== 'NotFoundError') throw err
      }
      return best
    },
    async provide (key, options = {}) {
      if (alone()) return
      for await (const _ of c.dht.provide(await providerCid(key), options)) { /* drain */ }
    },
    async * providers (key, options = {}) {
      if (alone()) return
      const seen = new Set<string>()
      for await (const e of c.dht.findProviders(await providerCid(key), options)) {
        for (const p of e.name === 'PROVIDER' ? e.providers ?? [] : []) {
          const id = p.id.toString()
          if (!seen.has(id)) { seen.add(id); yield id }
        }
      }
    },
    authenticated (connectionId) {
      const conn = c.connection(connectionId)
      if (conn === undefined || c.identify === undefined) return
      c.identify.identify(conn).catch((err: unknown) => { c.log('identify of %s failed: %s', conn.remotePeer.toString(), (err as Error).message) })
    }
  }
}
