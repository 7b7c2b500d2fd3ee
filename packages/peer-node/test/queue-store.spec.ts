import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { queueStoreSuite, sampleRecord } from '@subwire/shared/testing'
import { NodeFileSource, nodeFileReferencer, SqliteQueueStore } from '../src/index.ts'
import { tempDir } from './helpers.ts'

queueStoreSuite('sqlite', {
  create: async () => {
    const { dir, cleanup } = await tempDir()
    const path = join(dir, 'outbox.db')
    const store = await SqliteQueueStore.open(path)
    let last: SqliteQueueStore = store
    return {
      store,
      reopen: async () => { last = await SqliteQueueStore.open(path); return last },
      cleanup: async () => { await store.close(); await last.close(); await cleanup() }
    }
  }
}, { describe, it })

describe('SqliteQueueStore', () => {
  it('is owner-only on disk', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const store = await SqliteQueueStore.open(join(dir, 'outbox.db'))
      await store.add(sampleRecord('x'))
      assert.equal((await stat(join(dir, 'outbox.db'))).mode & 0o777, 0o600)
      await store.close()
    } finally { await cleanup() }
  })

  it('shares one lease between two processes\' handles on the same file', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const a = await SqliteQueueStore.open(join(dir, 'outbox.db'))
      const b = await SqliteQueueStore.open(join(dir, 'outbox.db'))
      assert.equal(await a.lease('A', 10_000, 1000), true)
      assert.equal(await b.lease('B', 10_000, 2000), false, 'the second handle sees the first one\'s lease')
      await a.add(sampleRecord('seen-by-b'))
      assert.equal((await b.list()).length, 1, 'a write through one handle is visible through the other')
      await a.close()
      await b.close()
    } finally { await cleanup() }
  })

  it('refuses a file that is not an outbox with a clear error', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      await writeFile(join(dir, 'outbox.db'), 'this is not a database, just text long enough to have a header......')
      await assert.rejects(SqliteQueueStore.open(join(dir, 'outbox.db')), /not a database/)
    } finally { await cleanup() }
  })

  it('renews its lease without an fsync (it ran on the event loop during transfers) while deliveries still sync', { skip: !existsSync('/usr/bin/strace') && 'needs strace (Debian package strace)' }, async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const script = join(dir, 'leases.ts')
      const storeUrl = new URL('../src/queue-store.ts', import.meta.url).href
      await writeFile(script, [
        `import { SqliteQueueStore } from ${JSON.stringify(storeUrl)}`,
        'const store = await SqliteQueueStore.open(process.argv[3])',
        'const kind = process.argv[2]',
        'for (let i = 0; i < 40; i++) {',
        "  if (kind === 'none') break",
        "  if (kind === 'lease') await store.lease('A', 15_000, 1000 + i)",
        "  else await store.markDelivered('5Sender', `m${i}`, 1000 + i)",
        '}',
        'await store.close()'
      ].join('\n'))
      const syncs = (kind: string): number => {
        const r = spawnSync('/usr/bin/strace', ['-f', '-c', '-e', 'trace=fsync,fdatasync', process.execPath, script, kind, join(dir, `${kind}.db`)], { encoding: 'utf8' })
        assert.equal(r.status, 0, r.stderr)
        return [...r.stderr.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)(?:\s+\d+)?\s+f(?:data)?sync$/gm)].reduce((n, m) => n + Number(m[1]), 0)
      }
      // creating a store (schema, WAL) and closing it (checkpoint) sync a few times of their own
      const base = syncs('none')
      const leases = syncs('lease') - base
      const deliveries = syncs('deliver') - base
      assert.ok(deliveries >= 40, `40 deliveries synced ${deliveries} times (synchronous=FULL must stay for data)`)
      assert.ok(leases <= 2, `40 lease renewals synced ${leases} times`)
    } finally { await cleanup() }
  })
})

describe('nodeFileReferencer', () => {
  it('references a file by path, size and mtime and refuses it once changed', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const path = join(dir, 'a.bin')
      await writeFile(path, 'hello')
      const src = await NodeFileSource.open(path)
      const ref = await nodeFileReferencer.reference(src)
      await src.close()
      assert.ok(ref !== undefined)
      const again = await nodeFileReferencer.open(ref)
      assert.equal(new TextDecoder().decode(await again.read(0, 5)), 'hello')
      await again.close?.()
      await new Promise((resolve) => setTimeout(resolve, 20))
      await writeFile(path, 'hellO')
      await assert.rejects(nodeFileReferencer.open(ref), (e: Error) => e.name === 'SourceChangedError' && /changed since it was queued/.test(e.message))
      assert.equal(await nodeFileReferencer.reference({ name: 'x', size: 1, read: async () => new Uint8Array(1) }), undefined, 'a source that is not a file is copied, not referenced')
    } finally { await cleanup() }
  })
})
