/**
 * Runs the shared storage compliance suites in the browser, against the browser bodies
 * (IndexedDB). The e2e test opens this page in Chromium and reports each case.
 */
import { IdbQueueStore } from '@subwire/peer-web'
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
