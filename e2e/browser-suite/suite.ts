/**
 * Runs the shared storage compliance suites in the browser, against the browser bodies
 * (IndexedDB). The e2e test opens this page in Chromium and reports each case.
 */
import { IdbQueueStore, OpfsFileStore } from '@subwire/peer-web'
import { createManifest } from '@subwire/shared'
import { folderRoot, verifyChunksOnDisk } from '@subwire/shared/protocol'
import { queueStoreSuite } from '@subwire/shared/testing'

interface Case { name: string, fn: () => Promise<void> }
interface Result { name: string, ok: boolean, error?: string, ms: number }

const cases: Case[] = []
let prefix = ''
const runner = {
  describe: (name: string, fn: () => void): void => { const before = prefix; prefix = `${name} › `; fn(); prefix = before },
  it: (name: string, fn: () => Promise<void>): void => { cases.push({ name: prefix + name, fn }) }
}

let n = 0
queueStoreSuite('indexeddb', {
  create: async () => {
    const name = `subwire-compliance-${Date.now()}-${n++}`
    const store = await IdbQueueStore.open('', { name })
    let last = store
    return {
      store,
      reopen: async () => { last = await IdbQueueStore.open('', { name }); return last },
      cleanup: async () => { await store.close(); await last.close(); await IdbQueueStore.destroy(name) }
    }
  }
}, runner)

// The OPFS inbox: chunks written at once into the same new segment must all land (a
// writable per write would start the segment empty each time and lose chunks).
runner.describe('OpfsFileStore', () => {
  runner.it('keeps every chunk when several are written into one segment at once', async () => {
    const chunk = 64 * 1024
    const bytes = new Uint8Array(8 * chunk).map((_, i) => (i * 31 + (i >> 16)) & 0xff)
    const manifest = await createManifest({ name: 'x.bin', size: bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) }, { chunkSize: chunk })
    const store = new OpfsFileStore({ root: `compliance-${Date.now()}`, segmentBytes: 4 * chunk })
    const partial = await store.open('ab'.repeat(32), manifest, 'x.bin', '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')
    await Promise.all(Array.from({ length: 8 }, async (_, i) => { await partial.write(i * chunk, bytes.slice(i * chunk, (i + 1) * chunk)) }))
    const path = await partial.complete()
    const got = new Uint8Array(await (await store.file(path)).arrayBuffer())
    if (got.byteLength !== bytes.byteLength) throw new Error(`size ${got.byteLength}, expected ${bytes.byteLength}`)
    for (let i = 0; i < bytes.byteLength; i++) {
      if (got[i] !== bytes[i]) throw new Error(`byte ${i} differs: a concurrently written chunk was lost`)
    }
  })
})

