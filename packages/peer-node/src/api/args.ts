/**
 * Reading an operation's arguments from its frame: each reader names the field it
 * refuses, so a client sees `ApiProtocolError: request: dest must be a non-empty string`.
 *
 * @packageDocumentation
 */
import { ApiProtocolError } from './errors.ts'
import type { ApiFrame } from './framing.ts'

/** The arguments of one operation, with readers that throw {@link ApiProtocolError}. */
export class Args {
  readonly #op: string
  /** The frame as received. */
  readonly frame: ApiFrame

  constructor (op: string, frame: ApiFrame) {
    this.#op = op
    this.frame = frame
  }

  #fail (name: string, what: string): never {
    throw new ApiProtocolError(`${this.#op}: ${name} must be ${what}`)
  }

  /** A required non-empty string. */
  str (name: string): string {
    const v = this.frame[name]
    if (typeof v !== 'string' || v.length === 0) this.#fail(name, 'a non-empty string')
    return v
  }

  /** An optional string. */
  optStr (name: string): string | undefined {
    const v = this.frame[name]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string') this.#fail(name, 'a string')
    return v
  }

  /** An optional finite number. */
  optNum (name: string): number | undefined {
    const v = this.frame[name]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'number' || !Number.isFinite(v)) this.#fail(name, 'a number')
    return v
  }

  /** An optional non-negative integer (a netuid, a count). */
  optInt (name: string): number | undefined {
    const v = this.optNum(name)
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) this.#fail(name, 'a non-negative integer')
    return v
  }

  /** A required non-negative integer. */
  int (name: string): number {
    const v = this.optInt(name)
    if (v === undefined) this.#fail(name, 'a non-negative integer')
    return v
  }

  /** An optional boolean. */
  optBool (name: string): boolean | undefined {
    const v = this.frame[name]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'boolean') this.#fail(name, 'a boolean')
    return v
  }

  /** A required non-empty list of strings. */
  strList (name: string): string[] {
    const v = this.frame[name]
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x.length === 0)) this.#fail(name, 'a non-empty list of strings')
    return v as string[]
  }

  /** An optional list of strings. */
  optStrList (name: string): string[] | undefined {
    const v = this.frame[name]
    if (v === undefined || v === null) return undefined
    return this.strList(name)
  }

  /** Any value (a body or payload; absent is `null`). */
  value (name: string): unknown {
    return this.frame[name] ?? null
  }
}
