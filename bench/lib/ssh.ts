// scp and rsync over ssh as file-transfer baselines: the harness runs Debian's sshd on
// 127.0.0.1 with a throw-away host key and user key in a temporary directory and stops it
// after. Neither has an end-to-end hash of the file or a resume of a partial copy: they are
// here as the speed an operator gets today.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { open, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { userInfo } from 'node:os'

const SSHD = '/usr/sbin/sshd'

/** The ciphers the issue compares, fastest first on most x86 machines. */
export const SCP_CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com']

interface Stat { median: number, min: number, max: number }

/**
 * Times `scp -c CIPHER` for each cipher and `rsync` over ssh, copying a random file of
 * `sizeMiB` from disk to disk on this machine, `runs` times each (page cache dropped first).
 */
export async function sshBaselines (dir: string, sizeMiB: number, runs: number, dropCaches: () => Promise<boolean>, stat: (xs: number[]) => Stat): Promise<Record<string, unknown>> {
  const missing = (why: string): Record<string, unknown> => ({ [`scp ${sizeMiB} MiB`]: { missing: why } })
  if (!existsSync(SSHD)) return missing('openssh-server is not installed (apt-get install openssh-server)')
  if (spawnSync('scp', ['-V']).error !== undefined) return missing('scp is not installed (apt-get install openssh-client)')
  const sdir = join(dir, 'ssh')
  spawnSync('mkdir', ['-p', sdir])
  for (const k of ['host', 'user']) {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sdir, k)], { encoding: 'utf8' })
    if (r.status !== 0) return missing(`ssh-keygen failed: ${r.stderr}`)
  }
  await writeFile(join(sdir, 'authorized_keys'), (await import('node:fs')).readFileSync(join(sdir, 'user.pub')))
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  // StrictModes no: the key files live under /tmp, which sshd would refuse otherwise
  await writeFile(join(sdir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(sdir, 'host')}`, `AuthorizedKeysFile ${join(sdir, 'authorized_keys')}`,
    'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin yes',
    `PidFile ${join(sdir, 'sshd.pid')}`, 'Subsystem sftp internal-sftp', `Ciphers ${SCP_CIPHERS.join(',')}`, ''
  ].join('\n'))
  spawnSync('mkdir', ['-p', '/run/sshd'])
  const sshd = spawn(SSHD, ['-D', '-e', '-f', join(sdir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  sshd.stderr.on('data', (d: Buffer) => { err += d.toString() })
  await new Promise((resolve) => setTimeout(resolve, 700))
  if (sshd.exitCode !== null) return missing(`sshd did not start: ${err.trim().split('\n').slice(-2).join(' | ')}`)
  const src = join(dir, 'ssh-src.bin')
  const fh = await open(src, 'w')
  for (let done = 0; done < sizeMiB; done += 64) await fh.write(randomBytes(Math.min(64, sizeMiB - done) << 20))
  await fh.close()
  const ssh = ['-i', join(sdir, 'user'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes']
  const user = userInfo().username
  const time = (cmd: string, args: string[]): number | string => {
    const t0 = performance.now()
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    if (r.status !== 0) return `${cmd} failed: ${(r.stderr ?? '').trim().split('\n').slice(-1)[0] ?? ''}`
    return (sizeMiB * 1048576) / 1e6 / ((performance.now() - t0) / 1000)
  }
  const out: Record<string, unknown> = {}
  try {
    const cases: Array<[string, string, () => string[]]> = [
      ...SCP_CIPHERS.map((c): [string, string, () => string[]] => [`scp -c ${c.replace('@openssh.com', '')} ${sizeMiB} MiB`, 'scp', () => ['-q', '-c', c, '-P', String(port), ...ssh, src, `${user}@127.0.0.1:${join(dir, 'ssh-dst.bin')}`]]),
      [`rsync over ssh ${sizeMiB} MiB`, 'rsync', () => ['-q', '--whole-file', '-e', `ssh -p ${port} ${ssh.join(' ')}`, src, `${user}@127.0.0.1:${join(dir, 'rsync-dst.bin')}`]]
    ]
    for (const [name, cmd, args] of cases) {
      const rates: number[] = []
      let failure: string | undefined
      for (let i = 0; i < runs && failure === undefined; i++) {
        await rm(join(dir, 'ssh-dst.bin'), { force: true })
        await rm(join(dir, 'rsync-dst.bin'), { force: true })
        await dropCaches()
        const r = time(cmd, args())
        if (typeof r === 'string') failure = r
        else rates.push(Math.round(r))
      }
      out[name] = failure !== undefined
        ? { missing: failure }
        : { what: `${cmd === 'scp' ? 'scp' : 'rsync --whole-file'} over OpenSSH on 127.0.0.1, disk to disk: no end-to-end hash of the file, no resume of a partial copy`, sizeMiB, mbPerSecond: stat(rates) }
    }
  } finally {
    sshd.kill('SIGTERM')
    await rm(src, { force: true })
  }
  return out
}