// A folder (issue 24): entries verified into the staging, a staged entry served complete on
// a resume (not received again), and the whole folder moved into the inbox in one step.
runner.describe('OpfsFileStore folders', () => {
  runner.it('stages entries, serves a staged one complete on a resume, and moves the folder into the inbox beside one of the same name', async () => {
    const sender = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
    const chunk = 64 * 1024
    const data = [new Uint8Array(3 * chunk + 5).fill(1), new Uint8Array(10).fill(2)]
    const manifests = await Promise.all(data.map(async (d, i) => await createManifest({ name: `f${i}`, size: d.byteLength, read: async (o, l) => d.slice(o, o + l) }, { chunkSize: chunk })))
    const entries = [{ path: 'a/b/one.bin', size: data[0]?.byteLength ?? 0, root: manifests[0]?.root ?? new Uint8Array() }, { path: 'two.txt', size: 10, root: manifests[1]?.root ?? new Uint8Array() }]
    const folder = { id: 'f', name: 'set', entries, root: await folderRoot(entries) }
    const store = new OpfsFileStore({ root: `compliance-folders-${Date.now()}` })
    const land = async (): Promise<string> => {
      const staging = await store.openFolder('cd'.repeat(32), folder, 'set', sender)
      for (const [i, m] of manifests.entries()) {
        const p = await staging.open(i, (i === 0 ? 'e1' : 'e2').repeat(32), m)
        if (p.verifiedChunks < Math.ceil(m.size / chunk)) await p.write(0, data[i] as Uint8Array)
        await p.complete()
        await p.close()
      }
      // a resume of the same folder: every entry already staged comes back complete
      await staging.close()
      const again = await store.openFolder('cd'.repeat(32), folder, 'set', sender)
      for (const [i, m] of manifests.entries()) {
        const p = await again.open(i, (i === 0 ? 'e1' : 'e2').repeat(32), m)
        if (p.verifiedChunks !== Math.ceil(m.size / chunk)) throw new Error(`entry ${i} was not served complete from the staging`)
        await p.close()
      }
      return await again.complete()
    }
    const first = await land()
    const second = await land()
    if (first !== `inbox/${sender}/set` || second !== `inbox/${sender}/set (1)`) throw new Error(`landed at ${first} and ${second}`)
    const got = new Uint8Array(await (await store.file(`${first}/a/b/one.bin`)).arrayBuffer())
    if (got.byteLength !== data[0]?.byteLength || got.some((b) => b !== 1)) throw new Error('a/b/one.bin differs')
    const listed = (await store.list()).map((f) => f.name).sort()
    if (JSON.stringify(listed) !== JSON.stringify(['set (1)/a/b/one.bin', 'set (1)/two.txt', 'set/a/b/one.bin', 'set/two.txt'])) throw new Error(`listed ${JSON.stringify(listed)}`)
  })
})

// A partial copy changed between two attempts (issue 15): a resume trusts only the segments
// that still verify from the first chunk, and the final check catches what changed later.
runner.describe('OpfsFileStore integrity', () => {
  const chunk = 64 * 1024
  const sender = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
  const setup = async (): Promise<{ store: OpfsFileStore, root: string, key: string, bytes: Uint8Array, manifest: Awaited<ReturnType<typeof createManifest>> }> => {
    const bytes = new Uint8Array(8 * chunk).map((_, i) => (i * 17 + (i >> 12)) & 0xff)
    const manifest = await createManifest({ name: 'w.bin', size: bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) }, { chunkSize: chunk })
    const root = `integrity-${Date.now()}-${Math.random()}`
    const store = new OpfsFileStore({ root, segmentBytes: 2 * chunk })
    const key = 'cd'.repeat(32)
    const partial = await store.open(key, manifest, 'w.bin', sender)
    for (let i = 0; i < 6; i++) await partial.write(i * chunk, bytes.slice(i * chunk, (i + 1) * chunk))
    await partial.commit(6)
    await partial.close()
    return { store, root, key, bytes, manifest }
  }
  const segment = async (root: string, key: string, s: number): Promise<FileSystemFileHandle> => {
    const dir = await (await (await (await navigator.storage.getDirectory()).getDirectoryHandle(root)).getDirectoryHandle('partial')).getDirectoryHandle(key)
    return await dir.getFileHandle(s.toString().padStart(8, '0'))
  }
  const flip = async (handle: FileSystemFileHandle, at: number): Promise<void> => {
    const old = new Uint8Array(await (await handle.getFile()).arrayBuffer())
    const w = await handle.createWritable({ keepExistingData: true })
    await w.write({ type: 'write', position: at, data: new Uint8Array([(old[at] as number) ^ 0x5a]) })
    await w.close()
  }

  runner.it('resumes only from the segments that verify from the first chunk (a byte flipped inside the recorded prefix)', async () => {
    const { store, root, key, manifest } = await setup()
    await flip(await segment(root, key, 1), 100) // chunk 2, well inside what was recorded
    const again = await store.open(key, manifest, 'w.bin', sender)
    if (again.verifiedChunks !== 2) throw new Error(`resumed from chunk ${again.verifiedChunks}, expected 2`)
    await again.close()
  })

  runner.it('resumes from zero when the partial was replaced with zeros, and from the cut when truncated', async () => {
    const { store, root, key, manifest } = await setup()
    const h0 = await segment(root, key, 2)
    const w = await h0.createWritable({ keepExistingData: true })
    await w.truncate(chunk + 10)
    await w.close()
    let again = await store.open(key, manifest, 'w.bin', sender)
    if (again.verifiedChunks !== 4) throw new Error(`after truncation resumed from ${again.verifiedChunks}, expected 4`)
    await again.close()
    const z = await (await segment(root, key, 0)).createWritable()
    await z.write(new Uint8Array(2 * chunk))
    await z.close()
    again = await store.open(key, manifest, 'w.bin', sender)
    if (again.verifiedChunks !== 0) throw new Error(`after zeros resumed from ${again.verifiedChunks}, expected 0`)
    await again.close()
  })

  runner.it('reads back what it wrote for the final check, and rewinds to the segment of the first bad chunk', async () => {
    const { store, root, key, bytes, manifest } = await setup()
    const partial = await store.open(key, manifest, 'w.bin', sender)
    for (let i = partial.verifiedChunks; i < 8; i++) await partial.write(i * chunk, bytes.slice(i * chunk, (i + 1) * chunk))
    await flip(await segment(root, key, 2), 5) // changed after it was written
    const good = await verifyChunksOnDisk(manifest, 0, manifest.size, async (o, l) => await partial.read(o, l))
    if (good !== 4) throw new Error(`the final check found ${good} good chunks, expected 4`)
    await partial.rewind(good)
    await partial.close()
    const again = await store.open(key, manifest, 'w.bin', sender)
    if (again.verifiedChunks !== 4) throw new Error(`after the rewind resumed from ${again.verifiedChunks}, expected 4`)
    await again.close()
  })
})

