/**
 * `subwire init`: creates a home.
 *
 * @packageDocumentation
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { defaultConfig, readConfig, writeConfig, loadOrCreatePeerKey } from '../../home.ts'
import { loadHotkey } from '../../keys.ts'
import { DEFAULT_LISTEN } from '../../constants.ts'
import { collect, collectNetuid, UsageError } from '../args.ts'
import { initFromHermes } from './init-hermes.ts'
import type { Command } from 'commander'
import type { HotkeySource } from '../../keys.ts'
import type { CliContext } from '../context.ts'

interface InitOptions { fromHermes?: string, hotkeyUri?: string, mnemonicFile?: string, wallet?: string, hotkey?: string, walletPath?: string, netuid?: number[], listen?: string[], force?: boolean }

/**
 * A secret URI as typed: surrounding white space would silently give another hotkey, and a
 * single slash is almost always a mistyped `//` (a soft derivation of the empty seed).
 */
function checkUri (uri: string): string {
  if (uri.trim() !== uri) throw new UsageError('the secret URI has leading or trailing white space, which would give another hotkey; remove it')
  if (/^\/[^/]/.test(uri)) throw new UsageError(`"${uri}" starts with one slash; did you mean "/${uri}"?`)
  return uri
}

/** Development URIs (`//Alice`, `//Bob`…): their keys are public. */
const DEV_URI = /^\/\/[^/]/

/** The options' hotkey source: none at all (with `--from-hermes`, whose config may name one), or exactly one. */
function givenSource (opts: InitOptions): HotkeySource | undefined {
  const sources = [opts.hotkeyUri, opts.mnemonicFile, opts.wallet ?? opts.hotkey].filter((s) => s !== undefined)
  if (sources.length === 0 && opts.fromHermes !== undefined) return undefined
  return hotkeySource(opts)
}

/** The one hotkey source the options name. */
function hotkeySource (opts: InitOptions): HotkeySource {
  const sources = [opts.hotkeyUri, opts.mnemonicFile, opts.wallet ?? opts.hotkey].filter((s) => s !== undefined)
  if (sources.length !== 1) throw new UsageError('give exactly one hotkey source: --hotkey-uri, --mnemonic-file, or --wallet with --hotkey')
  if (opts.hotkeyUri !== undefined) return { uri: checkUri(opts.hotkeyUri) }
  if (opts.mnemonicFile !== undefined) return { mnemonicFile: opts.mnemonicFile }
  if (opts.wallet === undefined || opts.hotkey === undefined) throw new UsageError('--wallet and --hotkey go together')
  return { wallet: opts.wallet, hotkey: opts.hotkey, ...(opts.walletPath === undefined ? {} : { walletPath: opts.walletPath }) }
}

/** Registers `init`. */
export function registerInit (program: Command, ctx: CliContext): void {
  program.command('init')
    .description('create a home: hotkey source, subnets and listen addresses, and a libp2p key')
    .option('--hotkey-uri <uri>', 'secret URI: //Alice, a mnemonic, or a 0x seed (stored in subwire.json, mode 0600)')
    .option('--mnemonic-file <file>', 'file holding a mnemonic, secret URI or 0x seed (referenced, not copied)')
    .option('--wallet <name>', 'bittensor wallet name (with --hotkey)')
    .option('--hotkey <name>', 'bittensor hotkey name (with --wallet)')
    .option('--wallet-path <dir>', 'bittensor wallets directory (default ~/.bittensor/wallets)')
    .option('--netuid <n>', 'subnet to serve (repeatable; default 42)', collectNetuid)
    .option('--listen <multiaddr>', 'listen address (repeatable; default QUIC and TCP on 0.0.0.0:4701, WebRTC-Direct and WebSockets on 4702)', collect)
    .option('--from-hermes <file>', 'import a Hippius Hermes hermes_config.json: its hotkey address, node key, storage, subnets and firewall (prints what it cannot map, and why)')
    .option('--force', 'replace an existing config (the libp2p key is kept)')
    .addHelpText('after', `
Examples:
  subwire init --wallet miner --hotkey default --netuid 42
  subwire init --from-hermes hermes_config.json --wallet miner --hotkey default   (Hermes's key file is its node key: name the hotkey)
  subwire --home /tmp/bob init --hotkey-uri //Bob --listen /ip4/127.0.0.1/udp/4801/quic-v1   (a development key: tests only)`)
    .action(async (opts: InitOptions) => {
      const given = givenSource(opts)
      const dir = ctx.home()
      if (opts.force !== true) {
        const existing = await readConfig(dir).catch(() => undefined)
        if (existing !== undefined) throw new UsageError(`${dir} is already initialised; pass --force to replace its config`)
      }
      if (opts.fromHermes !== undefined) {
        await initFromHermes(ctx, opts.fromHermes, { source: given, netuids: opts.netuid, listen: opts.listen ?? DEFAULT_LISTEN })
        return
      }
      const source = given ?? hotkeySource(opts)
      const config = defaultConfig(source, opts.netuid ?? [42], opts.listen ?? DEFAULT_LISTEN)
      const signer = await loadHotkey(source, config.ss58Prefix)
      await writeConfig(dir, config)
      const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(dir)).toString()
      if (opts.hotkeyUri !== undefined && DEV_URI.test(opts.hotkeyUri)) {
        ctx.io.stderr(`subwire: warning: ${opts.hotkeyUri} is a development key that anyone can derive; use it for tests only (a wallet hotkey: --wallet NAME --hotkey NAME)`)
      }
      ctx.emit({ event: 'initialized', home: dir, ss58: signer.ss58, peerId, netuids: config.netuids, listen: config.listen },
        `initialised ${dir}\n  hotkey  ${signer.ss58}\n  peer id ${peerId}\n  subnets ${config.netuids.join(', ')}`)
    })
}
