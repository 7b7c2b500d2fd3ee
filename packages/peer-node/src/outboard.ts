/**
 * Chunk hashes of files sent from this home, kept between sends (an outboard, as bao and
 * iroh-blobs call it): `<home>/outboard/<key>.json`, keyed by the file's absolute path and
 * the chunk size, valid while its size, mtime, inode and device are those recorded. A
 * re-send, a resume or a queued copy of an unchanged file skips the hashing pass, so its
 * first chunk leaves at once.
 *
 * @packageDocumentation
 */
import { mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { blake3, deriveSourceKey } from '@subwire/shared'
import { bytesToHex } from '@subwire/shared/protocol'
import { writeFileAtomic } from './home.ts'
import type { FileManifest } from '@subwire/shared'

/** What identifies a file's content as far as the file system can tell. */
export interface FileIdentity {
  /** Absolute path. */
  path: string
  size: number
  mtimeMs: number
  ino: number
  dev: number
}

interface Entry extends FileIdentity {
  v: 1
  chunkSize: number
  root: string
  /** The chunk hashes, base64. */
  hashes: string
}

/**
 * The source key of a file's current version (`FileManifest.sourceKey`): SHA-256 over its
 * identity, the same while path, size, mtime, inode and device are, other once one changes.
 * It names the receiver's partial of a streamed send, so a later hashed send of the
 * unchanged file resumes it.
 */
export function sourceKeyOf (id: FileIdentity): Uint8Array {
  return deriveSourceKey([id.dev, id.ino, id.size, id.mtimeMs, id.path])
}

/** Outboards kept at most (the oldest go first): a few MiB each for the largest files. */
const MAX_ENTRIES = 1000

/** The outboards of one home. */
export class Outboard {
  readonly #dir: string

  constructor (dir: string) {
    this.#dir = dir
  }

  async #file (path: string, chunkSize: number): Promise<string> {
    return join(this.#dir, `${bytesToHex(await blake3(new TextEncoder().encode(`${chunkSize}\u0000${path}`)))}.json`)
  }

  /** The kept hashes of this file at this chunk size, if they are there and the file is unchanged. */
  async get (id: FileIdentity, chunkSize: number): Promise<{ chunkHashes: Uint8Array, root: Uint8Array } | undefined> {
    let entry: Entry
    try {
      entry = JSON.parse(await readFile(await this.#file(id.path, chunkSize), 'utf8')) as Entry
    } catch {
      return undefined
    }
    if (entry.v !== 1 || entry.path !== id.path || entry.size !== id.size || entry.mtimeMs !== id.mtimeMs || entry.ino !== id.ino || entry.dev !== id.dev || entry.chunkSize !== chunkSize) return undefined
    const chunkHashes = new Uint8Array(Buffer.from(entry.hashes, 'base64'))
    if (chunkHashes.byteLength !== Math.ceil(id.size / chunkSize) * 32 || !/^[0-9a-f]{64}$/.test(entry.root)) return undefined
    return { chunkHashes, root: new Uint8Array(Buffer.from(entry.root, 'hex')) }
  }

  /** Keeps a manifest just computed for this file (best effort: a full disk only costs the next send a hashing pass). */
  async put (id: FileIdentity, manifest: FileManifest): Promise<void> {
    const entry: Entry = { v: 1, ...id, chunkSize: manifest.chunkSize, root: bytesToHex(manifest.root), hashes: Buffer.from(manifest.chunkHashes).toString('base64') }
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 })
      await writeFileAtomic(await this.#file(id.path, manifest.chunkSize), JSON.stringify(entry))
      await this.#trim()
    } catch {}
  }

  /** Keeps the newest {@link MAX_ENTRIES}. */
  async #trim (): Promise<void> {
    const names = (await readdir(this.#dir)).filter((n) => n.endsWith('.json'))
    if (names.length <= MAX_ENTRIES) return
    const dated = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(this.#dir, n)).catch(() => ({ mtimeMs: 0 }))).mtimeMs })))
    dated.sort((a, b) => a.t - b.t)
    for (const { n } of dated.slice(0, dated.length - MAX_ENTRIES)) await unlink(join(this.#dir, n)).catch(() => {})
  }
}
