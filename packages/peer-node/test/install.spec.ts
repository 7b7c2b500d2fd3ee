// The published packages: `npm pack` of the workspace packages gives tarballs that
// install into a directory outside the checkout (third-party dependencies from the npm
// registry, from its cache when it has them), whose `subwire` runs init, listen and
// query (also on ::1), and whose launcher, killed with SIGKILL, leaves no peer behind.
// The installed @chainsafe/libp2p-quic is the registry's, unpatched (4 KiB reads): the
// peer's own run-time fix must give its QUIC streams 256 KiB reads there too. And a
// global install (`npm install -g --prefix`) puts a working `subwire` on PATH.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { tempDir, until, waitFor } from './helpers.ts'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

const repo = fileURLToPath(new URL('../../..', import.meta.url))
/** npm and what it runs must not think they are part of this test run. */
const { NODE_TEST_CONTEXT: _ctx, ...npmEnv } = process.env

/** Runs `cmd args` to its end (asynchronously: a long spawnSync here upset the test runner). */
async function exec (cmd: string, args: string[], cwd: string): Promise<{ status: number | null, stderr: string }> {
  const child = spawn(cmd, args, { cwd, env: npmEnv, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  const status = await new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
  return { status, stderr }
}

/**
 * Run in the installed app: spies on the native QUIC stream's read(size) of the
 * @chainsafe/libp2p-quic that @subwire/peer-node resolves, before the peer loads, then
 * makes one real QUIC request between two peers. Prints the sizes asked for, and the
 * package's own CHUNK_SIZE on disk.
 */
const QUIC_CHECK = `
import { findPackageJSON } from 'node:module'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
const dist = join(dirname(findPackageJSON('@chainsafe/libp2p-quic', import.meta.resolve('@subwire/peer-node'))), 'dist', 'src')
const onDisk = Number(/CHUNK_SIZE = (\\d+)/.exec(readFileSync(join(dist, 'stream.js'), 'utf8'))[1])
const napi = await import(pathToFileURL(join(dist, 'napi.js')).href)
const read = napi.Stream.prototype.read
const sizes = new Set()
napi.Stream.prototype.read = function (n) { sizes.add(n); return read.call(this, n) }
const { createNodePeer, loadHotkey } = await import('@subwire/peer-node')
const peer = async (uri, listen) => { const p = await createNodePeer({ signer: await loadHotkey({ uri }), netuids: [42], listen, transports: ['quic'] }); await p.start(); return p }
const bob = await peer('//Bob', ['/ip4/127.0.0.1/udp/0/quic-v1'])
const alice = await peer('//Alice', [])
const reply = await alice.request(bob.multiaddrs[0], 'echo', { quic: 'installed' })
await alice.stop()
await bob.stop()
console.log(JSON.stringify({ onDisk, sizes: [...sizes], reply }))
`

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }

describe('the packed tarballs, installed outside the checkout', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let bin: string
  let tarballs: string[]
  let globalInstall: ReturnType<typeof exec> | undefined
  const children: ChildProcessWithoutNullStreams[] = []

  before(async () => { ({ dir, cleanup } = await tempDir('subwire-install-')) })
  after(async () => {
    for (const c of children) { try { process.kill(-(c.pid as number), 'SIGKILL') } catch {} }
    await cleanup()
  })

  const cli = (args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [bin, '--home', join(dir, 'homes', args[0] as string), ...args.slice(1)], { encoding: 'utf8', timeout: 60_000, cwd: dir })
  const listen = async (home: string): Promise<{ child: ChildProcessWithoutNullStreams, lines: Array<Record<string, unknown>> }> => {
    // through the installed .bin link, as an operator would type it
    const child = spawn(join(dir, 'app', 'node_modules', '.bin', 'subwire'), ['--home', join(dir, 'homes', home), '--json', 'listen'], { detached: true, cwd: dir })
    children.push(child)
    const lines: Array<Record<string, unknown>> = []
    createInterface({ input: child.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch {} })
    await until(() => lines.find((l) => l.event === 'listening'), 30_000, 'the installed listener')
    return { child, lines }
  }

  it('packs and installs with npm into an empty directory', { timeout: 400_000 }, async () => {
    const packs = join(dir, 'packs')
    await mkdir(packs, { recursive: true })
    const packed = await exec('npm', ['pack', '-w', '@subwire/shared', '-w', '@subwire/peer-node', '-w', '@subwire/peer-web', '--pack-destination', packs], repo)
    assert.equal(packed.status, 0, packed.stderr)
    const names = (await readdir(packs)).filter((f) => f.endsWith('.tgz')).sort()
    assert.deepEqual(names, ['subwire-peer-node-0.1.0.tgz', 'subwire-peer-web-0.1.0.tgz', 'subwire-shared-0.1.0.tgz'])
    tarballs = names.map((t) => join(packs, t))
    // the repository's package.json files are back as they were
    assert.match(await readFile(join(repo, 'packages', 'shared', 'package.json'), 'utf8'), /"import": "\.\/src\/index\.ts"/)
    const app = join(dir, 'app')
    await mkdir(app, { recursive: true })
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', allowScripts: { node: true, deno: true, 'msgpackr-extract': true } }))
    // the global install (its own test below) runs beside this one: npm spends most of its time waiting on files
    globalInstall = exec('npm', ['install', '-g', '--prefix', join(dir, 'global'), '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], dir)
    const installed = await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], app)
    assert.equal(installed.status, 0, installed.stderr)
    bin = join(app, 'node_modules', '@subwire', 'peer-node', 'bin', 'subwire.js')
    const imported = spawnSync(join(app, 'node_modules', 'node', 'bin', 'node'), ['--input-type=module', '-e', "const m = await import('@subwire/peer-node'); const s = await import('@subwire/shared'); console.log(typeof m.createNodePeer, typeof s.createSubwire, import.meta.resolve('@subwire/peer-web').endsWith('/peer-web/lib/index.js'))"], { cwd: app, encoding: 'utf8' })
    assert.equal(imported.stdout.trim(), 'function function true', imported.stderr)
  })

  it('gives the installed, unpatched @chainsafe/libp2p-quic 256 KiB native reads at run time', async () => {
    const app = join(dir, 'app')
    await writeFile(join(app, 'quic-check.mjs'), QUIC_CHECK)
    const r = spawnSync(join(app, 'node_modules', 'node', 'bin', 'node'), ['quic-check.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000, env: npmEnv })
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { onDisk: number, sizes: number[], reply: unknown }
    assert.equal(out.onDisk, 4096, 'the registry\'s package as published: the fix must not depend on patching it')
    assert.deepEqual(out.reply, { quic: 'installed' })
    assert.deepEqual(out.sizes, [256 * 1024], 'every native read asks for 256 KiB, not the package\'s 4 KiB')
  })

  it('runs init, listen and query from there, over 127.0.0.1 and ::1', async () => {
    assert.equal(cli(['a', 'init', '--hotkey-uri', '//Alice', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--listen', '/ip6/::1/udp/0/quic-v1', '--listen', '/ip6/::1/tcp/0']).status, 0)
    assert.equal(cli(['b', 'init', '--hotkey-uri', '//Bob', '--listen', '/ip6/::1/udp/0/quic-v1']).status, 0)
    const { child, lines } = await listen('a')
    const addrs = (lines.find((l) => l.event === 'listening') as { multiaddrs: string[] }).multiaddrs
    for (const addr of [addrs.find((a) => a.startsWith('/ip4/127.0.0.1/udp/')), addrs.find((a) => a.startsWith('/ip6/::1/udp/')), addrs.find((a) => a.startsWith('/ip6/::1/tcp/'))]) {
      assert.ok(addr !== undefined, addrs.join(' '))
      const r = cli(['b', '--json', 'query', addr, 'echo', '{"hello":"installed"}'])
      assert.equal(r.status, 0, String(r.stderr))
      assert.deepEqual((JSON.parse(String(r.stdout)) as { body: unknown }).body, { hello: 'installed' })
    }
    process.kill(child.pid as number, 'SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    assert.equal(child.exitCode, 0)
  })

  it('leaves no peer process behind within 5 s when the launcher is killed with SIGKILL', async () => {
    const { child } = await listen('a')
    const peer = Number((await readFile(`/proc/${child.pid as number}/task/${child.pid as number}/children`, 'utf8')).trim().split(/\s+/)[0])
    assert.ok(peer > 0)
    process.kill(child.pid as number, 'SIGKILL')
    await waitFor(() => !alive(peer), 5000, 'the orphaned peer to stop by itself')
  })

  it('installs globally (npm install -g --prefix), and the subwire on PATH runs init, listen and query from elsewhere', { timeout: 400_000 }, async () => {
    const prefix = join(dir, 'global')
    // started with the local install; no --allow-scripts: npm passes it on to the nested
    // `npm install` the node package's preinstall runs, which refuses it there (EALLOWSCRIPTS);
    // npm 11 without a policy runs the scripts and warns (README: `npm config set allow-scripts=…`)
    const installed = await globalInstall
    assert.ok(installed !== undefined, 'the global install started')
    assert.equal(installed.status, 0, installed.stderr)
    const elsewhere = join(dir, 'elsewhere')
    await mkdir(elsewhere, { recursive: true })
    const env = { ...npmEnv, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` }
    const which = spawnSync('sh', ['-c', 'command -v subwire'], { env, encoding: 'utf8' })
    assert.equal(which.stdout.trim(), join(prefix, 'bin', 'subwire'))
    const sw = (args: string[]): ReturnType<typeof spawnSync> => spawnSync('subwire', args, { env, cwd: elsewhere, encoding: 'utf8', timeout: 60_000 })
    assert.equal(sw(['--home', join(elsewhere, 'g1'), 'init', '--hotkey-uri', '//Alice', '--listen', '/ip4/127.0.0.1/tcp/0']).status, 0)
    assert.equal(sw(['--home', join(elsewhere, 'g2'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
    const child = spawn('subwire', ['--home', join(elsewhere, 'g1'), '--json', 'listen'], { env, cwd: elsewhere, detached: true })
    children.push(child)
    const lines: Array<Record<string, unknown>> = []
    createInterface({ input: child.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch {} })
    const listening = await until(() => lines.find((l) => l.event === 'listening'), 30_000, 'the global listener') as { multiaddrs: string[] }
    const r = sw(['--home', join(elsewhere, 'g2'), '--json', 'query', listening.multiaddrs[0] as string, 'echo', '{"hello":"global"}'])
    assert.equal(r.status, 0, String(r.stderr))
    assert.deepEqual((JSON.parse(String(r.stdout)) as { body: unknown }).body, { hello: 'global' })
    process.kill(child.pid as number, 'SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    assert.equal(child.exitCode, 0)
  })
})
