// `subwire init --from-hermes`: a home from a Hippius Hermes config, run for real.
//
// The fixture (fixtures/hermes/hermes_config.json) is written from Hermes's documented
// fields: the `Config` struct of github.com/thenervelab/hermes (crates/core/src/config.rs,
// commit 040bff6), its README's "Configuration" and docs/docs.html's "Config Fields" table,
// with the values of its examples/hermes_config.example.json (whose ss58_address is
// //Alice's). There `node_secret_key_path` is the Iroh node key, 32 raw Ed25519 bytes
// (`hippius-hermes-cli keygen`), which this test writes beside the fixture. One field is
// not Hermes's: `firewall_whitelist`. Hermes keeps its whitelist in memory, set at run time
// by `client.set_firewall_whitelist([...])`; subwire reads it from the file when present.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { HermesConfigNotFoundError, HermesHotkeyRequiredError, HotkeyMismatchError, InvalidHermesConfigError } from '../src/hermes/errors.ts'
import { BIN, kill9, startCli, tempDir, until } from './helpers.ts'
import type { Proc } from './helpers.ts'

const FIXTURE = new URL('./fixtures/hermes/hermes_config.json', import.meta.url)
const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
/** The Iroh key's 32 bytes (a fixed seed, so the PeerId is known). */
const IROH_SEED = Buffer.alloc(32, 7)
const SECRETS = ['sk-fixture-hippius-token-NEVER-PRINTED', 'AKIAFIXTUREACCESSKEY', 'fixture/S3/secret/NEVER-PRINTED', 'sk-pw-fixture-NEVER-PRINTED']

const run = (args: string[]): { status: number | null, stdout: string, stderr: string } =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 })

/** The PeerId of the Ed25519 key with this seed, computed with node:crypto (not the code under test). */
function peerIdOfSeed (seed: Buffer): string {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed])
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })
  return peerIdFromPublicKey(publicKeyFromRaw(spki.subarray(-32))).toString()
}

interface Imported { event: string, ss58: string, peerId: string, netuids: number[], storage: string, hermes: { mapped: Array<{ field: string, note: string }>, unmapped: Array<{ field: string, note: string }> } }

