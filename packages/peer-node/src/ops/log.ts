/**
 * Structured logs: one JSON object per line with `level`, `time`, `component` and
 * `event`, for `--log-format json`. {@link jsonComponentLogger} is a libp2p
 * `ComponentLogger` with a JSON sink, so the engine's and libp2p's own logs (turned on
 * per component with `DEBUG=subwire*`, as with the default logger) come out in the same
 * shape as the CLI's events. Fields whose names say they hold a secret are redacted.
 *
 * @packageDocumentation
 */
import { enabled as debugEnabled } from '@libp2p/logger'
import { formatWithOptions } from 'node:util'
import type { ComponentLogger, Logger } from '@libp2p/interface'

/** Log levels, as written in the `level` field. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace'

/** Field names whose values are never written (a key, seed, mnemonic, token, password or secret URI). */
const SECRET_FIELD = /secret|token|mnemonic|seed|passw|private|priv_?key|hotkey_?uri|^uri$/i

/** Replaces the values of secret-looking fields, at any depth, by `"[redacted]"`. */
export function redact (value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) && v !== undefined && v !== null ? '[redacted]' : redact(v, depth + 1)
  return out
}

/** One log line: `{ level, time, component, event, ...fields }` as JSON (secret fields redacted). */
export function jsonLogLine (level: LogLevel, component: string, event: string, fields: Record<string, unknown> = {}): string {
  const { event: _e, level: _l, time: _t, component: _c, ...rest } = fields
  return JSON.stringify({ level, time: new Date().toISOString(), component, event, ...(redact(rest) as Record<string, unknown>) }, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Uint8Array) return `<${v.byteLength} bytes>`
    if (v instanceof Error) return { name: v.name, message: v.message }
    return v
  })
}

/** libp2p's format directives (`%p` peer id, `%a` multiaddr, `%b`/`%t` bytes, `%c` CID, `%k` key, `%e` error) to plain ones. */
function formatMessage (formatter: unknown, args: unknown[]): string {
  if (typeof formatter !== 'string') return formatWithOptions({ breakLength: Infinity }, formatter, ...args)
  let i = 0
  const out: unknown[] = []
  const text = formatter.replace(/%([a-zA-Z%])/g, (m, d: string) => {
    if (d === '%') return '%'
    if (i >= args.length) return m
    const arg = args[i++]
    if (d === 'e') return arg instanceof Error ? `${arg.name}: ${arg.message}` : String(arg)
    if ('patbck'.includes(d)) return arg instanceof Uint8Array ? `<${arg.byteLength} bytes>` : String(arg)
    if (d === 's' || d === 'd' || d === 'i' || d === 'f') return String(arg)
    out.push(arg)
    return '%O'
  })
  return formatWithOptions({ breakLength: Infinity, depth: 3 }, text, ...out, ...args.slice(i))
}

/** Where {@link jsonComponentLogger} writes its lines, and which components are on. */
export interface JsonLoggerInit {
  /** Writes one line (without the newline). */
  write: (line: string) => void
  /** Whether a component's (or `component:error`, `component:trace`) logs are on; default as `DEBUG` says. */
  enabled?: (namespace: string) => boolean
}

/** A libp2p `ComponentLogger` writing JSON lines; each component is on when `enabled` says so. */
export function jsonComponentLogger (init: JsonLoggerInit): ComponentLogger {
  const enabled = init.enabled ?? debugEnabled
  const make = (component: string): Logger => {
    const emit = (level: LogLevel, formatter: unknown, args: unknown[]): void => {
      init.write(jsonLogLine(level, component, 'log', { msg: formatMessage(formatter, args) }))
    }
    const on = enabled(component)
    const onError = on || enabled(`${component}:error`)
    const onTrace = enabled(`${component}:trace`)
    const log = ((formatter: unknown, ...args: unknown[]) => { if (on) emit('debug', formatter, args) }) as Logger
    log.error = (formatter: unknown, ...args: unknown[]) => { if (onError) emit('error', formatter, args) }
    log.trace = (formatter: unknown, ...args: unknown[]) => { if (onTrace) emit('trace', formatter, args) }
    log.enabled = on
    log.newScope = (name: string) => make(`${component}:${name}`)
    return log
  }
  return { forComponent: make }
}
