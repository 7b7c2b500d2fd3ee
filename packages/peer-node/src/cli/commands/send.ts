/**
 * `subwire send`: sends a file, through the durable outbox unless `--no-queue`.
 *
 * @packageDocumentation
 */
import { stat } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import { parseNetuid, parseTimeout, UsageError } from '../args.ts'
import { checkDestination, checkFile, connectWithin, DEFAULT_DIAL_TIMEOUT_MS } from '../destination.ts'
import { formatBytes, printable, progressLine } from '../format.ts'
import { queuedSend } from '../queued-send.ts'
import type { Command } from 'commander'
import type { CliContext } from '../context.ts'

interface SendOptions { netuid?: number, name?: string, encrypt: boolean, queue: boolean, detach?: boolean, timeout?: number, hashFirst?: boolean }

/** Prints the final `sent` line of a file sent directly or through the outbox. */
function printSent (ctx: CliContext, r: Record<string, unknown>): void {
  const result = r as { name: string, size: number, blake3: string, bytesSent: number, resumedFrom: number, ms: number }
  ctx.emit({ event: 'sent', id: r.id, name: result.name, size: result.size, blake3: result.blake3, bytesSent: result.bytesSent, resumedFrom: result.resumedFrom, ms: result.ms },
    `sent ${result.name} (${formatBytes(result.size)}) in ${(result.ms / 1000).toFixed(1)} s` + (result.resumedFrom > 0 ? `, resumed from ${formatBytes(result.resumedFrom)}` : '') + `\nblake3 root ${result.blake3}`)
}

/** `--no-queue`: sends the file with a transient peer, printing progress, and fails fast. */
async function sendDirect (ctx: CliContext, dest: string, file: string, opts: SendOptions): Promise<void> {
  const tty = ctx.globals().json !== true && process.stderr.isTTY
  let lastJson = 0
  await ctx.withPeer(async (peer) => {
    await connectWithin(peer, dest, opts.timeout ?? DEFAULT_DIAL_TIMEOUT_MS)
    const result = await peer.sendFile(dest, file, {
      netuid: opts.netuid,
      encrypt: opts.encrypt,
      hashFirst: opts.hashFirst === true,
      ...(opts.name === undefined ? {} : { name: opts.name }),
      onProgress: (event) => {
        const { bytes, total, rate } = event.detail
        if (ctx.globals().json === true) {
          const now = Date.now()
          if (now - lastJson >= 250 || bytes === total) {
            lastJson = now
            ctx.io.stdout(JSON.stringify({ event: event.type === 'transfer:hashing' ? 'hashing' : 'progress', bytes, total, rate: Math.round(rate) }))
          }
        } else if (tty) {
          process.stderr.write(`\r${progressLine(event.type === 'transfer:hashing' ? 'hashing' : 'sending', bytes, total, rate)}\x1b[K`)
        }
      }
    })
    if (tty) process.stderr.write('\n')
    printSent(ctx, { ...result })
  })
}

/** Sends a directory as one folder transfer with a transient peer, printing per-file and total progress. */
async function sendFolderDirect (ctx: CliContext, dest: string, dir: string, opts: SendOptions): Promise<void> {
  const json = ctx.globals().json === true
  const tty = !json && process.stderr.isTTY
  let lastJson = 0
  let lastFile = -1
  await ctx.withPeer(async (peer) => {
    const folder = await peer.openFolder(dir, opts.name)
    for (const p of folder.skipped) ctx.warn('skipped', `${printable(p)} is not a regular file or directory (a symbolic link?): not sent`)
    await connectWithin(peer, dest, opts.timeout ?? DEFAULT_DIAL_TIMEOUT_MS)
    const result = await peer.sendFolder(dest, folder, {
      netuid: opts.netuid,
      encrypt: opts.encrypt,
      onProgress: (event) => {
        const { bytes, total, rate, file, files, filesDone } = event.detail
        const phase = event.type === 'folder:hashing' ? 'hashing' : 'progress'
        const fileDone = file.bytes === file.total
        if (json) {
          const now = Date.now()
          // every file's end is printed, and the totals at most every 250 ms between
          if (now - lastJson >= 250 || (fileDone && file.index !== lastFile) || bytes === total) {
            lastJson = now
            if (fileDone) lastFile = file.index
            ctx.io.stdout(JSON.stringify({ event: phase, bytes, total, rate: Math.round(rate), files, filesDone, file: { index: file.index, path: file.path, bytes: file.bytes, total: file.total } }))
          }
        } else if (tty) {
          process.stderr.write(`\r${progressLine(phase === 'hashing' ? 'hashing' : 'sending', bytes, total, rate)}  ${Math.min(files, filesDone + (fileDone ? 0 : 1))}/${files} ${printable(file.path)}\x1b[K`)
        }
      }
    })
    if (tty) process.stderr.write('\n')
    ctx.emit({ event: 'folder-sent', id: result.id, name: result.name, files: result.files, size: result.size, blake3: result.blake3, bytesSent: result.bytesSent, resumedFrom: result.resumedFrom, ms: result.ms, skipped: folder.skipped },
      `sent folder ${printable(result.name)} (${result.files} file${result.files === 1 ? '' : 's'}, ${formatBytes(result.size)}) in ${(result.ms / 1000).toFixed(1)} s` +
      (result.resumedFrom > 0 ? `, resumed from ${formatBytes(result.resumedFrom)}` : '') + `\nblake3 folder root ${result.blake3}`)
  })
}

