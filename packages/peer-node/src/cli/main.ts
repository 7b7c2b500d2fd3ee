/**
 * The `subwire` command-line interface. `main(argv)` returns the exit code; the
 * launcher in `bin/subwire.js` calls it. User mistakes print one line, never a stack.
 * Each command (or group of commands) registers itself from `commands/`.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { jsonLogLine } from '../ops/log.ts'
import { UsageError } from './args.ts'
import { hermesErrorClasses } from '../hermes/errors.ts'
import { describeError } from './errors.ts'
import { printable } from './format.ts'
import { CliContext } from './context.ts'
import { processIo } from './io.ts'
import { registerAcl } from './commands/acl.ts'
import { registerId } from './commands/id.ts'
import { registerInit } from './commands/init.ts'
import { registerListen } from './commands/listen.ts'
import { registerMessage } from './commands/message.ts'
import { registerPeers } from './commands/peers.ts'
import { registerQuery } from './commands/query.ts'
import { registerQueue } from './commands/queue.ts'
import { registerResolve } from './commands/resolve.ts'
import { registerSend } from './commands/send.ts'
import type { CliIo } from './io.ts'

export type { CliIo } from './io.ts'

/** Errors that are the user's input (exit code 2): bad options, and a Hermes config that cannot be imported. */
const USAGE_ERRORS = new Set<string>([UsageError.name, ...Object.keys(hermesErrorClasses)])

/** This package's version, from its package.json. */
function version (): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

/** Runs the CLI with `argv` (without `node` and the script); returns the exit code. */
export async function main (argv: string[], io: CliIo = processIo): Promise<number> {
  const program = new Command('subwire')
  const ctx = new CliContext(program, io)

  program
    .name('subwire')
    .description('Hotkey-authenticated peer-to-peer messages, RPC and files for Bittensor subnets')
    .option('--home <dir>', 'subwire home directory (default $SUBWIRE_HOME or ~/.subwire)')
    .option('--json', 'print one JSON object per line on stdout, for scripts')
    .addOption(new Option('--log-format <format>', 'human (default), or json: every line on stdout and stderr one JSON object with level, time, component and event (library logs too, with DEBUG=subwire*)').choices(['human', 'json']))
    .version(version(), '-V, --version', 'print the version of subwire')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => { io.stdout(s.trimEnd()) },
      writeErr: (s) => { io.stderr(s.trimEnd()) },
      // a usage mistake is one line like every other error: "subwire: …", exit 2
      outputError: (s, write) => { write(`subwire: ${s.trimEnd().replace(/^error: /, '')}\n`) }
    })

  program.addHelpText('after', `
Examples:
  subwire --home /tmp/bob init --hotkey-uri //Bob --listen /ip4/127.0.0.1/udp/4801/quic-v1
  subwire --home /tmp/bob listen --json
  subwire query /ip4/127.0.0.1/udp/4801/quic-v1/p2p/12D3Koo… echo '{"x":1}'
  subwire send 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty ./model.safetensors
  subwire message 5FHneW46… weights:ready @payload.json

Exit codes:
  0  done
  1  failed (unreachable, refused, dead-lettered, …): one line "subwire: …" on stderr
  2  usage mistake (bad option, address, file or JSON; a Hermes config that cannot be imported)
  3  a waiting send was interrupted (Ctrl-C); its item stays queued (through npm/npx a shell may report 130)

Environment:
  SUBWIRE_HOME          the home directory (default ~/.subwire; --home overrides)
  SUBWIRE_DEBUG=1       print the stack with an error
  DEBUG=subwire*        library logs (DEBUG=subwire:files for one part; libp2p* for libp2p's); JSON lines with --log-format json
  SUBWIRE_WEBTRANSPORT  npm start only: 0 runs the peer under Node without WebTransport
  SUBWIRE_DENO          the Deno binary for listen --webtransport (default the bundled one)
  SUBWIRE_DENO_FLAGS, SUBWIRE_NODE_FLAGS  extra flags for the peer's runtime
`)

  // the order of registration is the order `subwire --help` lists them in
  registerInit(program, ctx)
  registerId(program, ctx)
  registerListen(program, ctx)
  registerSend(program, ctx)
  registerQuery(program, ctx)
  registerResolve(program, ctx)
  registerMessage(program, ctx)
  registerQueue(program, ctx)
  registerPeers(program, ctx)
  registerAcl(program, ctx)

  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2
    }
    const e = err as Error
    ctx.code = USAGE_ERRORS.has(e.name) ? 2 : 1
    const line = describeError(e)
    if (ctx.jsonLogs()) {
      io.stderr(jsonLogLine('error', 'subwire:cli', 'error', { error: e.name, message: line }))
    } else {
      if (ctx.globals().json === true) io.stdout(JSON.stringify({ event: 'error', error: e.name, message: line }))
      io.stderr(`subwire: ${printable(line)}`)
    }
    if (process.env.SUBWIRE_DEBUG !== undefined) io.stderr(e.stack ?? '')
  }
  return ctx.code
}
