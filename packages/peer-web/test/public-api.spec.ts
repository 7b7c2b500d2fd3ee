import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

/*
 * The public API of @subwire/peer-web, name by name (update this list on purpose).
 *
 * Issue 16 replaced `export * from './constants.ts'` with named exports. Removed from the
 * package root: OPFS_SEGMENT_BYTES (how partial files are cut into OPFS segments) and
 * DHT_READY_TIMEOUT_MS (the lookup's wait for the routing table), which no option exposes.
 * Kept: DEFAULT_APP_NAME (the default of `appName`), OPFS_ROOT (where received files are)
 * and DEV_KEY_STORAGE_KEY (where the development key is kept).
 *
 * The package imports in Node too (this test): `@polkadot/extension-dapp`, which reads
 * `window` when it is evaluated, is loaded when a wallet is first asked for.
 */
describe('public API of @subwire/peer-web', () => {
  it('exports exactly the documented names (update this list on purpose)', async () => {
    const names = Object.keys(await import('@subwire/peer-web')).sort()
    assert.deepEqual(names, [
      // the peer
      'createWebPeer', 'WebPeer', 'WEB_TRANSPORTS', 'orderByTransport', 'transportOfAddr',
      // files, the outbox's store and upload limits
      'OpfsFileStore', 'BlobFileSource', 'BlobFolderSource', 'IdbQueueStore', 'LimitedFileSource', 'UploadLimiter',
      // the hotkey from a wallet extension, or a development key
      'walletAccounts', 'walletSigner', 'devSigner', 'SignatureRejectedError', 'WalletAccountNotFoundError',
      'WalletUnavailableError',
      // defaults
      'DEFAULT_APP_NAME', 'OPFS_ROOT', 'DEV_KEY_STORAGE_KEY'
    ].sort())
  })

  it('no longer exports the internal constants (issue 16)', async () => {
    const api = await import('@subwire/peer-web')
    assert.equal(Object.hasOwn(api, 'OPFS_SEGMENT_BYTES'), false)
    assert.equal(Object.hasOwn(api, 'DHT_READY_TIMEOUT_MS'), false)
  })
})
