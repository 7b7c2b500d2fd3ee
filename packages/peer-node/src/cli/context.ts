/**
 * What every command shares: the global options, the home, output in human or JSON
 * form, the exit code, and a peer or address book for as long as a command runs.
 *
 * @packageDocumentation
 */
import { join } from 'node:path'
import { readConfig, resolveHome } from '../home.ts'
import { loadHotkey } from '../keys.ts'
import { ADDRESS_BOOK_FILE } from '../constants.ts'
import { FileAddressBook } from '../address-book-file.ts'
import { jsonSafe } from './format.ts'
import { jsonComponentLogger, jsonLogLine } from '../ops/log.ts'
import type { Command } from 'commander'
import type { ComponentLogger } from '@libp2p/interface'
import type { AddressBook } from '@subwire/shared'
import type { NodePeer, NodePeerInit } from '../node-peer.ts'
import type { SubwireConfig } from '../home.ts'
import type { CliIo } from './io.ts'

/** The options every command takes (`subwire --home <dir> --json <command>`). */
export interface GlobalOptions {
  home?: string
  json?: boolean
  /** `human` (default) or `json`: one JSON log object per line (level, time, component, event). */
  logFormat?: 'human' | 'json'
}

/** The component of the CLI's own log lines. */
const CLI_COMPONENT = 'subwire:cli'

/** Where a command's peer keeps received files, and its limits. */
export interface PeerFiles {
  dir: string
  maxFileSize?: number | undefined
  minFreeBytes?: number | undefined
}

/** The command's state: its program, its output and the exit code `main` returns. */
export class CliContext {
  /** Where the command prints. */
  readonly io: CliIo
  readonly #program: Command
  /** The exit code when the command ends without an error (3: interrupted, still queued). */
  code = 0

  constructor (program: Command, io: CliIo) {
    this.#program = program
    this.io = io
  }

  /** The global options as parsed. */
  globals (): GlobalOptions { return this.#program.opts<GlobalOptions>() }

  /** The home directory: `--home`, else `$SUBWIRE_HOME`, else `~/.subwire`. */
  home (): string { return resolveHome(this.globals().home) }

  /**
   * Prints `json` as one line under `--json`, else `human` (when there is one). Resolves
   * once the line has left the process; callers that need no such guarantee may ignore it.
   */
  async emit (json: Record<string, unknown>, human?: string): Promise<void> {
    const line = this.jsonLogs()
      ? jsonLogLine('info', CLI_COMPONENT, String(json.event ?? 'output'), jsonSafe(json) as Record<string, unknown>)
      : this.globals().json === true ? JSON.stringify(jsonSafe(json)) : human
    if (line === undefined) return
    const written = Promise.resolve(this.io.stdout(line))
    written.catch(() => {}) // awaited by those who need it (a message's ack); others must not see it unhandled
    await written
  }

  /** True under `--log-format json`. */
  jsonLogs (): boolean { return this.globals().logFormat === 'json' }

  /** A warning on stderr: `subwire: warning: …`, or a JSON line with `level: "warn"`. */
  warn (event: string, message: string): void {
    this.io.stderr(this.jsonLogs() ? jsonLogLine('warn', CLI_COMPONENT, event, { message }) : `subwire: warning: ${message}`)
  }

  /** The peer's logger: JSON lines on stderr under `--log-format json`, else libp2p's default. */
  logger (): ComponentLogger | undefined {
    return this.jsonLogs() ? jsonComponentLogger({ write: (line) => { this.io.stderr(line) } }) : undefined
  }

  /** Runs `fn` with a peer of this home (started unless `extra.start` is false), and stops the peer after. */
  async withPeer<T> (fn: (peer: NodePeer, config: SubwireConfig) => Promise<T>, listen: string[] = [], netuids?: number[], files?: PeerFiles, extra: Partial<NodePeerInit> & { start?: boolean } = {}): Promise<T> {
    const config = await readConfig(this.home())
    const signer = await loadHotkey(config.hotkey, config.ss58Prefix)
    // libp2p and the engine load only for the commands that run a peer (~0.2 s of start-up)
    const { createNodePeer } = await import('../index.ts')
    const logger = this.logger()
    const peer = await createNodePeer({
      signer,
      netuids: netuids ?? config.netuids,
      listen,
      home: this.home(),
      filesDir: files?.dir,
      protocol: { ss58Prefix: config.ss58Prefix, files: { maxFileSize: files?.maxFileSize, minFreeBytes: files?.minFreeBytes }, ...extra.protocol },
      ...(extra.transports === undefined ? {} : { transports: extra.transports }),
      ...(extra.onAclReload === undefined ? {} : { onAclReload: extra.onAclReload }),
      ...(extra.metrics === undefined ? {} : { metrics: extra.metrics }),
      ...(logger === undefined ? {} : { logger }),
      bootstrap: extra.bootstrap ?? config.bootstrap ?? [],
      subtensor: extra.subtensor ?? config.subtensor
    })
    if (extra.start !== false) await peer.start()
    try {
      return await fn(peer, config)
    } finally {
      await peer.stop()
    }
  }

  /** Runs `fn` with this home's address book. */
  async withBook (fn: (book: AddressBook) => Promise<void>): Promise<void> {
    await fn(new FileAddressBook(join(this.home(), ADDRESS_BOOK_FILE)))
  }
}
