// The systemd unit in packaging/ passes `systemd-analyze verify` (installed by .ci/run)
// and keeps its hardening and its restart with backoff.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { tempDir } from './helpers.ts'

const UNIT = new URL('../../../packaging/subwire.service', import.meta.url)

describe('packaging/subwire.service', () => {
  it('passes systemd-analyze verify', async () => {
    const { dir, cleanup } = await tempDir('subwire-unit-')
    try {
      // ExecStart's binary must exist for verify: the same unit with a binary that does
      const unit = (await readFile(UNIT, 'utf8')).replace(/^ExecStart=\/usr\/local\/bin\/subwire/m, `ExecStart=${process.execPath}`)
      await writeFile(join(dir, 'subwire.service'), unit)
      const r = spawnSync('systemd-analyze', ['verify', join(dir, 'subwire.service')], { encoding: 'utf8' })
      assert.equal(r.error, undefined, 'systemd-analyze is installed (.ci/run installs Debian\'s systemd)')
      assert.equal(r.status, 0, r.stderr)
      // systemd < 254 does not know the backoff keys; anything else it says is a mistake
      const other = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/Unknown key '(RestartSteps|RestartMaxDelaySec)'/.test(l))
      assert.deepEqual(other, [])
    } finally {
      await cleanup()
    }
  })

  it('runs hardened, as a dynamic user with its home in the state directory, and restarts with backoff', async () => {
    const unit = await readFile(UNIT, 'utf8')
    for (const line of ['DynamicUser=yes', 'StateDirectory=subwire', 'Environment=SUBWIRE_HOME=/var/lib/subwire', 'ProtectSystem=strict', 'ProtectHome=yes', 'NoNewPrivileges=yes', 'Restart=on-failure', 'RestartSteps=8', 'KillSignal=SIGTERM']) {
      assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), line)
    }
  })
})
