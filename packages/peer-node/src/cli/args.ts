/**
 * Parsers for the CLI's option and argument values. A bad value throws
 * {@link UsageError}, which `main` prints as one line with exit code 2.
 *
 * @packageDocumentation
 */
import { MAX_NETUID } from '@subwire/shared'

/** An error that is the user's doing: printed as one line with this exit code. */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

/** Parses a subnet id and appends it to the ones given before (a repeatable `--netuid`). */
export function collectNetuid (value: string, previous: number[] = []): number[] {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > MAX_NETUID) throw new UsageError(`netuid "${value}" is not an integer from 0 to ${MAX_NETUID}`)
  return [...previous, n]
}

/** Parses one subnet id (an option given once, or an argument). */
export function parseNetuid (value: string): number {
  return collectNetuid(value)[0] as number
}

/** Appends a value to the ones given before (a repeatable string option). */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** Parses a timeout: a positive number of milliseconds. */
export function parseTimeout (value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`timeout "${value}" must be a positive number of milliseconds`)
  return n
}

/** Parses a size in bytes, with an optional binary unit: `1048576`, `512MiB`, `2g`. */
export function parseSize (value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b?)?$/i.exec(value.trim())
  if (m === null) throw new UsageError(`"${value}" is not a size (e.g. 1048576, 512MiB, 2GiB)`)
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '')
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1
  return Math.round(Number(m[1]) * mult)
}
