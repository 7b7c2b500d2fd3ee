/**
 * The address book: which multiaddrs reach which hotkey. Written by the user (`peers add`)
 * and by the connector for connections it dialled to a user's address or the book's own
 * (never for inbound connections or what the DHT found); persisted by the peer (a file on
 * Node, IndexedDB in the browser).
 *
 * @packageDocumentation
 */
import type { AbortOptions } from '../abort.ts'

/** One hotkey's known addresses. */
export interface AddressBookEntry {
  /** The hotkey (SS58). */
  ss58: string
  /** Its libp2p PeerId. */
  peerId: string
  /** Multiaddrs without the trailing /p2p/ part, most recently confirmed first. */
  addrs: string[]
  /** When this entry last changed (ms since epoch). */
  updatedAt: number
}

/** Storage of {@link AddressBookEntry}s, keyed by SS58. */
export interface AddressBook {
  /** The entry for a hotkey, if known. */
  get(ss58: string, options?: AbortOptions): Promise<AddressBookEntry | undefined>
  /** Inserts or replaces an entry. */
  put(entry: AddressBookEntry, options?: AbortOptions): Promise<void>
  /** Removes an entry; true if it existed. */
  delete(ss58: string, options?: AbortOptions): Promise<boolean>
  /** Every entry. */
  list(options?: AbortOptions): Promise<AddressBookEntry[]>
}

/** Merges freshly learned addresses into an entry: new ones first, no duplicates, at most `max`. */
export function mergeAddrs (fresh: readonly string[], old: readonly string[], max = 16): string[] {
  return [...new Set([...fresh, ...old])].slice(0, max)
}

/** An in-memory {@link AddressBook} for tests and ephemeral peers. */
export class MemoryAddressBook implements AddressBook {
  readonly #entries = new Map<string, AddressBookEntry>()

  async get (ss58: string): Promise<AddressBookEntry | undefined> {
    const e = this.#entries.get(ss58)
    return e === undefined ? undefined : structuredClone(e)
  }

  async put (entry: AddressBookEntry): Promise<void> {
    this.#entries.set(entry.ss58, structuredClone(entry))
  }

  async delete (ss58: string): Promise<boolean> {
    return this.#entries.delete(ss58)
  }

  async list (): Promise<AddressBookEntry[]> {
    return [...this.#entries.values()].map((e) => structuredClone(e))
  }
}
