/**
 * Errors of end-to-end encryption.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

/** A ciphertext did not open: wrong key, tampered, truncated, reordered or spliced. Nothing of it was used. */
export class DecryptionFailedError extends SubwireError {
  static override name = 'DecryptionFailedError'
  static override code = 'ERR_DECRYPTION_FAILED'
  static defaultMessage = 'The ciphertext could not be decrypted and authenticated; nothing of it was used'
}
/** End-to-end encryption was asked for, but the remote publishes no encryption key. */
export class EncryptionUnavailableError extends SubwireError {
  static override name = 'EncryptionUnavailableError'
  static override code = 'ERR_ENCRYPTION_UNAVAILABLE'
  static defaultMessage = 'The remote peer publishes no encryption key in its attestation'
}
/** This peer requires end-to-end encryption and the remote sent plaintext. */
export class EncryptionRequiredError extends SubwireError {
  static override name = 'EncryptionRequiredError'
  static override code = 'ERR_ENCRYPTION_REQUIRED'
  static defaultMessage = 'This peer accepts only end-to-end encrypted payloads'
}
