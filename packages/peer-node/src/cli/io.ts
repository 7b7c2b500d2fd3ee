/**
 * Where the CLI's output goes, and when it should stop: the process's streams and
 * signals, or a test's replacement.
 *
 * @packageDocumentation
 */

/** Where the CLI writes; replaceable for tests. */
export interface CliIo {
  /**
   * Writes a line; the promise, if any, settles once the line has left the process (a
   * message is acknowledged only then, so a slow consumer holds the sender back).
   */
  stdout: (line: string) => void | Promise<void>
  stderr: (line: string) => void
  /** Resolves when the process should shut down (SIGINT/SIGTERM). */
  shutdown: () => Promise<string>
}

/** The process's stdout and stderr, one line per call, and its SIGINT/SIGTERM. */
export const processIo: CliIo = {
  stdout: async (line) => {
    await new Promise<void>((resolve, reject) => {
      process.stdout.write(line + '\n', (err) => { if (err === null || err === undefined) resolve(); else reject(err) })
    })
  },
  stderr: (line) => { process.stderr.write(line + '\n') },
  shutdown: async () => await new Promise<string>((resolve) => {
    // A terminal's Ctrl-C reaches both the launcher and us, and the launcher forwards it
    // too: the first signal starts a clean shutdown, a duplicate is ignored, a third
    // one forces the exit.
    let count = 0
    const on = (sig: string): void => {
      count++
      if (count === 1) resolve(sig)
      else if (count >= 3) process.exit(130)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}
