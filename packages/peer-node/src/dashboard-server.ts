/**
 * Serves the built dashboard (a static directory) over HTTP on a local address, with a
 * `/subwire.json` that tells the page which peer to connect to.
 *
 * @packageDocumentation
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize, resolve, sep } from 'node:path'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon'
}

/** What the page learns from `/subwire.json`. */
export interface DashboardHostConfig {
  /** Browser-dialable addresses of the peer (WebRTC-Direct first). */
  peer: string[]
  /** Whether the page may dial loopback/LAN addresses. */
  allowPrivateAddresses: boolean
  /** Subnets the peer serves. */
  netuids: number[]
}

/** A running dashboard server. */
export interface DashboardServer {
  /** `http://host:port/`. */
  url: string
  /** Stops serving. */
  close(): Promise<void>
}

/** Serves `dir` on `host:port` (port 0: any free port). */
export async function serveDashboard (init: { dir: string, host?: string, port?: number, config: () => DashboardHostConfig }): Promise<DashboardServer> {
  const root = resolve(init.dir)
  await stat(join(root, 'index.html'))
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return }
      if (url.pathname === '/subwire.json') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(init.config()))
        return
      }
      const path = normalize(join(root, decodeURIComponent(url.pathname)))
      if (path !== root && !path.startsWith(root + sep)) { res.writeHead(403).end(); return }
      let file = path
      try {
        if ((await stat(file)).isDirectory()) file = join(file, 'index.html')
        const s = await stat(file)
        res.writeHead(200, {
          'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
          'content-length': s.size,
          'x-content-type-options': 'nosniff',
          'cache-control': file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache'
        })
        if (req.method === 'HEAD') { res.end(); return }
        createReadStream(file).pipe(res)
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      }
    })()
  })
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, init.host ?? '127.0.0.1', () => { resolvePromise() })
  })
  const { address, port } = server.address() as AddressInfo
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
    close: async () => { await new Promise<void>((r) => { server.close(() => { r() }); server.closeAllConnections() }) }
  }
}

/** The addresses a browser can dial, WebRTC-Direct first, then WebSockets. */
export function browserAddresses (multiaddrs: string[]): string[] {
  const rank = (a: string): number => a.includes('/webtransport') ? 0 : a.includes('/webrtc-direct') ? 1 : a.includes('/ws') ? 2 : 3
  return multiaddrs.filter((a) => rank(a) < 3).sort((a, b) => rank(a) - rank(b))
}
