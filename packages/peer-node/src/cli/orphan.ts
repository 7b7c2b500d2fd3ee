/**
 * The peer process under the `subwire` launcher stops when the launcher is gone.
 *
 * The launcher (`bin/subwire.js`) runs the peer in a child process (the bundled Node, or
 * Deno for WebTransport). A supervisor that kills the launcher, even with SIGKILL, must not
 * leave that child holding the ports as an orphan: the child watches its parent and, once
 * it has been re-parented, shuts down as if it had been sent SIGTERM (connections closed,
 * outbox state kept).
 *
 * @packageDocumentation
 */
import process from 'node:process'

/** Environment variable through which the launcher passes its pid to the child. */
export const LAUNCHER_PID_ENV = 'SUBWIRE_LAUNCHER_PID'

/** How often the child looks at its parent. */
const CHECK_MS = 500

/** Starts watching the launcher named in the environment; a no-op when there is none. */
export function stopWithLauncher (): void {
  const launcher = Number(process.env[LAUNCHER_PID_ENV])
  delete process.env[LAUNCHER_PID_ENV]
  if (!Number.isInteger(launcher) || launcher <= 0) return
  const timer = setInterval(() => {
    if (process.ppid === launcher) return
    clearInterval(timer)
    process.kill(process.pid, 'SIGTERM')
  }, CHECK_MS)
  timer.unref()
}
