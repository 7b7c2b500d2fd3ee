/**
 * An {@link AddressBook} kept in a JSON file in the peer's home. Writes are serialised
 * and atomic (temp file + rename), so a crash never leaves a half-written book.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises'
import { InvalidConfigError } from '@subwire/shared'
import { writeFileAtomic } from './home.ts'
import type { AddressBook, AddressBookEntry } from '@subwire/shared'

/** A file-backed address book. */
export class FileAddressBook implements AddressBook {
  readonly #path: string
  #entries: Map<string, AddressBookEntry> | undefined
  #writing: Promise<void> = Promise.resolve()

  constructor (path: string) {
    this.#path = path
  }

  async #load (): Promise<Map<string, AddressBookEntry>> {
    if (this.#entries !== undefined) return this.#entries
    let raw: unknown = {}
    try {
      raw = JSON.parse(await readFile(this.#path, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new InvalidConfigError(`Address book ${this.#path} is unreadable: ${(err as Error).message}`)
      }
    }
    const map = new Map<string, AddressBookEntry>()
    for (const e of Object.values(raw as Record<string, AddressBookEntry>)) {
      if (typeof e?.ss58 === 'string' && typeof e.peerId === 'string' && Array.isArray(e.addrs)) map.set(e.ss58, e)
    }
    this.#entries ??= map
    return this.#entries
  }

  async #save (): Promise<void> {
    const entries = await this.#load()
    const write = this.#writing.then(async () => {
      await writeFileAtomic(this.#path, JSON.stringify(Object.fromEntries(entries), null, 2) + '\n', 0o600)
    })
    this.#writing = write.catch(() => {})
    await write
  }

  async get (ss58: string): Promise<AddressBookEntry | undefined> {
    const e = (await this.#load()).get(ss58)
    return e === undefined ? undefined : structuredClone(e)
  }

  async put (entry: AddressBookEntry): Promise<void> {
    (await this.#load()).set(entry.ss58, structuredClone(entry))
    await this.#save()
  }

  async delete (ss58: string): Promise<boolean> {
    const existed = (await this.#load()).delete(ss58)
    if (existed) await this.#save()
    return existed
  }

  async list (): Promise<AddressBookEntry[]> {
    return [...(await this.#load()).values()].map((e) => structuredClone(e))
  }
}
