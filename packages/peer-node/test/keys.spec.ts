import assert from 'node:assert/strict'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { u8aToHex } from '@polkadot/util'
import { cryptoWaitReady, mnemonicGenerate, mnemonicToMiniSecret, sr25519PairFromSeed } from '@polkadot/util-crypto'
import { encodeSs58, HotkeyLoadError, verifyHotkeySignature } from '@subwire/shared'
import { loadHotkey, loadOrCreatePeerKey } from '../src/index.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tempDir } from './helpers.ts'

const isHotkeyError = (e: Error): boolean => e.name === HotkeyLoadError.name

describe('hotkey sources', () => {
  before(async () => { await cryptoWaitReady() })

  it('loads a dev URI', async () => {
    assert.equal((await loadHotkey({ uri: '//Alice' })).ss58, '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')
  })

  it('loads a mnemonic file and a hex seed file to the same key', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const mnemonic = mnemonicGenerate(12)
      const seed = mnemonicToMiniSecret(mnemonic)
      await writeFile(join(dir, 'm'), mnemonic + '\n')
      await writeFile(join(dir, 's'), u8aToHex(seed))
      const a = await loadHotkey({ mnemonicFile: join(dir, 'm') })
      const b = await loadHotkey({ mnemonicFile: join(dir, 's') })
      assert.equal(a.ss58, b.ss58)
      assert.equal(a.ss58, encodeSs58(sr25519PairFromSeed(seed).publicKey))
    } finally { await cleanup() }
  })

  it('loads a bittensor wallet hotkey file as btcli writes it', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const mnemonic = mnemonicGenerate(12)
      const seed = mnemonicToMiniSecret(mnemonic)
      const pair = sr25519PairFromSeed(seed)
      await mkdir(join(dir, 'miner', 'hotkeys'), { recursive: true })
      const file = {
        accountId: u8aToHex(pair.publicKey),
        publicKey: u8aToHex(pair.publicKey),
        privateKey: u8aToHex(pair.secretKey),
        secretPhrase: mnemonic,
        secretSeed: u8aToHex(seed),
        ss58Address: encodeSs58(pair.publicKey)
      }
      await writeFile(join(dir, 'miner', 'hotkeys', 'default'), JSON.stringify(file))
      const signer = await loadHotkey({ wallet: 'miner', hotkey: 'default', walletPath: dir })
      assert.equal(signer.ss58, file.ss58Address)
      const msg = new Uint8Array([1, 2, 3])
      verifyHotkeySignature(msg, await signer.sign(msg), pair.publicKey)
      // a keyfile with only the private/public key pair works too
      await writeFile(join(dir, 'miner', 'hotkeys', 'raw'), JSON.stringify({ publicKey: file.publicKey, privateKey: file.privateKey, ss58Address: file.ss58Address }))
      assert.equal((await loadHotkey({ wallet: 'miner', hotkey: 'raw', walletPath: dir })).ss58, file.ss58Address)
      // parts that disagree are refused
      await writeFile(join(dir, 'miner', 'hotkeys', 'bad'), JSON.stringify({ ...file, ss58Address: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY' }))
      await assert.rejects(loadHotkey({ wallet: 'miner', hotkey: 'bad', walletPath: dir }), isHotkeyError)
    } finally { await cleanup() }
  })

  it('refuses encrypted, malformed, missing and path-escaping wallet files with clear errors', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      await mkdir(join(dir, 'w', 'hotkeys'), { recursive: true })
      await writeFile(join(dir, 'w', 'hotkeys', 'enc'), '$NACLabcdef')
      await writeFile(join(dir, 'w', 'hotkeys', 'junk'), 'hello')
      await writeFile(join(dir, 'w', 'hotkeys', 'empty'), '{}')
      await assert.rejects(loadHotkey({ wallet: 'w', hotkey: 'enc', walletPath: dir }), (e: Error) => isHotkeyError(e) && /encrypted/.test(e.message))
      await assert.rejects(loadHotkey({ wallet: 'w', hotkey: 'junk', walletPath: dir }), isHotkeyError)
      await assert.rejects(loadHotkey({ wallet: 'w', hotkey: 'empty', walletPath: dir }), isHotkeyError)
      await assert.rejects(loadHotkey({ wallet: 'w', hotkey: 'absent', walletPath: dir }), isHotkeyError)
      await assert.rejects(loadHotkey({ wallet: '..', hotkey: 'x', walletPath: dir }), isHotkeyError)
      await assert.rejects(loadHotkey({ uri: 'definitely not a mnemonic' }), isHotkeyError)
    } finally { await cleanup() }
  })
})

describe('peer key', () => {
  it('is created once with mode 0600 and gives the same PeerId afterwards', async () => {
    const { dir, cleanup } = await tempDir()
    try {
      const a = peerIdFromPrivateKey(await loadOrCreatePeerKey(dir)).toString()
      const b = peerIdFromPrivateKey(await loadOrCreatePeerKey(dir)).toString()
      assert.equal(a, b)
      assert.equal((await stat(join(dir, 'peer.key'))).mode & 0o777, 0o600)
    } finally { await cleanup() }
  })
})