/** True if `path` is a directory (following a link given on the command line). */
async function isDirectory (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

/** Registers `send`. */
export function registerSend (program: Command, ctx: CliContext): void {
  program.command('send')
    .description('send a file through the durable outbox (resumes where the receiver left off), or a directory as one folder transfer; waits for the receiver\'s hash ack')
    .argument('<dest>', 'multiaddr ending in /p2p/<PeerId>, or an SS58 in the address book')
    .argument('<file>', 'path of the file, or of a directory to send as one folder (sent directly, not queued)')
    .option('--netuid <n>', 'subnet (default the first in the config)', parseNetuid)
    .option('--name <name>', 'name to offer (default the file\'s base name)')
    .option('--no-encrypt', 'send without end-to-end encryption (a trusted link)')
    .option('--no-queue', 'send directly and fail fast if the receiver is not reachable (nothing is queued)')
    .option('--detach', 'queue it and return at once; the listener (or the next `subwire listen`) delivers it')
    .option('--hash-first', 'hash the whole file before its first chunk leaves (default: a file with no kept hashes is hashed as it is sent, its root sent last)')
    .option('--timeout <ms>', `with --no-queue: how long to try to reach the receiver (default ${DEFAULT_DIAL_TIMEOUT_MS} ms)`, parseTimeout)
    .addHelpText('after', `
Examples:
  subwire send 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty ./ckpt.safetensors   waits for the receiver's hash ack
  subwire send /ip4/10.0.0.2/udp/4701/quic-v1/p2p/12D3Koo… ./ckpt.bin --detach      queued; the listener delivers it
  subwire send … ./ckpt.bin --no-queue --timeout 3000                              fails if not reachable within 3 s
  subwire send 5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty ./dataset/          the whole tree as one folder: inbox/<you>/dataset/
Running the same send again (after Ctrl-C or a crash) joins the item already queued and resumes it.`)
    .action(async (dest: string, file: string, opts: SendOptions) => {
      if (await isDirectory(file)) {
        // a folder goes directly (the outbox queues single files): its files are hashed, offered once and sent in turn
        if (opts.detach === true) throw new UsageError('--detach queues a file; a directory is sent directly (drop --detach)')
        await checkDestination(ctx, dest)
        await sendFolderDirect(ctx, dest, file, opts)
        return
      }
      await checkFile(file)
      await checkDestination(ctx, dest)
      if (!opts.queue) {
        await sendDirect(ctx, dest, file, opts)
        return
      }
      const path = resolvePath(file)
      const hashFirst = opts.hashFirst === true
      await queuedSend(ctx, { op: 'file', dest, path, netuid: opts.netuid, encrypt: opts.encrypt, hashFirst, ...(opts.name === undefined ? {} : { name: opts.name }) },
        async (peer) => (await peer.sendFile(dest, path, { queue: true, netuid: opts.netuid, encrypt: opts.encrypt, hashFirst, ...(opts.name === undefined ? {} : { name: opts.name }) })).id,
        { detach: opts.detach === true }, (e) => { printSent(ctx, e) })
    })
}
