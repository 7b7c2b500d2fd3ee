/**
 * ACL and firewall edits through the local API: the same `<home>/acl.json` that
 * `subwire acl` edits, written atomically and applied to the running peer at once (the
 * listener's file watcher then sees no change). Each edit answers with the file as it is
 * now and how many connections the new rules closed.
 *
 * @packageDocumentation
 */
import { isSs58, parseAclEntry } from '@subwire/shared'
import { readAclFile, writeAclFile } from '../acl-file.ts'
import { ApiProtocolError } from './errors.ts'
import type { Operation } from './connection.ts'
import type { OperationComponents } from './operations.ts'
import type { AclFile } from '../acl-file.ts'

const view = (f: AclFile): Record<string, unknown> => ({ allow: f.allow, block: f.block, firewall: f.firewall })

/** `acl.get`, `acl.allow`, `acl.block`, `acl.remove`, `acl.firewall`. */
export function aclOperations ({ peer, home }: OperationComponents): Array<[string, Operation]> {
  // one edit at a time: two clients editing at once must not lose each other's change
  let chain: Promise<unknown> = Promise.resolve()
  const edit = async (change: (f: AclFile) => void): Promise<unknown> => {
    const run = chain.then(async () => {
      const file = await readAclFile(home)
      change(file)
      await writeAclFile(home, file)
      const closed = await peer.applyAcl(file)
      return { ...view(file), closed }
    })
    chain = run.catch(() => {})
    return await run
  }
  const canonical = (list: string[]): string[] => list.map((e) => parseAclEntry(e).text)
  return [
    ['acl.get', async () => view(await readAclFile(home))],
    ['acl.allow', async (a) => {
      const entries = a.strList('entries')
      const netuid = a.optInt('netuid')
      return await edit((f) => {
        if (netuid === undefined) { f.allow = [...new Set([...f.allow, ...canonical(entries)])]; return }
        for (const e of entries) if (!isSs58(e)) throw new ApiProtocolError(`acl.allow: the firewall admits hotkeys: "${e}" is not an SS58 address`)
        f.firewall.admitted[String(netuid)] = [...new Set([...(f.firewall.admitted[String(netuid)] ?? []), ...entries])]
      })
    }],
    ['acl.block', async (a) => {
      const entries = canonical(a.strList('entries'))
      return await edit((f) => { f.block = [...new Set([...f.block, ...entries])] })
    }],
    ['acl.remove', async (a) => {
      const drop = new Set(a.strList('entries').map((e) => e.trim()))
      return await edit((f) => {
        const keep = (l: string[]): string[] => l.filter((e) => !drop.has(e))
        f.allow = keep(f.allow)
        f.block = keep(f.block)
        for (const [k, l] of Object.entries(f.firewall.admitted)) f.firewall.admitted[k] = keep(l)
      })
    }],
    ['acl.firewall', async (a) => {
      const netuid = a.int('netuid')
      const on = a.optBool('on')
      if (on === undefined) throw new ApiProtocolError('acl.firewall: on must be a boolean')
      return await edit((f) => {
        f.firewall.netuids = on ? [...new Set([...f.firewall.netuids, netuid])] : f.firewall.netuids.filter((n) => n !== netuid)
      })
    }]
  ]
}
