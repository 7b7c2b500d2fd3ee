/**
 * Errors of the browser peer's wallet signer. They never cross the wire, so they live
 * here rather than in `@subwire/shared`; check them by `.name`.
 *
 * @packageDocumentation
 */
import { SubwireError } from '@subwire/shared';
/** No Polkadot wallet extension answered `web3Enable`, or the user did not authorise this site. */
export declare class WalletUnavailableError extends SubwireError {
    static name: string;
    static code: string;
    static defaultMessage: string;
}
/** The wallet has no account with the requested address, or no accounts at all. */
export declare class WalletAccountNotFoundError extends SubwireError {
    static name: string;
    static code: string;
    static defaultMessage: string;
}
/** The user rejected the signature request in the wallet extension. */
export declare class SignatureRejectedError extends SubwireError {
    static name: string;
    static code: string;
    static defaultMessage: string;
}
