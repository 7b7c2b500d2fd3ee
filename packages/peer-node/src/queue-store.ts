/**
 * The Node outbox store: SQLite through Node's built-in `node:sqlite` (no native addon to
 * build), in WAL mode with `synchronous=FULL`, so every committed write survives `kill -9`
 * and power loss, and a write cut short leaves nothing torn. Two processes may open the
 * same file (a listener and a CLI command); the worker lease decides who delivers.
 *
 * Also a {@link FileReferencer} for files on disk: the outbox keeps their path, size and
 * mtime (plus the manifest's hashes), not a copy.
 *
 * @packageDocumentation
 */
import { chmod } from 'node:fs/promises'
import { resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { QueueCorruptError, QueueItemExistsError, SourceChangedError } from '@subwire/shared'
import { asRecord, decodeValue, encodeValue } from '@subwire/shared/protocol'
import { NodeFileSource } from './files.ts'
import type { Outboard } from './outboard.ts'
import type { AbortOptions, FileReferencer, FileSource, OutboxEntry, OutboxFilter, OutboxPatch, OutboxRecord, QueueStore, WireError } from '@subwire/shared'
import type { SQLInputValue } from 'node:sqlite'

const SCHEMA_VERSION = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  dest TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  netuid INTEGER NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  backoff_step INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  progress INTEGER NOT NULL,
  sealed BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
CREATE TABLE IF NOT EXISTS chunks (id TEXT NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (id, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS delivered (sender TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (sender, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS delivered_at ON delivered (at);
CREATE TABLE IF NOT EXISTS lease (k INTEGER PRIMARY KEY CHECK (k = 1), owner TEXT NOT NULL, until INTEGER NOT NULL);
`

const COLUMNS = 'seq, id, dest, kind, state, netuid, size, created_at, expires_at, attempts, backoff_step, next_attempt_at, last_error, progress'

const PATCH_COLUMNS: Record<keyof OutboxPatch, string> = {
  state: 'state',
  attempts: 'attempts',
  backoffStep: 'backoff_step',
  nextAttemptAt: 'next_attempt_at',
  expiresAt: 'expires_at',
  lastError: 'last_error',
  progress: 'progress'
}

type Row = Record<string, SQLInputValue>

function entryOf (row: Row): OutboxEntry {
  return {
    seq: Number(row.seq),
    id: String(row.id),
    dest: String(row.dest),
    kind: row.kind as OutboxEntry['kind'],
    state: row.state as OutboxEntry['state'],
    netuid: Number(row.netuid),
    size: Number(row.size),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    attempts: Number(row.attempts),
    backoffStep: Number(row.backoff_step),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: typeof row.last_error === 'string' ? JSON.parse(row.last_error) as WireError : undefined,
    progress: Number(row.progress)
  }
}

/** A {@link QueueStore} in a SQLite file. */
export class SqliteQueueStore implements QueueStore {
  /** The database file. */
  readonly path: string
  readonly #db: DatabaseSync
  #closed = false

  private constructor (path: string, db: DatabaseSync) {
    this.path = path
    this.#db = db
  }

  /** Opens (creating if needed) the store at `path`, owner-only. */
  static async open (path: string): Promise<SqliteQueueStore> {
    const db = new DatabaseSync(path, { timeout: 10_000 })
    try {
      db.exec('PRAGMA journal_mode = WAL')
      db.exec('PRAGMA synchronous = FULL')
      db.exec('PRAGMA foreign_keys = ON')
      db.exec(SCHEMA)
      const row = db.prepare('SELECT v FROM meta WHERE k = ?').get('schema') as Row | undefined
      if (row === undefined) db.prepare('INSERT OR IGNORE INTO meta (k, v) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION))
      else if (Number(row.v) !== SCHEMA_VERSION) throw new QueueCorruptError(`${path} has outbox schema ${String(row.v)}; this subwire reads ${SCHEMA_VERSION}`)
    } catch (err) {
      db.close()
      throw err
    }
    await chmod(path, 0o600).catch(() => {})
    return new SqliteQueueStore(path, db)
  }

  async add (record: Omit<OutboxRecord, 'seq'>): Promise<number> {
    try {
      const r = this.#db.prepare(`INSERT INTO outbox (id, dest, kind, state, netuid, size, created_at, expires_at, attempts, backoff_step, next_attempt_at, last_error, progress, sealed)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        record.id, record.dest, record.kind, record.state, record.netuid, record.size, record.createdAt, record.expiresAt,
        record.attempts, record.backoffStep, record.nextAttemptAt, record.lastError === undefined ? null : JSON.stringify(record.lastError),
        record.progress, record.sealed)
      return Number(r.lastInsertRowid)
    } catch (err) {
      if (/UNIQUE constraint failed: outbox\.id/.test((err as Error).message)) throw new QueueItemExistsError(`Outbox item ${record.id} already exists`)
      throw err
    }
  }

  async get (id: string): Promise<OutboxRecord | undefined> {
    const row = this.#db.prepare(`SELECT ${COLUMNS}, sealed FROM outbox WHERE id = ?`).get(id) as Row | undefined
    if (row === undefined) return undefined
    return { ...entryOf(row), sealed: new Uint8Array(row.sealed as Uint8Array) }
  }

  async list (filter: OutboxFilter = {}): Promise<OutboxEntry[]> {
    const where: string[] = []
    const args: SQLInputValue[] = []
    if (filter.state !== undefined) { where.push('state = ?'); args.push(filter.state) }
    if (filter.dest !== undefined) { where.push('dest = ?'); args.push(filter.dest) }
    const sql = `SELECT ${COLUMNS} FROM outbox ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`
    return (this.#db.prepare(sql).all(...args) as Row[]).map(entryOf)
  }

  async update (id: string, patch: OutboxPatch): Promise<boolean> {
    const sets: string[] = []
    const args: SQLInputValue[] = []
    for (const [k, v] of Object.entries(patch) as Array<[keyof OutboxPatch, unknown]>) {
      const column = PATCH_COLUMNS[k]
      if (column === undefined) continue
      if (k === 'lastError') {
        sets.push(`${column} = ?`)
        args.push(v === undefined ? null : JSON.stringify(v))
      } else if (v !== undefined) {
        sets.push(`${column} = ?`)
        args.push(v as SQLInputValue)
      }
    }
    if (sets.length === 0) return (await this.get(id)) !== undefined
    const r = this.#db.prepare(`UPDATE outbox SET ${sets.join(', ')} WHERE id = ?`).run(...args, id)
    return Number(r.changes) > 0
  }

  async remove (id: string): Promise<boolean> {
    return this.#transaction(() => {
      this.#db.prepare('DELETE FROM chunks WHERE id = ?').run(id)
      return Number(this.#db.prepare('DELETE FROM outbox WHERE id = ?').run(id).changes) > 0
    })
  }

  async putChunk (id: string, index: number, bytes: Uint8Array): Promise<void> {
    this.#db.prepare('INSERT OR REPLACE INTO chunks (id, idx, data) VALUES (?, ?, ?)').run(id, index, bytes)
  }

  async getChunk (id: string, index: number): Promise<Uint8Array | undefined> {
    const row = this.#db.prepare('SELECT data FROM chunks WHERE id = ? AND idx = ?').get(id, index) as Row | undefined
    return row === undefined ? undefined : new Uint8Array(row.data as Uint8Array)
  }

  async lease (owner: string, ttlMs: number, now: number): Promise<boolean> {
    // A lease is liveness, not data: after a power cut it has expired anyway. Its renewal (every
    // 5 s) therefore commits without an fsync of its own, which under a large file transfer on
    // the same disk held the event loop for ~100 ms each time (node:sqlite is synchronous).
    this.#db.exec('PRAGMA synchronous = NORMAL')
    try {
      return this.#leaseTransaction(owner, ttlMs, now)
    } finally {
      this.#db.exec('PRAGMA synchronous = FULL')
    }
  }

  #leaseTransaction (owner: string, ttlMs: number, now: number): boolean {
    return this.#transaction(() => {
      const row = this.#db.prepare('SELECT owner, until FROM lease WHERE k = 1').get() as Row | undefined
      if (row !== undefined && row.owner !== owner && Number(row.until) > now && ownerAlive(String(row.owner))) return false
      this.#db.prepare('INSERT OR REPLACE INTO lease (k, owner, until) VALUES (1, ?, ?)').run(owner, now + ttlMs)
      return true
    })
  }

  async releaseLease (owner: string): Promise<void> {
    this.#db.prepare('DELETE FROM lease WHERE k = 1 AND owner = ?').run(owner)
  }

  async wasDelivered (from: string, id: string): Promise<boolean> {
    return this.#db.prepare('SELECT 1 FROM delivered WHERE sender = ? AND id = ?').get(from, id) !== undefined
  }

  async markDelivered (from: string, id: string, at: number): Promise<void> {
    this.#db.prepare('INSERT OR REPLACE INTO delivered (sender, id, at) VALUES (?, ?, ?)').run(from, id, at)
  }

  async pruneDelivered (before: number): Promise<number> {
    return Number(this.#db.prepare('DELETE FROM delivered WHERE at < ?').run(before).changes)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#db.close()
  }

  /** Runs `fn` in one IMMEDIATE transaction (a write lock from the start, so two processes never interleave it). */
  #transaction<T> (fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      const result = fn()
      this.#db.exec('COMMIT')
      return result
    } catch (err) {
      this.#db.exec('ROLLBACK')
      throw err
    }
  }
}

