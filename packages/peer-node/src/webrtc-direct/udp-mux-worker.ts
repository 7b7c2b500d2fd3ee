// The worker thread that owns node-datachannel's ICE UDP mux listeners for the whole
// process (see udp-mux-pool.ts for why they live here and are never stopped).
//
// From the pool: { op: 'open', id, host, port, any } opens a listener on host:port, or
// (with `any`) takes over any parked one on that host; { op: 'park', id } parks lease
// `id`'s listener. To the pool: { op: 'opened', id, port } | { op: 'failed', id, message }
// | { op: 'parked', id } | { op: 'stun', id, ufrag, host, port } (an unhandled STUN
// binding request on lease `id`'s port). { op: 'shutdown' } (the process is exiting) stops
// every listener, then sets `workerData.stopped[0]` to 1 and wakes the waiting main thread:
// left to the worker's teardown, node-datachannel's finalizer deadlocks releasing its
// thread-safe callback, and the process never exits.
import { parentPort, workerData } from 'node:worker_threads'
import { IceUdpMuxListener } from 'node-datachannel'

/** What the pool asks. */
type Request = { op: 'open', id: number, host: string, port: number, any: boolean } | { op: 'park', id: number } | { op: 'shutdown' }

/** One native listener, kept for the life of the process. */
interface Held {
  /** Referenced so that it is never collected (its finalizer frees what libjuice still points at). */
  listener: IceUdpMuxListener
  host: string
  port: number
  /** The lease using it now; 0 while parked. */
  lease: number
}

const held: Held[] = []
const port = parentPort
if (port === null) throw new Error('udp-mux-worker.ts runs as a worker thread')

function open (m: Extract<Request, { op: 'open' }>): void {
  let h = held.find((x) => x.lease === 0 && x.host === m.host && (m.any || x.port === m.port))
  if (h === undefined) {
    const listener = new IceUdpMuxListener(m.port, m.host)
    const fresh: Held = { listener, host: m.host, port: m.port, lease: 0 }
    listener.onUnhandledStunRequest((r) => {
      if (fresh.lease !== 0) port?.postMessage({ op: 'stun', id: fresh.lease, ufrag: r.ufrag, host: r.host, port: r.port })
    })
    held.push(fresh)
    h = fresh
  }
  h.lease = m.id
  port?.postMessage({ op: 'opened', id: m.id, port: h.port })
}

const stopped = (workerData as { stopped: Int32Array }).stopped

port.on('message', (m: Request) => {
  if (m.op === 'shutdown') {
    for (const h of held.splice(0)) {
      try { h.listener.stop() } catch {}
    }
    Atomics.store(stopped, 0, 1)
    Atomics.notify(stopped, 0)
    return
  }
  if (m.op === 'park') {
    for (const h of held) if (h.lease === m.id) h.lease = 0
    port.postMessage({ op: 'parked', id: m.id })
    return
  }
  try {
    open(m)
  } catch (err) {
    port.postMessage({ op: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) })
  }
})
