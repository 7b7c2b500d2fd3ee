/**
 * libp2p's default component logger, without the cost of loggers nobody reads: libp2p
 * makes several per connection (each a `debug` instance that asks whether stderr is a
 * TTY), which a listener refusing hundreds of connections a second pays for each time.
 * A component whose namespace `DEBUG` does not enable gets a no-op logger instead; an
 * enabled one gets libp2p's own. Decided when the logger is made, as `debug` does.
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

/** A {@link ComponentLogger} that makes `debug` loggers only for enabled namespaces. */
export function quietLogger (): ComponentLogger {
  const make = (name: string): Logger =>
    enabled(name) || enabled(`${name}:error`) || enabled(`${name}:trace`) ? logger(name) : disabledLogger(name, make)
  return { forComponent: make }
}
