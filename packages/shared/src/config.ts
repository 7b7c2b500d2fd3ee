/**
 * Checks of configuration values, shared by every part, so each option is validated once,
 * up front, with the same clear error.
 *
 * @packageDocumentation
 */
import { InvalidConfigError } from './errors/index.ts'

/**
 * `value` if it is a finite number above zero, `fallback` if it is undefined; anything
 * else throws `InvalidConfigError` naming the option.
 */
export function positiveNumber (value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw new InvalidConfigError(`${name} must be a positive number`)
  return value
}
