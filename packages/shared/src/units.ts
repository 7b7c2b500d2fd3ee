/**
 * Sizes for people: what an error message or a log line says of a byte count.
 *
 * @packageDocumentation
 */

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] as const

/** `1536` → `1.5 KiB`, `73400320` → `70 MiB`: binary units, at most one decimal. */
export function formatSize (bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes))} bytes`
  let v = bytes
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++ }
  return `${Math.round(v * 10) / 10} ${UNITS[u] as string}`
}
