/**
 * The bearer token of the TCP API: 32 random bytes, hex, in `<home>/api.token` (0600),
 * made on first use and kept, so a client configured once keeps working across restarts.
 *
 * @packageDocumentation
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../home.ts'
import { API_TOKEN_FILE } from './constants.ts'

/** Reads the home's API token, making one (mode 0600) if there is none. */
export async function loadOrCreateApiToken (home: string): Promise<string> {
  const path = join(home, API_TOKEN_FILE)
  try {
    const token = (await readFile(path, 'utf8')).trim()
    if (token.length >= 32) return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(32).toString('hex')
  await writeFileAtomic(path, token + '\n', 0o600)
  return token
}

/** Compares a presented token with the expected one in constant time. */
export function tokenMatches (presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false
  const a = Buffer.from(presented)
  const b = Buffer.from(expected)
  return a.byteLength === b.byteLength && timingSafeEqual(a, b)
}
