/**
 * libp2p's default component logger, without the cost of loggers nobody reads: libp2p
 * makes several per connection (each a `debug` instance that asks whether stderr is a
 * TTY), which a listener refusing hundreds of connections a second pays for each time.
 * A component whose namespace `DEBUG` does not enable gets a no-op logger instead; an
 * enabled one gets libp2p's own. Decided when the logger is first made for a name (a
 * namespace enabled later, with `enable()`, is seen by names not made before).
 *
 * @packageDocumentation
 */
import { enabled, logger } from '@libp2p/logger'
import type { ComponentLogger, Logger } from '@libp2p/interface'

const noop = (): void => {}

/** A disabled logger for `name` whose scopes are looked up again (a scope may be enabled on its own). */
function disabledLogger (name: string, make: (name: string) => Logger): Logger {
  return Object.assign(noop.bind(null), {
    enabled: false,
    error: noop,
    trace: noop,
    newScope: (scope: string) => make(`${name}:${scope}`)
  })
}

/** Disabled loggers kept for reuse; names carry connection ids, so the cache is emptied when full. */
const DISABLED_CACHE = 4096

/** A {@link ComponentLogger} that makes `debug` loggers only for enabled namespaces. */
export function quietLogger (): ComponentLogger {
  const disabled = new Map<string, Logger>()
  const make = (name: string): Logger => {
    const cached = disabled.get(name)
    if (cached !== undefined) return cached
    if (enabled(name) || enabled(`${name}:error`) || enabled(`${name}:trace`)) return logger(name)
    if (disabled.size >= DISABLED_CACHE) disabled.clear()
    const quiet = disabledLogger(name, make)
    disabled.set(name, quiet)
    return quiet
  }
  return { forComponent: make }
}
