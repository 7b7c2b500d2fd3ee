import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { addressBookSuite } from '@subwire/shared/testing'
import { InvalidConfigError } from '@subwire/shared'
import { FileAddressBook } from '../src/index.ts'
import { tempDir } from './helpers.ts'

addressBookSuite('file', {
  create: async () => {
    const { dir, cleanup } = await tempDir()
    const path = join(dir, 'addressbook.json')
    return { book: new FileAddressBook(path), reopen: async () => new FileAddressBook(path), cleanup }
  }
}, { describe, it })

describe('FileAddressBook', () => {
  it('writes its file owner-only', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const path = join(dir, 'addressbook.json')
      await new FileAddressBook(path).put({ ss58: 'a', peerId: 'b', addrs: [], updatedAt: 1 })
      assert.equal((await stat(path)).mode & 0o777, 0o600)
    } finally { await cleanup() }
  })

  it('reports a corrupt file with a typed error instead of starting empty', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const path = join(dir, 'addressbook.json')
      await writeFile(path, '{ not json')
      await assert.rejects(new FileAddressBook(path).list(), (e: Error) => e.name === InvalidConfigError.name)
    } finally { await cleanup() }
  })
})