/** Lease owners named `pid:<n>:…` on this host are checked: a killed worker's lease is taken at once. */
function ownerAlive (owner: string): boolean {
  const m = /^pid:(\d+):/.exec(owner)
  if (m === null) return true
  try {
    process.kill(Number(m[1]), 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A lease owner id naming this process, so another process on the host can tell when it died. */
export function processLeaseOwner (): string {
  return `pid:${process.pid}:${crypto.randomUUID()}`
}

/** An outbox reference to a file on disk: `{ path, size, mtime, name }`; none for other sources (they are copied). */
async function referenceOf (source: FileSource): Promise<Uint8Array | undefined> {
  if (!(source instanceof NodeFileSource)) return undefined
  return encodeValue({ p: resolve(source.path), s: source.size, m: source.mtimeMs, n: source.name })
}

/**
 * Files on disk as outbox references: `{ path, size, mtime }`. Re-opening checks all
 * three; the outbox also checks every chunk against the hashes taken when it was queued
 * (a file queued with a streamed manifest: the reference alone pins it). With `outboard`,
 * a re-opened file keeps (and finds) its chunk hashes there, as a file sent directly does.
 */
export function fileReferencer (outboard?: Outboard): FileReferencer {
  return {
    reference: referenceOf,
    open: async (ref, options) => await openReference(ref, outboard, options)
  }
}

/** {@link fileReferencer} without an outboard. */
export const nodeFileReferencer: FileReferencer = fileReferencer()

async function openReference (ref: Uint8Array, outboard: Outboard | undefined, _options?: AbortOptions): Promise<FileSource> {
  const r = asRecord(decodeValue(ref), 'file reference')
  if (typeof r.p !== 'string' || typeof r.s !== 'number' || typeof r.m !== 'number' || typeof r.n !== 'string') throw new QueueCorruptError('Bad file reference in the outbox')
  let source: NodeFileSource
  try {
    source = await NodeFileSource.open(r.p, r.n, { outboard })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') throw new SourceChangedError(`${r.p} cannot be opened any more (${code}); it was queued at ${r.s} bytes`)
    throw err
  }
  if (source.size !== r.s || source.mtimeMs !== r.m) {
    await source.close()
    throw new SourceChangedError(`${r.p} changed since it was queued: ${source.size} bytes, modified ${new Date(source.mtimeMs).toISOString()} (queued: ${r.s} bytes, ${new Date(r.m).toISOString()})`)
  }
  return source
}
