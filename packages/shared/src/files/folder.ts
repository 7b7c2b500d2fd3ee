/**
 * Folder manifests: the list of a folder's files (relative path, size, BLAKE3 root), the
 * folder root over it, its resume key, and the checks a receiver makes before anything is
 * created: the limits first, then every path (no absolute path, no `..`, no collision),
 * each component through {@link sanitizeFileName}.
 *
 * @packageDocumentation
 */
import { asRecord, bytesField, stringField, uintField, utf8Length } from '../wire/fields.ts'
import { BLAKE3_BYTES, MAX_FOLDER_DEPTH, MAX_FOLDER_ENTRIES, MAX_FOLDER_PATH_BYTES } from '../constants.ts'
import { FolderLimitError, InvalidManifestError, UnsafePathError } from '../errors/index.ts'
import { bytesToHex, equalBytes } from '../bytes.ts'
import { blake3 } from './hash.ts'
import { sanitizeFileName } from './names.ts'
import type { FolderEntry, FolderManifest } from './types.ts'

const FOLDER_ROOT_DOMAIN = new TextEncoder().encode('SUBWIRE-FOLDER-ROOT-V1')
const FOLDER_KEY_DOMAIN = new TextEncoder().encode('SUBWIRE-FOLDER-KEY-V1')

/**
 * The folder root: BLAKE3(`SUBWIRE-FOLDER-ROOT-V1` ‖ count u32 ‖ per entry: path length
 * u16 ‖ path UTF-8 ‖ size u64 ‖ file root), big-endian, paths as sent.
 */
export async function folderRoot (entries: readonly FolderEntry[]): Promise<Uint8Array> {
  const enc = new TextEncoder()
  const paths = entries.map((e) => enc.encode(e.path))
  const length = FOLDER_ROOT_DOMAIN.byteLength + 4 + paths.reduce((n, p) => n + 2 + p.byteLength + 8 + BLAKE3_BYTES, 0)
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  out.set(FOLDER_ROOT_DOMAIN)
  let at = FOLDER_ROOT_DOMAIN.byteLength
  view.setUint32(at, entries.length)
  at += 4
  entries.forEach((e, i) => {
    const p = paths[i] as Uint8Array
    view.setUint16(at, p.byteLength)
    out.set(p, at + 2)
    at += 2 + p.byteLength
    view.setBigUint64(at, BigInt(e.size))
    out.set(e.root, at + 8)
    at += 8 + BLAKE3_BYTES
  })
  return await blake3(out)
}

/** The resume key of a folder: BLAKE3(`SUBWIRE-FOLDER-KEY-V1` ‖ len u8 ‖ sender SS58 ‖ folder root), hex. */
export async function folderKey (senderSs58: string, root: Uint8Array): Promise<string> {
  const ss58 = new TextEncoder().encode(senderSs58)
  const bytes = new Uint8Array(FOLDER_KEY_DOMAIN.byteLength + 1 + ss58.byteLength + BLAKE3_BYTES)
  bytes.set(FOLDER_KEY_DOMAIN)
  bytes[FOLDER_KEY_DOMAIN.byteLength] = ss58.byteLength
  bytes.set(ss58, FOLDER_KEY_DOMAIN.byteLength + 1)
  bytes.set(root, FOLDER_KEY_DOMAIN.byteLength + 1 + ss58.byteLength)
  return bytesToHex(await blake3(bytes))
}

/**
 * Checks one relative path and returns it sanitised: at most {@link MAX_FOLDER_PATH_BYTES}
 * and {@link MAX_FOLDER_DEPTH} components (`FolderLimitError`); no leading `/`, drive
 * letter, backslash, or empty, `.` or `..` component (`UnsafePathError`); then each
 * component made safe by {@link sanitizeFileName} (control and bidi characters, leading
 * dots, reserved names).
 */
