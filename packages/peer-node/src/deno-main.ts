/**
 * The CLI's entry point under Deno, which `bin/subwire.js` runs for
 * `subwire listen --webtransport` (Deno serves WebTransport; Node cannot).
 *
 * @packageDocumentation
 */
import process from 'node:process'
import { main } from './cli/main.ts'
import { stopWithLauncher } from './cli/orphan.ts'

delete process.env.SUBWIRE_LAUNCHED
stopWithLauncher()
process.exit(await main(process.argv.slice(2)))
