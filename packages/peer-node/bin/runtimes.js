// Where the runtimes the project brings through the npm registry live, in plain JavaScript
// so that the launcher can use it on any Node (and tests can share it).
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/** The first `node_modules/<path>` that exists from this package's folder upwards. */
function findInNodeModules (...path) {
  let dir = here
  for (;;) {
    const candidate = join(dir, 'node_modules', ...path)
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** The Node binary of the `node` npm package, if installed. */
export const findBundledNode = () => findInNodeModules('node', 'bin', 'node')

/** The Deno binary: $SUBWIRE_DENO, or the one the `deno` npm package installed. */
export function findDeno () {
  if (process.env.SUBWIRE_DENO) return process.env.SUBWIRE_DENO
  // the npm package's postinstall links the binary into deno/; without it, the platform package has it
  const exe = process.platform === 'win32' ? 'deno.exe' : 'deno'
  const platform = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-glibc' : ''}`
  return findInNodeModules('deno', exe) ?? findInNodeModules('@deno', platform, exe)
}
