/**
 * Errors of discovery (signed hotkey records, the DHT, the metagraph) and of fan-out.
 *
 * @packageDocumentation
 */
import { SubwireError } from './base.ts'

/** A hotkey record's bytes are malformed (wrong tag, version, lengths or field values) or its key does not match it. */
export class InvalidHotkeyRecordError extends SubwireError {
  static override name = 'InvalidHotkeyRecordError'
  static override code = 'ERR_INVALID_HOTKEY_RECORD'
  static defaultMessage = 'Malformed hotkey record'
}
/** A hotkey record's `expires` has passed. */
export class HotkeyRecordExpiredError extends SubwireError {
  static override name = 'HotkeyRecordExpiredError'
  static override code = 'ERR_HOTKEY_RECORD_EXPIRED'
  static defaultMessage = 'Hotkey record has expired'
}
/** A hotkey record has a lower `seq` than one already known for the same hotkey. */
export class StaleHotkeyRecordError extends SubwireError {
  static override name = 'StaleHotkeyRecordError'
  static override code = 'ERR_STALE_HOTKEY_RECORD'
  static defaultMessage = 'A newer record is known for this hotkey'
}
/** The peer that answered the handshake has another PeerId than the hotkey's record names. */
export class RecordPeerMismatchError extends SubwireError {
  static override name = 'RecordPeerMismatchError'
  static override code = 'ERR_RECORD_PEER_MISMATCH'
  static defaultMessage = 'The peer reached is not the PeerId the hotkey record names'
}
/** The subtensor node (metagraph source) could not be reached or read. */
export class ChainUnavailableError extends SubwireError {
  static override name = 'ChainUnavailableError'
  static override code = 'ERR_CHAIN_UNAVAILABLE'
  static defaultMessage = 'The subtensor node could not be reached'
}
/** A fan-out member did not answer within the fan-out's timeout. */
export class FanOutTimeoutError extends SubwireError {
  static override name = 'FanOutTimeoutError'
  static override code = 'ERR_FANOUT_TIMEOUT'
  static defaultMessage = 'The peer did not answer within the fan-out timeout'
}
