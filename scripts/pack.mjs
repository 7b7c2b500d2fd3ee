#!/usr/bin/env node
// npm pack of a workspace package (its prepack and postpack scripts): what is published
// must run from node_modules, where Node refuses to strip TypeScript types. prepack
// compiles src/**/*.ts to lib/**/*.js (Node's own type stripping, the very transform the
// repository runs under) with the relative `.ts` imports rewritten to `.js`, puts the
// declarations `tsc -b` emits beside them, and points the package.json's exports at
// lib/ (the original is kept in package.json.orig); postpack puts the original back.
// Plain JavaScript: npm may run it on Node 20, and then it re-runs itself on the Node 24
// the project brings.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import module from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkgDir = process.cwd()
const mode = process.argv[2]
const ORIG = 'package.json.orig'

/** Relative `.ts` specifiers (`from './x.ts'`, `import('./x.ts')`) to `.js`. */
const rewrite = (code) => code.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1$2.js$3')

function* tsFiles (dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * tsFiles(p)
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p
  }
}

/** `./src/a/b.ts` → `./lib/a/b.js` (and `.d.ts` for types). */
const toLib = (target, ext) => target.replace(/^\.\/src\//, './lib/').replace(/\.ts$/, ext)

function exportsFor (exp) {
  if (typeof exp === 'string') return { types: toLib(exp, '.d.ts'), import: toLib(exp, '.js') }
  const out = {}
  for (const [k, v] of Object.entries(exp)) {
    out[k] = typeof v === 'object' && v !== null && 'import' in v ? { types: toLib(v.import, '.d.ts'), import: toLib(v.import, '.js') } : exportsFor(v)
  }
  return out
}

function prepack () {
  if (typeof module.stripTypeScriptTypes !== 'function') {
    const node = join(root, 'node_modules', 'node', 'bin', 'node')
    const r = spawnSync(node, [fileURLToPath(import.meta.url), mode], { stdio: 'inherit' })
    process.exit(r.status ?? 1)
  }
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', pkgDir], { stdio: 'inherit' })
  if (tsc.status !== 0) throw new Error('tsc -b failed')
  const lib = join(pkgDir, 'lib')
  rmSync(lib, { recursive: true, force: true })
  const src = join(pkgDir, 'src')
  for (const file of tsFiles(src)) {
    const rel = relative(src, file)
    const out = join(lib, rel.replace(/\.ts$/, '.js'))
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, rewrite(module.stripTypeScriptTypes(readFileSync(file, 'utf8'), { mode: 'strip' })))
    const dts = join(pkgDir, 'dist', 'src', rel.replace(/\.ts$/, '.d.ts'))
    if (existsSync(dts)) writeFileSync(out.replace(/\.js$/, '.d.ts'), rewrite(readFileSync(dts, 'utf8')))
  }
  const pkgPath = join(pkgDir, 'package.json')
  if (!existsSync(join(pkgDir, ORIG))) copyFileSync(pkgPath, join(pkgDir, ORIG))
  const pkg = JSON.parse(readFileSync(join(pkgDir, ORIG), 'utf8'))
  pkg.exports = exportsFor(pkg.exports)
  pkg.files = ['lib', ...(pkg.files ?? []).filter((f) => f !== 'src')]
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n')
}

function postpack () {
  const orig = join(pkgDir, ORIG)
  if (existsSync(orig)) renameSync(orig, join(pkgDir, 'package.json'))
}

if (mode === 'prepack') prepack()
else if (mode === 'postpack') postpack()
else throw new Error('usage: pack.mjs prepack|postpack (run by npm pack in a package folder)')
