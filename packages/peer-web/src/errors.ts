/**
 * Errors of the browser peer's wallet signer. They never cross the wire, so they live
 * here rather than in `@subwire/shared`; check them by `.name`.
 *
 * @packageDocumentation
 */
import { SubwireError } from '@subwire/shared'

/** No Polkadot wallet extension answered `web3Enable`, or the user did not authorise this site. */
export class WalletUnavailableError extends SubwireError {
  static override name = 'WalletUnavailableError'
  static override code = 'ERR_WALLET_UNAVAILABLE'
  static defaultMessage = 'No Polkadot wallet extension is available, or it did not authorise this site'
}
/** The wallet has no account with the requested address, or no accounts at all. */
export class WalletAccountNotFoundError extends SubwireError {
  static override name = 'WalletAccountNotFoundError'
  static override code = 'ERR_WALLET_ACCOUNT_NOT_FOUND'
  static defaultMessage = 'The wallet has no such account'
}
/** The user rejected the signature request in the wallet extension. */
export class SignatureRejectedError extends SubwireError {
  static override name = 'SignatureRejectedError'
  static override code = 'ERR_SIGNATURE_REJECTED'
  static defaultMessage = 'The signature request was rejected in the wallet'
}