runner.describe('OpfsFileStore abandoned partials', () => {
  runner.it('collects a partial untouched for longer than partialMaxAgeMs, and keeps a fresh one and one being received', async () => {
    const chunk = 64 * 1024
    const sender = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
    const bytes = new Uint8Array(2 * chunk).map((_, i) => i & 0xff)
    const manifest = await createManifest({ name: 'a.bin', size: bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) }, { chunkSize: chunk })
    const root = `collect-${Date.now()}-${Math.random()}`
    const store = new OpfsFileStore({ root, partialMaxAgeMs: 60_000 })
    for (const key of ['aa'.repeat(32), 'bb'.repeat(32)]) {
      const p = await store.open(key, manifest, 'a.bin', sender)
      await p.write(0, bytes.slice(0, chunk))
      await p.commit(1)
      await p.close()
    }
    const receiving = await store.open('cc'.repeat(32), manifest, 'a.bin', sender)
    await receiving.write(0, bytes.slice(0, chunk))
    const partials = async (): Promise<string[]> => {
      const dir = await (await (await navigator.storage.getDirectory()).getDirectoryHandle(root)).getDirectoryHandle('partial')
      const keys: string[] = []
      for await (const [k] of (dir as unknown as { entries: () => AsyncIterable<[string, unknown]> }).entries()) keys.push(k)
      return keys.sort()
    }
    if (await store.collect() !== 0) throw new Error('collected fresh partials')
    // an hour later every partial is older than a minute; the one being received stays
    const removed = await store.collect(Date.now() + 3_600_000)
    const left = await partials()
    if (removed !== 2 || left.join() !== 'cc'.repeat(32)) throw new Error(`collected ${removed}, left ${left.join()}`)
    if (await store.partialBytes('aa'.repeat(32)) !== 0) throw new Error('a collected partial still counts bytes')
    await receiving.close()
    if (await store.collect(Date.now() + 3_600_000) !== 1 || (await partials()).length !== 0) throw new Error('the partial closed since was not collected')
  })
})

async function run (): Promise<Result[]> {
  const results: Result[] = []
  for (const c of cases) {
    const t0 = performance.now()
    try {
      await c.fn()
      results.push({ name: c.name, ok: true, ms: performance.now() - t0 })
    } catch (err) {
      results.push({ name: c.name, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), ms: performance.now() - t0 })
    }
  }
  const out = document.getElementById('out')
  if (out !== null) out.textContent = results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.error === undefined ? '' : ` — ${r.error}`}`).join('\n')
  return results
}

;(globalThis as unknown as { subwireSuite: Promise<Result[]> }).subwireSuite = run()
