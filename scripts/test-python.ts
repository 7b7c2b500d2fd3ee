// `npm run test:python`: the Python client's tests (clients/python/tests) under pytest, against
// real `subwire listen` processes. Debian's python3 (python3-pytest, python3-msgpack) unless
// SUBWIRE_PYTHON names another interpreter. A run that collects no test fails (pytest's exit 5).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const python = process.env.SUBWIRE_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')
const r = spawnSync(python, ['-m', 'pytest', 'clients/python/tests', '-q', '-rs', ...process.argv.slice(2)], { stdio: 'inherit', cwd: new URL('..', import.meta.url).pathname })
if (r.error !== undefined) {
  process.stderr.write(`test:python: cannot run ${python}: ${r.error.message} (apt-get install python3-pytest python3-msgpack)\n`)
  process.exit(1)
}
if (r.status === 5) process.stderr.write('test:python: pytest collected no test\n')
process.exit(r.status === 0 ? 0 : (r.status ?? 1))
