/**
 * Runs the shared storage compliance suites in the browser, against the browser bodies
 * (IndexedDB). The e2e test opens this page in Chromium and reports each case.
 */
import { IdbQueueStore, OpfsFileStore } from '@subwire/peer-web'
import { createManifest } from '@subwire/shared'
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