export function sanitizeRelativePath (path: string): string {
  if (path.length > MAX_FOLDER_PATH_BYTES || utf8Length(path) > MAX_FOLDER_PATH_BYTES) {
    throw new FolderLimitError(`a folder entry's path is longer than ${MAX_FOLDER_PATH_BYTES} UTF-8 bytes`)
  }
  if (path.startsWith('/') || path.includes('\\') || /^[A-Za-z]:/.test(path)) {
    throw new UnsafePathError(`folder entry ${JSON.stringify(path)} is not a relative path`)
  }
  const parts = path.split('/')
  if (parts.length > MAX_FOLDER_DEPTH) throw new FolderLimitError(`folder entry ${JSON.stringify(path)} is nested deeper than ${MAX_FOLDER_DEPTH} levels`)
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new UnsafePathError(`folder entry ${JSON.stringify(path)} has an empty, "." or ".." component`)
  }
  return parts.map(sanitizeFileName).join('/')
}

/**
 * Sanitises every path of a folder and checks that no two entries land on the same file,
 * nor one on a directory of another (`a` and `a/b`). Returns the safe paths, in order.
 */
export function safeFolderPaths (entries: readonly FolderEntry[]): string[] {
  const paths = entries.map((e) => sanitizeRelativePath(e.path))
  // compared case-folded: two entries differing only by case would collide on macOS and Windows
  const files = new Set<string>()
  const dirs = new Set<string>()
  for (const p of paths) {
    const key = p.toLowerCase()
    if (files.has(key) || dirs.has(key)) throw new UnsafePathError(`folder entry ${JSON.stringify(p)} collides with another entry`)
    files.add(key)
    const parts = key.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (files.has(dir)) throw new UnsafePathError(`folder entry ${JSON.stringify(p)} is inside another entry's file`)
      dirs.add(dir)
    }
  }
  return paths
}

/** The folder manifest as it travels: `{ id, name, e: [[path, size, root], …], r }`. */
export function folderToWire (m: FolderManifest): Record<string, unknown> {
  return { id: m.id, name: m.name, e: m.entries.map((e) => [e.path, e.size, e.root]), r: m.root }
}

/**
 * Parses and checks a folder manifest from the wire: the entry count against
 * {@link MAX_FOLDER_ENTRIES} before any entry is read, each entry's shape and path length,
 * and the root over the entries. Paths are returned as sent; {@link safeFolderPaths}
 * checks them.
 */
export async function folderFromWire (value: unknown): Promise<FolderManifest> {
  let m: FolderManifest
  try {
    const rec = asRecord(value, 'folder manifest')
    const list = rec.e
    if (!Array.isArray(list)) throw new InvalidManifestError('folder manifest: field "e" must be an array')
    if (list.length > MAX_FOLDER_ENTRIES) throw new FolderLimitError(`the folder has ${list.length} files, more than the ${MAX_FOLDER_ENTRIES} a folder may hold`)
    if (list.length === 0) throw new InvalidManifestError('the folder has no files')
    const entries = list.map((item: unknown, i): FolderEntry => {
      if (!Array.isArray(item) || item.length !== 3) throw new InvalidManifestError(`folder entry ${i} must be [path, size, root]`)
      const [path, size, root] = item as [unknown, unknown, unknown]
      const fields = { path, size, root }
      return {
        path: stringField(fields, 'path', `folder entry ${i}`, MAX_FOLDER_PATH_BYTES),
        size: uintField(fields, 'size', `folder entry ${i}`),
        root: bytesField(fields, 'root', `folder entry ${i}`, BLAKE3_BYTES)
      }
    })
    m = {
      id: stringField(rec, 'id', 'folder manifest', 64),
      name: stringField(rec, 'name', 'folder manifest', 4096),
      entries,
      root: bytesField(rec, 'r', 'folder manifest', BLAKE3_BYTES)
    }
  } catch (err) {
    const e = err as Error
    if (e.name === FolderLimitError.name || e.name === InvalidManifestError.name) throw e
    // a path over the limit is caught by the string reader: report it as the limit it is
    if (/folder entry \d+: field "path"/.test(e.message)) throw new FolderLimitError(e.message)
    throw new InvalidManifestError(e.message)
  }
  if (m.entries.some((e) => e.root.byteLength !== BLAKE3_BYTES) || m.root.byteLength !== BLAKE3_BYTES) throw new InvalidManifestError('folder manifest roots must be 32 bytes')
  if (m.entries.reduce((n, e) => n + e.size, 0) > Number.MAX_SAFE_INTEGER) throw new InvalidManifestError('folder too large')
  if (!equalBytes(m.root, await folderRoot(m.entries))) throw new InvalidManifestError('folder root does not match its entries')
  return m
}
