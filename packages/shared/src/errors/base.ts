/**
 * The base of every subwire error, and how to tell an error that arrived from a remote
 * from one raised here.
 *
 * Every condition has one class with a static `name` (checked by `.name`, never by
 * `instanceof`, so errors survive bundling, realms and the wire) and a stable `code`.
 *
 * @packageDocumentation
 */

/** Options accepted by every subwire error constructor. */
export interface SubwireErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown
}

/**
 * Base class of every subwire error. Subclasses only declare `static name` and
 * `static code`; the instance `name` and `code` are taken from the class.
 */
export class SubwireError extends Error {
  /** Stable class name, also the instance `name`. */
  static override name = 'SubwireError'
  /** Stable machine-readable code. */
  static code = 'ERR_SUBWIRE'
  /** Stable machine-readable code of this error. */
  readonly code: string

  constructor (message?: string, options: SubwireErrorOptions = {}) {
    const ctor = new.target as unknown as { name: string, code: string, defaultMessage?: string }
    super(message ?? ctor.defaultMessage ?? ctor.name, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = ctor.name
    this.code = ctor.code
  }
}

/**
 * Marks an error as rebuilt from a remote's `{ name, message }` (see `errorFromWire`). The
 * mark is a non-enumerable own property, so it never reaches the wire or a log's fields.
 */
export function markRemote<E extends Error> (err: E): E {
  Object.defineProperty(err, 'remote', { value: true, enumerable: false, configurable: true })
  return err
}

/**
 * True if `err` arrived from a remote peer (a handler's error, a refusal, a cancel reason)
 * rather than being raised by this process: a remote's `InvalidConfigError` says the
 * remote is misconfigured, not this peer.
 */
export function isRemoteError (err: unknown): boolean {
  return err instanceof Error && (err as { remote?: unknown }).remote === true
}

/**
 * Walks `err` and its `cause` chain (at most 16 deep) and returns the first error that
 * `match` accepts, or undefined (the cause walk of viem's `BaseError.walk`).
 */
export function walkCause (err: unknown, match: (e: Error) => boolean): Error | undefined {
  let e: unknown = err
  for (let depth = 0; depth < 16 && e instanceof Error; depth++) {
    if (match(e)) return e
    e = e.cause
  }
  return undefined
}
