/**
 * `acl.json` in the peer's home: allow and block lists and the subnet firewall,
 * edited by `subwire acl …` or by hand, reloaded live by a running listener.
 *
 * ```json
 * { "version": 1, "allow": [], "block": ["5F…", "12D3Koo…", "10.0.0.0/8"],
 *   "firewall": { "netuids": [42], "admitted": { "42": ["5Grw…"] } } }
 * ```
 *
 * @packageDocumentation
 */
import { watch } from 'node:fs'
import { join } from 'node:path'
import { InvalidConfigError, isSs58, MAX_NETUID, StaticSubnetMembership, validateAclRules } from '@subwire/shared'
import { ACL_FILE, ACL_RELOAD_DEBOUNCE_MS } from './constants.ts'
import { readJsonFile, writeFileAtomic } from './home.ts'
import type { AclRules, SubnetFirewallInit } from '@subwire/shared'

/** Contents of `acl.json`. */
export interface AclFile extends AclRules {
  /** Layout version. */
  version: 1
  /** The fail-closed subnet firewall: on `netuids`, only the `admitted` hotkeys of that subnet get in. */
  firewall: {
    /** Subnets where the firewall is on. */
    netuids: number[]
    /** netuid → admitted SS58 hotkeys. */
    admitted: Record<string, string[]>
  }
}

/** An empty file: allow everyone, firewall off. */
export function emptyAclFile (): AclFile {
  return { version: 1, allow: [], block: [], firewall: { netuids: [], admitted: {} } }
}

/** Checks a parsed `acl.json`; throws {@link InvalidConfigError} naming the problem. */
export function validateAclFile (raw: unknown, where = ACL_FILE): AclFile {
  const c = raw as Partial<AclFile> | null
  if (c === null || typeof c !== 'object' || (c.version !== undefined && c.version !== 1)) throw new InvalidConfigError(`${where}: not an ACL file (version 1)`)
  let rules: AclRules
  try {
    rules = validateAclRules({ allow: c.allow ?? [], block: c.block ?? [] })
  } catch (err) {
    throw new InvalidConfigError(`${where}: ${(err as Error).message}`)
  }
  const fw = c.firewall ?? { netuids: [], admitted: {} }
  if (typeof fw !== 'object' || !Array.isArray(fw.netuids) || fw.netuids.some((n) => !Number.isInteger(n) || n < 0 || n > MAX_NETUID)) {
    throw new InvalidConfigError(`${where}: "firewall.netuids" must be a list of netuids`)
  }
  const admitted: Record<string, string[]> = {}
  for (const [k, v] of Object.entries(fw.admitted ?? {})) {
    if (!/^\d+$/.test(k) || Number(k) > MAX_NETUID) throw new InvalidConfigError(`${where}: "firewall.admitted" key "${k}" is not a netuid`)
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !isSs58(s))) throw new InvalidConfigError(`${where}: "firewall.admitted.${k}" must be a list of SS58 hotkeys`)
    admitted[k] = [...new Set(v)]
  }
  return { version: 1, ...rules, firewall: { netuids: [...new Set(fw.netuids)].sort((a, b) => a - b), admitted } }
}

/** Reads `<home>/acl.json`; a missing file is the empty one. */
export async function readAclFile (home: string): Promise<AclFile> {
  const path = join(home, ACL_FILE)
  const raw = await readJsonFile(path)
  return raw === undefined ? emptyAclFile() : validateAclFile(raw, path)
}

/** Writes `<home>/acl.json` atomically (a watching listener never sees half a file). */
export async function writeAclFile (home: string, acl: AclFile): Promise<void> {
  await writeFileAtomic(join(home, ACL_FILE), JSON.stringify(validateAclFile(acl), null, 2) + '\n')
}

/** The firewall part as the engine takes it (undefined when no subnet has it on). */
export function firewallFromAclFile (acl: AclFile, served: number[]): SubnetFirewallInit | undefined {
  const netuids = acl.firewall.netuids.filter((n) => served.includes(n))
  if (netuids.length === 0) return undefined
  return { netuids, source: new StaticSubnetMembership(acl.firewall.admitted), cacheMs: 60_000 }
}

/**
 * Watches `<home>/acl.json` and calls `onChange` with each new valid version (or with the
 * error of an invalid one, keeping the old rules). Returns a function that stops watching.
 */
export function watchAclFile (home: string, onChange: (acl: AclFile | Error) => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  let last = ''
  const reload = (): void => {
    readAclFile(home).then((acl) => {
      const text = JSON.stringify(acl)
      if (text === last) return
      last = text
      onChange(acl)
    }, (err: unknown) => { onChange(err instanceof Error ? err : new Error(String(err))) })
  }
  // watch the directory: an atomic rename replaces the file's inode, which a file watch would lose
  const watcher = watch(home, { persistent: false }, (_event, name) => {
    if (name !== null && name !== ACL_FILE) return
    clearTimeout(timer)
    timer = setTimeout(reload, ACL_RELOAD_DEBOUNCE_MS)
  })
  readAclFile(home).then((acl) => { last = JSON.stringify(acl) }, () => {})
  return () => {
    clearTimeout(timer)
    watcher.close()
  }
}
