// Counts the modules a Node process loads, for start-up work (docs/PERFORMANCE.md,
// "CLI start-up"). Load it with `node --import`; through the CLI launcher:
//   SUBWIRE_NODE_FLAGS="--import $PWD/scripts/module-trace.mjs" subwire --home H send …
// On exit it prints `MODULES files=<n> all=<n> rss=<MiB>` on stderr. Options (environment):
//   TRACE_RE=<regexp>  print the importer chain of the first resolution of each matching URL,
//                      e.g. TRACE_RE='@polkadot/util/index\.js|wasm-crypto' to find who loads them
//   COUNT_PKG=1        also print the 25 packages with the most modules loaded
import { registerHooks } from 'node:module'
import { writeSync } from 'node:fs'

let files = 0
let all = 0
const packages = new Map()
const importer = new Map()
const traced = new Set()
const trace = process.env.TRACE_RE ? new RegExp(process.env.TRACE_RE) : undefined
const short = (url) => url.replace(/^file:\/\/.*?\/(node_modules|packages)\//, '$1/')

registerHooks({
  resolve (specifier, context, next) {
    const result = next(specifier, context)
    if (context.parentURL !== undefined && !importer.has(result.url)) importer.set(result.url, context.parentURL)
    if (trace !== undefined && trace.test(result.url) && !traced.has(result.url)) {
      traced.add(result.url)
      const chain = [result.url]
      for (let u = context.parentURL; u !== undefined && chain.length < 40; u = importer.get(u)) chain.push(u)
      writeSync(2, `TRACE ${chain.map(short).join('\n   <- ')}\n`)
    }
    return result
  },
  load (url, context, next) {
    all++
    if (url.startsWith('file:')) {
      files++
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
      const key = m !== null ? m[1] : url.includes('/packages/') ? `subwire:${url.split('/packages/')[1].split('/')[0]}` : 'other'
      packages.set(key, (packages.get(key) ?? 0) + 1)
    }
    return next(url, context)
  }
})

process.on('exit', () => {
  if (process.env.COUNT_PKG) {
    const top = [...packages].sort((a, b) => b[1] - a[1]).slice(0, 25)
    writeSync(2, `PACKAGES ${top.map(([k, v]) => `${k}=${v}`).join(' ')}\n`)
  }
  writeSync(2, `MODULES files=${files} all=${all} rss=${(process.memoryUsage().rss / 1048576).toFixed(1)}MiB\n`)
})
