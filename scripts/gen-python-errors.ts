// Writes clients/python/subwire/_errors_gen.py from the TypeScript error classes (see
// packages/peer-node/src/api/python-errors.ts). `--check` fails if the file is stale.
import { readFileSync, writeFileSync } from 'node:fs'
import { pythonErrors } from '../packages/peer-node/src/api/python-errors.ts'

const OUT = new URL('../clients/python/subwire/_errors_gen.py', import.meta.url)

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = pythonErrors()
  if (process.argv.includes('--check')) {
    if (readFileSync(OUT, 'utf8') !== text) { process.stderr.write('clients/python/subwire/_errors_gen.py is stale: run node scripts/gen-python-errors.ts\n'); process.exit(1) }
  } else {
    writeFileSync(OUT, text)
  }
}
