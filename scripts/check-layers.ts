// Enforces the layering README.md describes under "Architecture": shared imports no
// node:* and no peer; peers do not import each other; the dashboard imports only
// peer-web and shared.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const rules: Array<{ dir: string, forbidden: RegExp, why: string }> = [
  { dir: 'packages/shared/src', forbidden: /from ['"](node:[^'"]+|@subwire\/peer-[^'"]+)['"]/, why: 'shared must be isomorphic and depend on no peer' },
  { dir: 'packages/peer-node/src', forbidden: /from ['"]@subwire\/(peer-web|dashboard)[^'"]*['"]/, why: 'peers must not import each other' },
  { dir: 'packages/peer-web/src', forbidden: /from ['"](node:[^'"]+|@subwire\/(peer-node|dashboard)[^'"]*)['"]/, why: 'peer-web runs in browsers and must not import peer-node' },
  { dir: 'apps/dashboard/src', forbidden: /from ['"](node:[^'"]+|@subwire\/(?!peer-web|shared)[^'"]+)['"]/, why: 'the dashboard imports only peer-web and shared' }
]

function files (dir: string): string[] {
  let out: string[] = []
  let entries: string[]
  try { entries = readdirSync(dir) } catch { return out }
  for (const e of entries) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) out = out.concat(files(p))
    else if (/\.(ts|tsx|js|mjs)$/.test(e)) out.push(p)
  }
  return out
}

let failures = 0
let checked = 0
for (const rule of rules) {
  for (const file of files(rule.dir)) {
    checked++
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const m = rule.forbidden.exec(line)
      if (m !== null) {
        failures++
        process.stderr.write(`${file}:${i + 1}: imports ${m[1]}: ${rule.why}\n`)
      }
    })
  }
}
process.stdout.write(`layers: ${checked} files checked, ${failures} violations\n`)
process.exitCode = failures === 0 ? 0 : 1
