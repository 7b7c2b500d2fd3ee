#!/usr/bin/env node
// Launcher for the subwire CLI, in plain JavaScript so that it runs on any Node.
// - subwire needs Node >= 22 (libp2p 3); the project brings Node 24 through the npm
//   registry (the `node` package), so on an older system Node we run that one instead.
// - The CLI runs in a child Node with a small V8 young generation: on big machines V8
//   sizes it for throughput and an idle peer would sit at ~220 MiB instead of ~160 MiB,
//   while file transfer keeps its data outside the V8 heap anyway.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const MIN_MAJOR = 22
const V8_FLAGS = ['--max-semi-space-size=4']
const CHILD_ENV = 'SUBWIRE_LAUNCHED'
const here = dirname(fileURLToPath(import.meta.url))

function findBundledNode () {
  let dir = here
  for (;;) {
    const candidate = join(dir, 'node_modules', 'node', 'bin', 'node')
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

if (process.env[CHILD_ENV] === '1') {
  delete process.env[CHILD_ENV]
  const { main } = await import(pathToFileURL(join(here, '..', 'src', 'cli.ts')).href)
  const code = await main(process.argv.slice(2))
  process.exit(code)
} else {
  const major = Number(process.versions.node.split('.')[0])
  const node = major >= MIN_MAJOR ? process.execPath : findBundledNode()
  if (node === undefined) {
    process.stderr.write(`subwire: needs Node >= ${MIN_MAJOR} (this is ${process.version}); run "npm install" in the subwire repository to get it\n`)
    process.exit(1)
  }
  // SUBWIRE_NODE_FLAGS adds Node flags to the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const extra = (process.env.SUBWIRE_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f.length > 0)
  const child = spawn(node, [...V8_FLAGS, ...extra, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [CHILD_ENV]: '1' }
  })
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
