/**
 * How the CLI shows sizes, rates, progress and values a person or a script reads.
 *
 * @packageDocumentation
 */

/** A byte count in binary units: `512 B`, `1.5 MiB`. */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i] as string}`
}

/** A rate in bytes per second, as decimal megabytes: `133.2 MB/s`. */
export function formatRate (bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`
}

/** Milliseconds since `started` (a `performance.now()`), to the microsecond. */
export function elapsedMs (started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000
}

/** One line of a transfer's progress bar: phase, bar, percentage, bytes, rate and ETA. */
export function progressLine (phase: string, bytes: number, total: number, rate: number): string {
  const width = 24
  const frac = total === 0 ? 1 : bytes / total
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
  const eta = rate > 0 ? Math.max(0, (total - bytes) / rate) : 0
  return `${phase} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(bytes)} / ${formatBytes(total)}  ${formatRate(rate)}  ETA ${eta.toFixed(0)} s`
}

/** `value` as plain JSON: bytes become `{ bytes: <base64> }`, bigints strings. */
export function jsonSafe (value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') }
    if (typeof v === 'bigint') return v.toString()
    return v
  }))
}

/**
 * Text from the network made safe for a terminal: control characters (escape sequences
 * that could rewrite the operator's screen), bidirectional overrides and line separators
 * are shown as `\u….` escapes instead of being printed.
 */
export function printable (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
