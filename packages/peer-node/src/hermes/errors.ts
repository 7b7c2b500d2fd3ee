/**
 * Errors of `subwire init --from-hermes`: the Hermes config cannot be read, is not a Hermes
 * config, names no hotkey, or names another hotkey than the one given. They never cross
 * the wire; the CLI prints each as one line with exit code 2 (the input is the user's).
 *
 * @packageDocumentation
 */
import { SubwireError } from '@subwire/shared'

/** The Hermes config file does not exist or cannot be read. */
export class HermesConfigNotFoundError extends SubwireError {
  static override name = 'HermesConfigNotFoundError'
  static override code = 'ERR_HERMES_CONFIG_NOT_FOUND'
  static defaultMessage = 'The Hermes config file cannot be read'
}
/** The file is not JSON, or a field of it has the wrong type or value. */
export class InvalidHermesConfigError extends SubwireError {
  static override name = 'InvalidHermesConfigError'
  static override code = 'ERR_INVALID_HERMES_CONFIG'
  static defaultMessage = 'Not a valid Hermes config'
}
/** `node_secret_key_path` is Hermes's Iroh node key, not a hotkey, and no hotkey was given. */
export class HermesHotkeyRequiredError extends SubwireError {
  static override name = 'HermesHotkeyRequiredError'
  static override code = 'ERR_HERMES_HOTKEY_REQUIRED'
  static defaultMessage = 'The Hermes config holds no hotkey: give one with --wallet/--hotkey, --mnemonic-file or --hotkey-uri'
}
/** `ss58_address` is not the address of the hotkey given or found. */
export class HotkeyMismatchError extends SubwireError {
  static override name = 'HotkeyMismatchError'
  static override code = 'ERR_HOTKEY_MISMATCH'
  static defaultMessage = 'The hotkey is not the one the config names'
}

/** Every error class of the Hermes import, by name (the CLI treats them as the user's input). */
export const hermesErrorClasses = {
  HermesConfigNotFoundError,
  InvalidHermesConfigError,
  HermesHotkeyRequiredError,
  HotkeyMismatchError
} as const
