/**
 * The process's ICE UDP mux listeners for WebRTC-Direct, owned by one worker thread and
 * never stopped: a stopped peer's listener is parked and handed to the next peer that
 * listens on the same host.
 *
 * Why: node-datachannel 0.33.4 (libdatachannel's `impl::IceUdpMuxListener`) never
 * initialises its `mStopped` flag, so `IceUdpMuxListener.stop()` is a no-op whenever the
 * heap happened to hold a non-zero byte there (1 stop in 3 here). The listener is then
 * freed while libjuice's mux thread keeps calling its unhandled-STUN callback with the
 * freed pointer: the next binding request with an unknown ufrag on that port (a browser
 * retrying a stopped peer, or anyone on the network) kills the process with SIGSEGV, or
 * with `std::system_error: Invalid argument` from locking the freed mutex. Nothing in the
 * binding can undo a lost unregistration, so a listener must never be freed; and as its
 * thread-safe callback keeps its event loop alive, it lives in an unreferenced worker,
 * which lets the process exit. The cost: a stopped peer's UDP port stays bound (answering
 * nothing) until another peer in the process reuses it or the process exits. At exit the
 * worker stops them (its teardown would deadlock in node-datachannel's finalizer), with a
 * short window in which a stray request could still crash the exiting process.
 *
 * @packageDocumentation
 */
import { createSocket } from 'node:dgram'
import { Worker } from 'node:worker_threads'

/** How long an exiting process waits for the worker to stop its listeners. */
const EXIT_STOP_WAIT_MS = 2_000

/** A listener handed to one WebRTC-Direct listener until it closes. */
export interface UdpMuxLease {
  /** The UDP port it listens on. */
  port: number
  /** Parks the listener: requests are dropped until a later lease takes it. */
  close(): Promise<void>
}

/** An unhandled STUN binding request: a new ICE client on the port. */
export type StunRequestHandler = (ufrag: string, host: string, port: number) => void

type Reply = { op: 'opened', id: number, port: number } | { op: 'failed', id: number, message: string }
  | { op: 'parked', id: number } | { op: 'stun', id: number, ufrag: string, host: string, port: number }

/** A free UDP port on `host`, from the OS (libjuice does not map port 0 itself). */
async function freeUdpPort (host: string): Promise<number> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
  return await new Promise<number>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, host, () => {
      const { port } = socket.address()
      socket.close(() => { resolve(port) })
    })
  })
}

/** The worker and the leases on its listeners. */
export class UdpMuxPool {
  #worker: Worker | undefined
  #next = 1
  readonly #waiting = new Map<number, { resolve: (reply: Reply) => void, reject: (err: Error) => void }>()
  readonly #handlers = new Map<number, StunRequestHandler>()

  /**
   * Opens a listener on `host:port` (port 0: a parked one on `host`, else a free port) and
   * sends each unhandled STUN binding request on it to `onRequest` until the lease closes.
   */
  async open (host: string, port: number, onRequest: StunRequestHandler): Promise<UdpMuxLease> {
    const id = this.#next++
    const any = port === 0
    const reply = await this.#ask({ op: 'open', id, host, port: any ? await freeUdpPort(host) : port, any })
    if (reply.op === 'failed') throw new Error(`ICE UDP mux listener on ${host}:${port}: ${reply.message}`)
    if (reply.op !== 'opened') throw new Error(`unexpected reply ${reply.op} from the UDP mux worker`)
    this.#handlers.set(id, onRequest)
    this.#ref()
    let closed: Promise<void> | undefined
    return {
      port: reply.port,
      close: async () => {
        closed ??= (async () => {
          this.#handlers.delete(id)
          try { await this.#ask({ op: 'park', id }) } finally { this.#ref() }
        })()
        await closed
      }
    }
  }

  /** Sends a request to the worker and waits for its reply. */
  async #ask (request: { op: string, id: number } & Record<string, unknown>): Promise<Reply> {
    const worker = this.#start()
    const reply = new Promise<Reply>((resolve, reject) => { this.#waiting.set(request.id, { resolve, reject }) })
    this.#ref()
    worker.postMessage(request)
    try {
      return await reply
    } finally {
      this.#waiting.delete(request.id)
      this.#ref()
    }
  }

  /** Keeps the process alive only while a lease is open or a request is waiting. */
  #ref (): void {
    if (this.#handlers.size > 0 || this.#waiting.size > 0) this.#worker?.ref()
    else this.#worker?.unref()
  }

  #start (): Worker {
    if (this.#worker !== undefined) return this.#worker
    const stopped = new Int32Array(new SharedArrayBuffer(4))
    const worker = new Worker(new URL('./udp-mux-worker.ts', import.meta.url), { workerData: { stopped } })
    let running = true
    process.once('exit', () => {
      if (!running) return
      worker.postMessage({ op: 'shutdown' })
      Atomics.wait(stopped, 0, 0, EXIT_STOP_WAIT_MS)
    })
    worker.on('message', (m: Reply) => {
      if (m.op === 'stun') { this.#handlers.get(m.id)?.(m.ufrag, m.host, m.port); return }
      this.#waiting.get(m.id)?.resolve(m)
    })
    const fail = (err: Error): void => {
      this.#worker = undefined
      for (const w of this.#waiting.values()) w.reject(err)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => {
      running = false
      fail(new Error(`the UDP mux worker exited with code ${code}`))
    })
    this.#worker = worker
    return worker
  }
}

let shared: UdpMuxPool | undefined
/** The process's pool (native listeners are process-wide, so one pool is). Created on first use. */
export function udpMuxPool (): UdpMuxPool {
  shared ??= new UdpMuxPool()
  return shared
}
