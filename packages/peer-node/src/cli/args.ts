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
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(value.trim())
  const n = m === null ? Number.NaN : Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 'ms'] ?? 1)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`timeout "${value}" must be a positive number of milliseconds (or with a unit: 500ms, 2s, 1m)`)
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

/** Largest payload read from a file or stdin: a message or request body is one 16 MiB frame (bulk data: `send`). */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024

/**
 * A payload argument's text: `-` reads stdin, `@FILE` reads a file, anything else is the
 * text itself. Larger than a frame holds is a usage error that points at `send`.
 */
export async function readPayloadText (arg: string, stdin: () => Promise<string> = readStdin): Promise<string> {
  let text: string
  if (arg === '-') {
    text = await stdin()
  } else if (arg.startsWith('@')) {
    const { readFile } = await import('node:fs/promises')
    try {
      text = await readFile(arg.slice(1), 'utf8')
    } catch (err) {
      throw new UsageError(`${arg.slice(1)}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
    }
  } else {
    text = arg
  }
  if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) throw new UsageError(`the payload is over ${MAX_PAYLOAD_BYTES / 1024 / 1024} MiB, more than one frame holds: send bulk data as a file with "subwire send"`)
  return text
}

/** A JSON payload (see {@link readPayloadText}); not JSON is a usage error naming what was wrong. */
export async function readJsonPayload (arg: string, what: string): Promise<unknown> {
  const text = await readPayloadText(arg)
  try {
    return JSON.parse(text)
  } catch (err) {
    const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text
    throw new UsageError(`${what} is not valid JSON (${(err as Error).message}): ${shown}`)
  }
}

async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of process.stdin) {
    bytes += (chunk as Buffer).byteLength
    if (bytes > MAX_PAYLOAD_BYTES + 1) break
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