describe('subwire init --from-hermes', () => {
  let dir: string
  let cleanup: () => Promise<void>
  let hermesDir: string
  let config: string
  const procs: Proc[] = []

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-hermes-'))
    hermesDir = join(dir, 'hermes')
    await mkdir(hermesDir)
    config = join(hermesDir, 'hermes_config.json')
    await copyFile(FIXTURE, config)
    await writeFile(join(hermesDir, 'iroh.key'), IROH_SEED, { mode: 0o600 })
  })
  after(async () => {
    for (const p of procs) kill9(p)
    await cleanup()
  })

  it('maps each field, says why the rest is left out, and never prints a secret', async () => {
    const home = join(dir, 'a')
    const r = run(['--home', home, '--json', 'init', '--from-hermes', config, '--hotkey-uri', '//Alice', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout) as Imported
    assert.equal(out.event, 'initialized')
    assert.equal(out.ss58, ALICE)
    assert.deepEqual(out.netuids, [42, 69])
    assert.equal(out.storage, join(hermesDir, '.hermes_data'))
    assert.equal(out.peerId, peerIdOfSeed(IROH_SEED), 'the Iroh node key became the libp2p key')
    const mapped = out.hermes.mapped.map((f) => f.field)
    for (const f of ['ss58_address', 'node_secret_key_path', 'storage_directory', 'subnet_ids', 'enable_firewall', 'firewall_whitelist', 'enable_queue']) assert.ok(mapped.includes(f), f)
    const unmapped = Object.fromEntries(out.hermes.unmapped.map((f) => [f.field, f.note]))
    assert.deepEqual(Object.keys(unmapped).sort(), ['api_token', 'encryption_key_path', 'pullweights_api_key', 'rpc_url', 's3'])
    assert.match(unmapped.s3 as string, /peer to peer/)
    assert.match(unmapped.api_token as string, /not copied/)
    for (const s of SECRETS) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${s} is not printed`)

    const saved = JSON.parse(await readFile(join(home, 'subwire.json'), 'utf8')) as Record<string, unknown>
    assert.deepEqual(saved.hotkey, { uri: '//Alice' })
    assert.deepEqual(saved.netuids, [42, 69])
    assert.equal(saved.storage, join(hermesDir, '.hermes_data'))
    const homeFiles = await Promise.all((await readdir(home)).map(async (f) => await readFile(join(home, f), 'utf8').catch(() => '')))
    for (const s of SECRETS) assert.ok(!homeFiles.some((t) => t.includes(s)), `${s} is not copied into the home`)
    const acl = JSON.parse(await readFile(join(home, 'acl.json'), 'utf8')) as { firewall: { netuids: number[], admitted: Record<string, string[]> } }
    assert.deepEqual(acl.firewall, { netuids: [42, 69], admitted: { 42: [BOB], 69: [BOB] } })
    assert.ok((await stat(join(hermesDir, '.hermes_data'))).isDirectory())
  })

  it('prints the same for a person, with what it could not map and why', () => {
    const r = run(['--home', join(dir, 'human'), 'init', '--from-hermes', config, '--hotkey-uri', '//Alice'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^imported:$/m)
    assert.match(r.stdout, /^not imported:$/m)
    assert.match(r.stdout, /^ {2}s3 +S3 upload credentials/m)
    assert.match(r.stdout, /^ {2}pullweights_api_key +PullWeights/m)
    assert.match(r.stdout, /^ {2}api_token +Hippius Sync-Engine token/m)
    for (const s of SECRETS) assert.ok(!r.stdout.includes(s), `${s} is not printed`)
  })

  it('runs as imported: the firewall admits the whitelisted hotkey only, and files land in storage_directory', async () => {
    assert.equal(run(['--home', join(dir, 'bob'), 'init', '--hotkey-uri', '//Bob', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
    assert.equal(run(['--home', join(dir, 'charlie'), 'init', '--hotkey-uri', '//Charlie', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
    const listener = startCli(['--home', join(dir, 'a'), '--json', 'listen'])
    procs.push(listener)
    const listening = await until(() => listener.lines.find((l) => l.event === 'listening'), 30_000, 'the imported listener') as { multiaddrs: string[], peerId: string }
    assert.equal(listening.peerId, peerIdOfSeed(IROH_SEED))
    const addr = listening.multiaddrs[0] as string
    const ok = run(['--home', join(dir, 'bob'), '--json', 'query', addr, 'echo', '{"from":"bob"}'])
    assert.equal(ok.status, 0, ok.stderr)
    const refused = run(['--home', join(dir, 'charlie'), '--json', 'query', addr, 'echo', '{}'])
    assert.equal(refused.status, 1)
    assert.match(refused.stdout, /SubnetFirewallError/)
    const file = join(dir, 'weights.bin')
    await writeFile(file, Buffer.alloc(64 * 1024, 1))
    const sent = run(['--home', join(dir, 'bob'), 'send', addr, file])
    assert.equal(sent.status, 0, sent.stderr)
    const got = await until(() => listener.lines.find((l) => l.event === 'file'), 10_000, 'the file') as { path: string }
    assert.ok(got.path.startsWith(join(hermesDir, '.hermes_data', 'inbox') + '/'), got.path)
    kill9(listener)
  })

  it('listen refuses a storage_directory that has gone, naming the config it came from', async () => {
    const cfg = join(hermesDir, 'vanishing.json')
    await writeFile(cfg, JSON.stringify({ node_secret_key_path: 'iroh.key', ss58_address: ALICE, api_token: 't', storage_directory: 'vanishing' }))
    assert.equal(run(['--home', join(dir, 'v'), 'init', '--from-hermes', cfg, '--hotkey-uri', '//Alice', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']).status, 0)
    await rm(join(hermesDir, 'vanishing'), { recursive: true })
    const r = run(['--home', join(dir, 'v'), 'listen'])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /^subwire: "storage" of \S+subwire\.json: \S+vanishing: no such directory/)
  })

  it('takes the hotkey from node_secret_key_path when it is a bittensor hotkey file, and --netuid over subnet_ids', async () => {
    const keyfile = join(hermesDir, 'hotkey.json')
    await writeFile(keyfile, JSON.stringify({ secretPhrase: '//Alice', ss58Address: ALICE }), { mode: 0o600 })
    const cfg = join(hermesDir, 'hotkey_config.json')
    await writeFile(cfg, JSON.stringify({ node_secret_key_path: 'hotkey.json', ss58_address: ALICE, api_token: 't', storage_directory: 'data', subnet_ids: [1] }))
    const r = run(['--home', join(dir, 'k'), '--json', 'init', '--from-hermes', cfg, '--netuid', '3'])
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout) as Imported
    assert.equal(out.ss58, ALICE)
    assert.deepEqual(out.netuids, [3], '--netuid wins over subnet_ids')
    assert.ok(!out.hermes.mapped.some((f) => f.field === 'subnet_ids'))
    assert.match(out.hermes.unmapped.find((f) => f.field === 'subnet_ids')?.note ?? '', /^1: replaced by --netuid 3$/)
    assert.deepEqual((JSON.parse(await readFile(join(dir, 'k', 'subwire.json'), 'utf8')) as { hotkey: unknown }).hotkey, { keyFile: keyfile })
  })

  /** Runs init and returns the error it printed: exit 2, one line, no stack, nothing written. */
  async function refused (home: string, args: string[]): Promise<{ error: string, message: string, human: string }> {
    const h = run(['--home', join(dir, home), 'init', ...args])
    assert.equal(h.status, 2, h.stderr)
    assert.equal(h.stderr.trim().split('\n').length, 1, h.stderr)
    assert.match(h.stderr, /^subwire: /)
    assert.doesNotMatch(h.stderr, /\n\s+at /)
    const j = run(['--home', join(dir, home), '--json', 'init', ...args])
    assert.equal(j.status, 2)
    await assert.rejects(stat(join(dir, home, 'subwire.json')), { code: 'ENOENT' })
    return { ...(JSON.parse(j.stdout) as { error: string, message: string }), human: h.stderr }
  }

  it('refuses a missing file, a file that is not JSON and a config without its fields, each with a typed error', async () => {
    const missing = await refused('m1', ['--from-hermes', join(dir, 'no-such.json'), '--hotkey-uri', '//Alice'])
    assert.equal(missing.error, HermesConfigNotFoundError.name)
    assert.match(missing.human, /no-such\.json: no such file/)
    await writeFile(join(dir, 'broken.json'), '{ "ss58_address": "5Grw…", ')
    const broken = await refused('m2', ['--from-hermes', join(dir, 'broken.json'), '--hotkey-uri', '//Alice'])
    assert.equal(broken.error, InvalidHermesConfigError.name)
    assert.match(broken.message, /not valid JSON/)
    await writeFile(join(dir, 'partial.json'), JSON.stringify({ ss58_address: ALICE, storage_directory: 'x' }))
    const partial = await refused('m3', ['--from-hermes', join(dir, 'partial.json'), '--hotkey-uri', '//Alice'])
    assert.equal(partial.error, InvalidHermesConfigError.name)
    assert.match(partial.message, /"node_secret_key_path" is missing/)
  })

  it('refuses an ss58_address that is not the hotkey\'s, and an Iroh node key with no hotkey given', async () => {
    const mismatch = await refused('m4', ['--from-hermes', config, '--hotkey-uri', '//Bob'])
    assert.equal(mismatch.error, HotkeyMismatchError.name)
    assert.match(mismatch.message, new RegExp(`ss58_address ${ALICE} is not the hotkey's address ${BOB}`))
    const none = await refused('m5', ['--from-hermes', config])
    assert.equal(none.error, HermesHotkeyRequiredError.name)
    assert.match(none.message, /Iroh node key, not a hotkey/)
  })

  for (const E of [HermesConfigNotFoundError, InvalidHermesConfigError, HermesHotkeyRequiredError, HotkeyMismatchError]) {
    it(`${E.name} has its name, a code and a default message`, () => {
      const e = new E()
      assert.equal(e.name, E.name)
      assert.match(e.code, /^ERR_/)
      assert.ok(e.message.length > 0 && e.message !== E.name)
    })
  }
})
