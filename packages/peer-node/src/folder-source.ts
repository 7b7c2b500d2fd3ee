/**
 * A directory on disk as a {@link FolderSource}: its regular files, found by a walk that
 * never follows a symbolic link (a link is listed as skipped, so a folder cannot pull in
 * files from outside itself), each opened only when it is hashed or sent.
 *
 * @packageDocumentation
 */
import { lstat, readdir } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { FolderLimitError, InvalidConfigError, MAX_FOLDER_DEPTH, MAX_FOLDER_ENTRIES } from '@subwire/shared'
import { NodeFileSource } from './file-source.ts'
import type { FolderSource, FolderSourceEntry } from '@subwire/shared'
import type { Outboard } from './outboard.ts'

/** Options of {@link NodeFolderSource.open}. */
export interface NodeFolderSourceInit {
  /** The folder's name offered (default the directory's base name). */
  name?: string | undefined
  /** Keeps each file's chunk hashes between sends (see {@link NodeFileSource}). */
  outboard?: Outboard | undefined
}

/** A directory, listed for sending. */
export class NodeFolderSource implements FolderSource {
  readonly name: string
  readonly entries: readonly FolderSourceEntry[]
  /** The directory it was listed from. */
  readonly path: string
  /** Relative paths left out: symbolic links and anything not a regular file or directory. */
  readonly skipped: readonly string[]

  private constructor (path: string, name: string, entries: FolderSourceEntry[], skipped: string[]) {
    this.path = path
    this.name = name
    this.entries = entries
    this.skipped = skipped
  }

  /** Lists a directory's files, sorted by relative path. */
  static async open (path: string, init: NodeFolderSourceInit = {}): Promise<NodeFolderSource> {
    const root = resolve(path)
    const s = await lstat(root)
    if (!s.isDirectory()) throw new InvalidConfigError(`${path} is not a directory`)
    const entries: FolderSourceEntry[] = []
    const skipped: string[] = []
    const walk = async (dir: string, rel: string[]): Promise<void> => {
      if (rel.length >= MAX_FOLDER_DEPTH) throw new FolderLimitError(`${join(root, ...rel)} is nested deeper than ${MAX_FOLDER_DEPTH} levels`)
      const items = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      for (const item of items) {
        const parts = [...rel, item.name]
        const full = join(dir, item.name)
        if (item.isDirectory()) {
          await walk(full, parts)
        } else if (item.isFile()) {
          if (entries.length >= MAX_FOLDER_ENTRIES) throw new FolderLimitError(`${path} holds more than the ${MAX_FOLDER_ENTRIES} files one transfer may carry`)
          const { size } = await lstat(full)
          const relPath = parts.join('/')
          entries.push({ path: relPath, size, open: async () => await NodeFileSource.open(full, relPath, { outboard: init.outboard }) })
        } else {
          skipped.push(parts.join('/'))
        }
      }
    }
    await walk(root, [])
    return new NodeFolderSource(root, init.name ?? basename(root), entries, skipped)
  }
}
