// The metagraph source against a real local subtensor chain (chopsticks, spec 293): a
// subnet made with signed extrinsics, two neurons serving axons at real peers, one staked.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ChainUnavailableError } from '@subwire/shared'
import { axonIp, axonMultiaddrs, MetagraphSource } from '../src/index.ts'
import { BIN, startPeer, tempDir } from './helpers.ts'
import { startLocalChain } from './fixtures/subtensor.ts'
import type { NodePeer } from '../src/index.ts'
import type { LocalChain } from './fixtures/subtensor.ts'

// subtensor refuses 127.0.0.1 as an axon IP; 127.0.0.2 is the same loopback interface
const AXON_IP = '127.0.0.2'
const noLog = Object.assign(() => {}, { enabled: false, error: () => {}, trace: () => {}, newScope: () => noLog }) as never

/** Runs `subwire ARGS` asynchronously: the chain answers from this process's event loop, which spawnSync would block. */
async function cli (args: string[]): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { timeout: 60_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const status = await new Promise<number | null>((resolve) => { child.on('exit', resolve) })
  return { status, stdout, stderr }
}

describe('the metagraph source on a local subtensor chain', () => {
  let chain: LocalChain
  let netuid: number
  let bob: NodePeer
  let charlie: NodePeer
  let dave: NodePeer
  let dir: string
  let cleanup: () => Promise<void>
  const ss58 = { alice: '', bob: '', charlie: '' }

  before(async () => {
    ({ dir, cleanup } = await tempDir('subwire-metagraph-'))
    chain = await startLocalChain()
    const { api, key } = chain
    const tx = api.tx as unknown as Record<string, Record<string, (...args: unknown[]) => never>>
    const st = tx.subtensorModule as Record<string, (...args: unknown[]) => never>
    const alice = key('//Alice')
    const [b, c] = [key('//Bob'), key('//Charlie')]
    ss58.alice = alice.address; ss58.bob = b.address; ss58.charlie = c.address
    await chain.submit([[tx.sudo?.sudo?.(tx.adminUtils?.sudoSetNetworkRateLimit?.(0)) as never, alice]])
    const added = (await chain.submit([[st.registerNetwork?.(alice.address) as never, alice]])).find((e) => e.method === 'NetworkAdded')
    netuid = Number(String(added?.data[0]))
    assert.ok(netuid > 0, 'the subnet was created')
    await chain.blocks(10)
    await chain.submit([[st.startCall?.(netuid) as never, alice]])
    await chain.submit([[st.burnedRegister?.(netuid, b.address) as never, alice]])
    await chain.submit([[st.burnedRegister?.(netuid, c.address) as never, alice]])
    bob = await startPeer({ uri: '//Bob', transports: ['quic'], listen: [`/ip4/${AXON_IP}/udp/0/quic-v1`], netuids: [netuid], dht: false })
    charlie = await startPeer({ uri: '//Charlie', transports: ['quic'], listen: [`/ip4/${AXON_IP}/udp/0/quic-v1`], netuids: [netuid], dht: false })
    const portOf = (p: NodePeer): number => Number(p.multiaddrs[0]?.split('/')[4])
    const ip = 0x7f000002n
    await chain.submit([
      [st.serveAxon?.(netuid, 1, ip, portOf(bob), 4, 0, 0, 0) as never, b],
      [st.serveAxon?.(netuid, 1, ip, portOf(charlie), 4, 0, 0, 0) as never, c],
      [st.addStake?.(b.address, netuid, 10_000_000_000n) as never, alice]
    ])
    dave = await startPeer({ uri: '//Dave', transports: ['quic'], listen: [], netuids: [netuid], subtensor: { url: chain.url, refreshMs: 60_000 } })
    for (const name of ['dave']) {
      const r = spawnSync(process.execPath, [BIN, '--home', join(dir, name), 'init', '--hotkey-uri', '//Dave', '--netuid', String(netuid)], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
    }
  })

  after(async () => {
    for (const p of [dave, bob, charlie]) await p?.stop()
    await chain?.close()
    await cleanup?.()
  })

  it('decodes axon IPs and makes QUIC and TCP addresses of them', () => {
    assert.equal(axonIp(0x7f000002n, 4), '127.0.0.2')
    assert.equal(axonIp(0n, 4), undefined)
    assert.equal(axonIp(1n, 6), '0:0:0:0:0:0:0:1')
    assert.deepEqual(axonMultiaddrs('10.0.0.1', 4701), ['/ip4/10.0.0.1/udp/4701/quic-v1', '/ip4/10.0.0.1/tcp/4701'])
    assert.deepEqual(axonMultiaddrs(undefined, 0), [])
  })

  it('reads the subnet: uids, hotkeys, axons, stake and permits', async () => {
    const source = new MetagraphSource({ log: noLog }, { url: chain.url, netuids: [netuid], refreshMs: 0 })
    try {
      const neurons = await source.neurons(netuid)
      assert.deepEqual(neurons.map((n) => n.ss58).sort(), [ss58.alice, ss58.bob, ss58.charlie].sort())
      const b = neurons.find((n) => n.ss58 === ss58.bob)
      assert.equal(b?.ip, AXON_IP)
      assert.equal(b?.port, Number(bob.multiaddrs[0]?.split('/')[4]))
      assert.ok((b?.stake ?? 0n) > 1_000_000_000n, String(b?.stake))
      assert.equal(neurons.find((n) => n.ss58 === ss58.charlie)?.stake, 0n)
      assert.ok(neurons.every((n) => typeof n.validatorPermit === 'boolean'))
      assert.deepEqual((await source.members(netuid)).map((m) => m.ss58).sort(), [ss58.bob, ss58.charlie].sort(), 'members are the hotkeys with an axon')
    } finally {
      await source.stop()
    }
  })

  it('resolves a hotkey from the metagraph with no PeerId, and the handshake proves it', async () => {
    const found = await dave.resolve(ss58.bob)
    assert.equal(found.source, 'metagraph')
    assert.equal(found.peerId, undefined)
    assert.ok(found.multiaddrs.some((a) => a.startsWith(`/ip4/${AXON_IP}/udp/`)), found.multiaddrs.join(' '))
    assert.equal(await dave.request(ss58.charlie, 'echo', 'via the chain', { timeout: 5000 }), 'via the chain')
    assert.equal(dave.peers().find((p) => p.ss58 === ss58.charlie)?.peerId, charlie.peerId)
  })

  it('acl firewall from-metagraph admits exactly the registered hotkeys, and with --min-stake the staked one', async () => {
    const home = join(dir, 'dave')
    const acl = async (): Promise<{ firewall: { netuids: number[], admitted: Record<string, string[]> } }> => JSON.parse(await readFile(join(home, 'acl.json'), 'utf8'))
    const all = await cli(['--home', home, 'acl', 'firewall', 'from-metagraph', String(netuid), '--subtensor', chain.url])
    assert.equal(all.status, 0, all.stderr)
    assert.match(all.stdout, /3 hotkey\(s\) admitted/)
    assert.deepEqual((await acl()).firewall.admitted[String(netuid)]?.sort(), [ss58.alice, ss58.bob, ss58.charlie].sort())
    assert.ok((await acl()).firewall.netuids.includes(netuid))
    const staked = await cli(['--home', home, 'acl', 'firewall', 'from-metagraph', String(netuid), '--subtensor', chain.url, '--min-stake', '1'])
    assert.equal(staked.status, 0, staked.stderr)
    assert.deepEqual((await acl()).firewall.admitted[String(netuid)], [ss58.bob])
  })

  it('fails closed when the chain stops: the firewall admits nobody, and the source says the chain is unavailable', async () => {
    await chain.close()
    const home = join(dir, 'dave')
    const r = await cli(['--home', home, 'acl', 'firewall', 'from-metagraph', String(netuid), '--subtensor', chain.url])
    assert.equal(r.status, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /could not be read/)
    const acl = JSON.parse(await readFile(join(home, 'acl.json'), 'utf8')) as { firewall: { netuids: number[], admitted: Record<string, string[]> } }
    assert.ok(acl.firewall.netuids.includes(netuid))
    assert.deepEqual(acl.firewall.admitted[String(netuid)], [])
    const source = new MetagraphSource({ log: noLog }, { url: chain.url, netuids: [netuid], refreshMs: 0, timeoutMs: 3000 })
    await assert.rejects(source.neurons(netuid), (e: Error) => e.name === ChainUnavailableError.name)
    await source.stop()
  })
})
