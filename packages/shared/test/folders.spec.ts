import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { FolderLimitError, InvalidManifestError, MAX_FOLDER_ENTRIES, sanitizeRelativePath, UnsafePathError } from '@subwire/shared'
import { encodeValue, folderFromWire, folderKey, folderRoot, folderToWire, manifestFromWire, manifestToWire, safeFolderPaths } from '@subwire/shared/protocol'
import { blake3 } from '../src/files/hash.ts'
import type { FileManifest, FolderEntry } from '@subwire/shared'

const entry = (path: string, size = 0): FolderEntry => ({ path, size, root: new Uint8Array(32).fill(path.length) })

describe('folder manifests', () => {
  it('round-trips a folder manifest and checks its root', async () => {
    const entries = [entry('a.txt', 3), entry('sub/b.bin', 1 << 20), entry('sub/deeper/c', 0)]
    const m = { id: '00000000-0000-4000-8000-000000000003', name: 'data', entries, root: await folderRoot(entries) }
    const back = await folderFromWire(folderToWire(m))
    assert.deepEqual(back, m)
    const tampered = { ...folderToWire(m), e: [['a.txt', 4, entries[0]?.root], ...folderToWire(m).e as unknown[]].slice(0, 3) }
    await assert.rejects(folderFromWire(tampered), { name: InvalidManifestError.name })
  })

  it('the folder key depends on the sender and the root only', async () => {
    const root = await blake3(new Uint8Array([1]))
    assert.equal(await folderKey('5Grw', root), await folderKey('5Grw', root))
    assert.notEqual(await folderKey('5Grw', root), await folderKey('5FHn', root))
  })

  it('rejects more entries than the limit before reading any of them', async () => {
    const e = new Array(MAX_FOLDER_ENTRIES + 1).fill(null) // not even entries: the count is checked first
    await assert.rejects(folderFromWire({ id: 'x', name: 'n', e, r: new Uint8Array(32) }), { name: FolderLimitError.name })
    await assert.rejects(folderFromWire({ id: 'x', name: 'n', e: [], r: new Uint8Array(32) }), { name: InvalidManifestError.name })
    await assert.rejects(folderFromWire({ id: 'x', name: 'n', e: [['p'.repeat(1025), 0, new Uint8Array(32)]], r: new Uint8Array(32) }), { name: FolderLimitError.name })
  })

  it('refuses absolute, parent, empty and dot components, drive letters and backslashes', () => {
    for (const p of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/.', 'C:/x', 'a\\..\\b', '']) {
      assert.throws(() => sanitizeRelativePath(p), { name: UnsafePathError.name }, p)
    }
    assert.throws(() => sanitizeRelativePath(new Array(40).fill('d').join('/')), { name: FolderLimitError.name })
  })

  it('sanitises each component as a file name: control and bidi characters, leading dots, reserved names', () => {
    assert.equal(sanitizeRelativePath('docs/invoice\u202Efdp.exe'), 'docs/invoice_fdp.exe')
    assert.equal(sanitizeRelativePath('.git/config'), '_git/config')
    assert.equal(sanitizeRelativePath('a\u0000b/con'), 'a_b/_con')
    assert.equal(sanitizeRelativePath('nested dir/ok.txt'), 'nested dir/ok.txt')
  })

  it('refuses two entries that land on the same file, or a file inside another entry', () => {
    assert.throws(() => safeFolderPaths([entry('a/b'), entry('a/b')]), { name: UnsafePathError.name })
    assert.throws(() => safeFolderPaths([entry('A/b'), entry('a/B')]), { name: UnsafePathError.name })
    assert.throws(() => safeFolderPaths([entry('a'), entry('a/b')]), { name: UnsafePathError.name })
    assert.throws(() => safeFolderPaths([entry('a/b'), entry('a')]), { name: UnsafePathError.name })
    assert.throws(() => safeFolderPaths([entry('x\u0001'), entry('x\u0002')]), { name: UnsafePathError.name })
    assert.deepEqual(safeFolderPaths([entry('a/b'), entry('a/c'), entry('b')]), ['a/b', 'a/c', 'b'])
  })

  it('never yields a path that leaves the folder (property)', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.constantFrom('..', '.', '', '/', '\\', 'C:', '\u202E', '\u0000', 'a'), fc.string()), { minLength: 1, maxLength: 6 }), (parts) => {
      let out: string
      try { out = sanitizeRelativePath(parts.join('/')) } catch (err) {
        assert.ok([UnsafePathError.name, FolderLimitError.name].includes((err as Error).name))
        return
      }
      assert.ok(!out.startsWith('/'))
      for (const c of out.split('/')) {
        assert.ok(c !== '' && c !== '.' && c !== '..' && !c.startsWith('.'))
        // eslint-disable-next-line no-control-regex
        assert.ok(!/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069\\]/.test(c))
      }
    }))
  })

  it('keeps a single file\'s manifest byte-identical: `f` only for a folder entry', async () => {
    const m: FileManifest = { id: 'i', name: 'n', size: 0, chunkSize: 1 << 20, chunkHashes: new Uint8Array(), root: new Uint8Array(32) }
    assert.deepEqual(Object.keys(manifestToWire(m)), ['id', 'name', 'size', 'cs', 'h', 'r'])
    const inFolder = manifestToWire({ ...m, folder: { id: 'f', index: 3 } })
    assert.deepEqual(inFolder.f, { id: 'f', i: 3 })
    assert.ok(encodeValue(inFolder).byteLength > encodeValue(manifestToWire(m)).byteLength)
    const { fileRoot } = await import('@subwire/shared/protocol')
    const real = { ...m, root: await fileRoot(0, 1 << 20, new Uint8Array()) }
    assert.deepEqual((await manifestFromWire(manifestToWire({ ...real, folder: { id: 'f', index: 3 } }))).folder, { id: 'f', index: 3 })
    assert.equal((await manifestFromWire(manifestToWire(real))).folder, undefined)
  })
})
