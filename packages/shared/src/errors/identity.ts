/**
 * Errors of identity: SS58 addresses, signatures, attestations, hotkeys and wallets.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

/** A string is not a valid SS58 address (bad base58, length or checksum). */
export class InvalidSs58Error extends SubwireError {
  static override name = 'InvalidSs58Error'
  static override code = 'ERR_INVALID_SS58'
  static defaultMessage = 'Invalid SS58 address'
}
/** An SS58 address uses a network prefix other than the expected one. */
export class WrongSs58PrefixError extends SubwireError {
  static override name = 'WrongSs58PrefixError'
  static override code = 'ERR_WRONG_SS58_PREFIX'
  static defaultMessage = 'SS58 address uses an unexpected network prefix'
}
/** An attestation's bytes are malformed (wrong tag, version, lengths or field values). */
export class InvalidAttestationError extends SubwireError {
  static override name = 'InvalidAttestationError'
  static override code = 'ERR_INVALID_ATTESTATION'
  static defaultMessage = 'Malformed attestation'
}
/** A signature does not verify for the claimed hotkey. */
export class InvalidSignatureError extends SubwireError {
  static override name = 'InvalidSignatureError'
  static override code = 'ERR_INVALID_SIGNATURE'
  static defaultMessage = 'Signature does not verify for the claimed hotkey'
}
/** The attested PeerId is not the connection's authenticated remote PeerId. */
export class PeerIdMismatchError extends SubwireError {
  static override name = 'PeerIdMismatchError'
  static override code = 'ERR_PEER_ID_MISMATCH'
  static defaultMessage = 'Attestation is for another PeerId than the connection\'s'
}
/** The attestation's validity period has ended. */
export class AttestationExpiredError extends SubwireError {
  static override name = 'AttestationExpiredError'
  static override code = 'ERR_ATTESTATION_EXPIRED'
  static defaultMessage = 'Attestation has expired'
}
/** The attestation claims to be issued later than now plus the allowed clock skew. */
export class AttestationFromFutureError extends SubwireError {
  static override name = 'AttestationFromFutureError'
  static override code = 'ERR_ATTESTATION_FROM_FUTURE'
  static defaultMessage = 'Attestation is issued in the future beyond the allowed clock skew'
}
/** A hotkey source (URI, mnemonic, seed or wallet file) could not be loaded. */
export class HotkeyLoadError extends SubwireError {
  static override name = 'HotkeyLoadError'
  static override code = 'ERR_HOTKEY_LOAD'
  static defaultMessage = 'Could not load the hotkey'
}
