#!/usr/bin/env node
// Launcher for the subwire CLI, in plain JavaScript so that it runs on any Node.
// - subwire needs Node >= 22 (libp2p 3); the project brings Node 24 through the npm
//   registry (the `node` package), so on an older system Node we run that one instead.
// - The CLI runs in a child Node with a small V8 young generation: on big machines V8
//   sizes it for throughput and an idle peer would sit at ~220 MiB instead of ~160 MiB,
//   while file transfer keeps its data outside the V8 heap anyway.
// - `subwire listen --webtransport` runs under Deno instead (brought as the `deno` npm
//   package): Deno has the HTTP/3 server WebTransport needs, Node has none. The same
//   peer, with every other transport, runs there.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { findBundledNode, findDeno } from './runtimes.js'

const MIN_MAJOR = 22
// A small V8 young generation: a file transfer's buffers are held by small JS objects, so a
// larger one lets dead 64 KiB-1 MiB backing stores pile up between scavenges.
// - Deno (Noise only): 2 MiB semi-spaces. 1 GiB over TCP between two CLI homes (5 alternated
//   runs each, 2026-12-01, Noise): receiver peak RSS 242-258 MiB against 285-299 at 4 MiB,
//   sender 215-230 against 246-255, the same time (docs/PERFORMANCE.md, "Peak RSS of a transfer").
// - Node: 1 MiB. Node peers speak TLS to each other, whose records come out of node:tls as
//   small buffers; at 2 MiB the sender of 1 GiB peaked at 313-336 MiB and spent 4.6-5.5 CPU s,
//   at 1 MiB 260-288 MiB and 2.6-3.2 s, 18 % faster end to end (6 alternated runs each,
//   2026-12-02); QUIC RPC at 32 in flight, two runs each: 1 KiB 35-43k against 42-43k req/s,
//   100 KiB 1,420-1,446 against 1,078-1,132 (docs/PERFORMANCE.md, "TLS between Node peers").
//   What still comes in over Noise (browsers, a peer under Deno) peaked higher on a Node
//   receiver at 1 MiB: 256-346 MiB against 247-294 for 1 GiB.
const DENO_V8_FLAGS = ['--max-semi-space-size=2']
// Node's V8 only (Deno 2.9's does not know it): count ArrayBuffer memory in V8's global heap
// limit instead of forcing a full GC per ~64 MiB of new buffers. A file transfer allocates
// several 1 MiB buffers per chunk; without it both ends ran a mark-compact every 60-80 ms
// (1 GiB: 136 and 120 of them), with it half as many and about 50 % more MB/s, for
// 30-60 MiB more peak RSS (docs/PERFORMANCE.md, "Large RPC and files").
const NODE_V8_FLAGS = ['--max-semi-space-size=1', '--external-memory-accounted-in-global-limit']
const CHILD_ENV = 'SUBWIRE_LAUNCHED'
const here = dirname(fileURLToPath(import.meta.url))
// In the repository the CLI runs from its TypeScript sources; an installed package (npm
// pack, scripts/pack.mjs) ships them compiled to lib/, since Node strips no types under node_modules.
const layout = existsSync(join(here, '..', 'src')) ? { dir: 'src', ext: '.ts' } : { dir: 'lib', ext: '.js' }
const entry = (...path) => join(here, '..', layout.dir, ...path.slice(0, -1), path[path.length - 1] + layout.ext)

/** `listen --webtransport` (with or without a value) runs under Deno. */
function wantsDeno (args) {
  return args.includes('listen') && args.some((a) => a === '--webtransport' || a.startsWith('--webtransport='))
}

/** Runs `cmd args` with our signals passed on, and exits as it exits. */
function runChild (cmd, args) {
  // the child stops by itself if this process dies, even by SIGKILL (src/cli/orphan.ts)
  const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, [CHILD_ENV]: '1', SUBWIRE_LAUNCHER_PID: String(process.pid) } })
  // the child handles SIGINT/SIGTERM itself (clean shutdown); we only pass them on
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { child.kill(sig) })
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
    } else {
      process.exit(code ?? 1)
    }
  })
}

if (process.env[CHILD_ENV] === '1') {
  delete process.env[CHILD_ENV]
  // V8's code cache on disk (Node >= 22.1; NODE_DISABLE_COMPILE_CACHE=1 turns it off): the CLI
  // loads ~1,400 modules, and a one-shot command (a send, a query) spent most of its start-up
  // compiling them again each time. Deno has no such call; a failure to open the cache is harmless.
  try { (await import('node:module')).enableCompileCache?.() } catch {}
  const { stopWithLauncher } = await import(pathToFileURL(entry('cli', 'orphan')).href)
  stopWithLauncher()
  const { main } = await import(pathToFileURL(entry('cli', 'main')).href)
  const code = await main(process.argv.slice(2))
  process.exit(code)
} else if (wantsDeno(process.argv.slice(2))) {
  const deno = findDeno()
  if (deno === undefined) {
    process.stderr.write('subwire: --webtransport runs the peer under Deno; run "npm install" in the subwire repository (or install @subwire/peer-node with npm) to get it, or set SUBWIRE_DENO\n')
    process.exit(1)
  }
  // --unstable-net: Deno.QuicEndpoint and Deno.upgradeWebTransport; the peer reads its home,
  // binds sockets and loads the QUIC and WebRTC native modules, hence --allow-all
  // SUBWIRE_DENO_FLAGS adds Deno flags, e.g. "--inspect=127.0.0.1:9229"
  const extra = (process.env.SUBWIRE_DENO_FLAGS ?? '').split(/\s+/).filter((f) => f.length > 0)
  runChild(deno, ['run', '--allow-all', '--unstable-net', '--no-prompt', '--quiet', `--v8-flags=${DENO_V8_FLAGS.join(',')}`, ...extra, entry('deno-main'), ...process.argv.slice(2)])
} else {
  const major = Number(process.versions.node.split('.')[0])
  const node = major >= MIN_MAJOR ? process.execPath : findBundledNode()
  if (node === undefined) {
    process.stderr.write(`subwire: needs Node >= ${MIN_MAJOR} (this is ${process.version}); run "npm install" in the subwire repository (or install @subwire/peer-node with npm) to get it\n`)
    process.exit(1)
  }
  // SUBWIRE_NODE_FLAGS adds Node flags to the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const extra = (process.env.SUBWIRE_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f.length > 0)
  runChild(node, [...NODE_V8_FLAGS, ...extra, fileURLToPath(import.meta.url), ...process.argv.slice(2)])
}
