#!/usr/bin/env node
// Launcher for the subwire CLI. It is plain JavaScript so that it runs on any Node:
// subwire needs Node >= 22 (libp2p 3), and the project brings Node 24 through the npm
// registry (the `node` package), so on an older system Node we re-run ourselves on it.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const MIN_MAJOR = 22
const major = Number(process.versions.node.split('.')[0])
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

if (major >= MIN_MAJOR) {
  const { main } = await import(pathToFileURL(join(here, '..', 'src', 'cli.ts')).href)
  process.exitCode = await main(process.argv.slice(2))
} else {
  const node = findBundledNode()
  if (node === undefined) {
    process.stderr.write(`subwire: needs Node >= ${MIN_MAJOR} (this is ${process.version}); run "npm install" in the subwire repository to get it\n`)
    process.exit(1)
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { child.kill(sig) })
  child.on('exit', (code, signal) => {
    if (signal !== null) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
}
