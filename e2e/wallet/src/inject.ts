// The test wallet's page script: what a polkadot-js-compatible extension injects. Each
// account signs `signRaw({ type: 'bytes' })` requests exactly as the polkadot-js
// extension does: sr25519 over `u8aWrapBytes(data)`, with polkadot-js' own functions.
import { hexToU8a, u8aToHex, u8aWrapBytes } from '@polkadot/util'
import { sr25519Sign } from '@polkadot/util-crypto'

interface TestAccount { address: string, name: string, publicKey: string, secretKey: string }
interface TestWalletConfig { name: string, accounts: TestAccount[], reject: boolean }
interface SignerPayloadRaw { address: string, data: string, type: 'bytes' | 'payload' }

const g = globalThis as unknown as {
  __subwireTestWallet: TestWalletConfig
  __subwireWalletLog: Array<{ call: string, address?: string }>
  injectedWeb3?: Record<string, unknown>
}
const config = g.__subwireTestWallet
g.__subwireWalletLog = []
let id = 0

const accounts = config.accounts.map((a) => ({ address: a.address, name: a.name, type: 'sr25519' as const, genesisHash: null }))

g.injectedWeb3 = {
  ...(g.injectedWeb3 ?? {}),
  [config.name]: {
    version: '0.0.0-test',
    enable: async (origin: string) => {
      g.__subwireWalletLog.push({ call: `enable:${origin}` })
      return {
        accounts: {
          get: async () => accounts,
          subscribe: (cb: (a: typeof accounts) => void) => { cb(accounts); return () => {} }
        },
        metadata: { get: async () => [], provide: async () => false },
        signer: {
          signRaw: async (raw: SignerPayloadRaw) => {
            g.__subwireWalletLog.push({ call: 'signRaw', address: raw.address })
            if (config.reject) throw new Error('Cancelled')
            const account = config.accounts.find((a) => a.address === raw.address)
            if (account === undefined) throw new Error(`Unable to find account ${raw.address}`)
            if (raw.type !== 'bytes') throw new Error('Only raw bytes are signed by this test wallet')
            const signature = sr25519Sign(u8aWrapBytes(hexToU8a(raw.data)), { publicKey: hexToU8a(account.publicKey), secretKey: hexToU8a(account.secretKey) })
            return { id: ++id, signature: u8aToHex(signature) }
          }
        }
      }
    }
  }
}
