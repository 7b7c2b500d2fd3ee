/**
 * Access control: allow and block lists of SS58 hotkeys, libp2p PeerIds and IP CIDRs
 * (the block list wins), and the fail-closed subnet firewall.
 *
 * Each rule is enforced at the earliest stage that knows its fact: IPs in the libp2p
 * connection gater before any cryptography, PeerIds right after the transport
 * handshake, SS58s and subnets at the subwire handshake, before any protocol stream is
 * served. The allow list admits a peer that matches **any** of its entries; a stage
 * only refuses on it when no later stage could still match (e.g. an allow list of IP
 * ranges only refuses other IPs at once; one that names hotkeys waits for the hotkey).
 *
 * @packageDocumentation
 */
import { base58Decode } from '../identity/base58.ts'
import { InvalidConfigError } from '../errors/index.ts'
import { isSs58 } from '../identity/ss58.ts'
import type { AbortOptions } from '../abort.ts'
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Allow and block lists, as kept in config. Entries are SS58s, PeerIds, IPs or CIDRs. */
export interface AclRules {
  /** When non-empty, only peers matching one of these may connect in. */
  allow: string[]
  /** Peers matching one of these may neither connect in nor be dialled. Wins over `allow`. */
  block: string[]
}

/** What one entry names. */
export type AclEntryKind = 'ss58' | 'peerId' | 'ip'

/** A parsed entry. */
export interface AclEntry {
  /** What it names. */
  kind: AclEntryKind
  /** As written. */
  text: string
  /** Matches a fact of its kind. */
  matches: (value: string) => boolean
}

/** What is known about a remote at a stage. */
export interface AclFacts {
  /** Remote IP address (v4 or v6), when the transport has one. */
  ip?: string | undefined
  /** Transport-authenticated PeerId. */
  peerId?: string | undefined
  /** Hotkey verified by the subwire handshake. */
  ss58?: string | undefined
}

/** The outcome of a check. */
export interface AclDecision {
  /** False: refuse now. */
  allowed: boolean
  /** Why, for logs and errors. */
  reason: string
}

interface Cidr { v6: boolean, bits: Uint8Array, prefix: number }

function parseIpv4 (s: string): Uint8Array | undefined {
  const parts = s.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string
    if (!/^\d{1,3}$/.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

function parseIpv6 (s: string): Uint8Array | undefined {
  let text = s
  const zone = text.indexOf('%')
  if (zone >= 0) text = text.slice(0, zone)
  let tail: Uint8Array | undefined
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.') && lastColon >= 0) {
    tail = parseIpv4(text.slice(lastColon + 1))
    if (tail === undefined) return undefined
    text = text.slice(0, lastColon) + ':0:0'
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const group = (h: string): number[] | undefined => {
    if (h === '') return []
    const out: number[] = []
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
      out.push(parseInt(g, 16))
    }
    return out
  }
  const head = group(halves[0] as string)
  const rest = halves.length === 2 ? group(halves[1] as string) : []
  if (head === undefined || rest === undefined) return undefined
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff })
  if (tail !== undefined) out.set(tail, 12)
  return out
}

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes (IPv4-mapped IPv6 becomes IPv4). */
export function parseIp (s: string): Uint8Array | undefined {
  const v4 = parseIpv4(s)
  if (v4 !== undefined) return v4
  const v6 = parseIpv6(s)
  if (v6 === undefined) return undefined
  const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff
  return mapped ? v6.slice(12) : v6
}

function parseCidr (s: string): Cidr | undefined {
  const slash = s.indexOf('/')
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash))
  if (ip === undefined) return undefined
  const max = ip.byteLength * 8
  const prefixText = slash < 0 ? String(max) : s.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefixText)) return undefined
  const prefix = Number(prefixText)
  if (prefix > max) return undefined
  return { v6: ip.byteLength === 16, bits: ip, prefix }
}

function inCidr (cidr: Cidr, ip: Uint8Array): boolean {
  if ((ip.byteLength === 16) !== cidr.v6) return false
  const full = Math.floor(cidr.prefix / 8)
  for (let i = 0; i < full; i++) if (ip[i] !== cidr.bits[i]) return false
  const rest = cidr.prefix % 8
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((ip[full] as number) & mask) === ((cidr.bits[full] as number) & mask)
}

function isPeerId (s: string): boolean {
  if (!/^(12D3Koo|16Uiu2|Qm)[1-9A-HJ-NP-Za-km-z]+$/.test(s)) return false
  try {
    const b = base58Decode(s)
    return b.byteLength >= 34 && b.byteLength <= 64
  } catch {
    return false
  }
}

/** Parses one entry; throws {@link InvalidConfigError} naming it when it is none of the three. */
export function parseAclEntry (text: string): AclEntry {
  const t = text.trim()
  if (isSs58(t)) return { kind: 'ss58', text: t, matches: (v) => v === t }
  if (isPeerId(t)) return { kind: 'peerId', text: t, matches: (v) => v === t }
  const cidr = parseCidr(t)
  if (cidr !== undefined) {
    return {
      kind: 'ip',
      text: t,
      matches: (v) => {
        const ip = parseIp(v)
        return ip !== undefined && inCidr(cidr, ip)
      }
    }
  }
  throw new InvalidConfigError(`ACL entry "${text}" is not an SS58 address, a PeerId, an IP address or a CIDR range`)
}

/** Checks rules; throws {@link InvalidConfigError} on the first bad entry. */
export function validateAclRules (rules: unknown): AclRules {
  const rec = rules as Partial<AclRules> | null
  if (rec === null || typeof rec !== 'object') throw new InvalidConfigError('ACL rules must be an object { allow: [], block: [] }')
  const list = (name: 'allow' | 'block'): string[] => {
    const v = rec[name] ?? []
    if (!Array.isArray(v) || !v.every((e) => typeof e === 'string')) throw new InvalidConfigError(`ACL "${name}" must be a list of strings`)
    for (const e of v) parseAclEntry(e)
    return [...new Set(v.map((e) => e.trim()))]
  }
  return { allow: list('allow'), block: list('block') }
}

const FACT_KINDS: Record<AclEntryKind, keyof AclFacts> = { ss58: 'ss58', peerId: 'peerId', ip: 'ip' }

/**
 * Evaluates allow/block rules against what is known at a stage. Replace the rules at
 * any time with {@link AccessControl.update}; the engine re-checks live connections.
 */
export class AccessControl {
  #allow: AclEntry[] = []
  #block: AclEntry[] = []
  #rules: AclRules = { allow: [], block: [] }

  /** Starts with `rules` (default: allow everyone). */
  constructor (rules: AclRules = { allow: [], block: [] }) {
    this.update(rules)
  }

  /** The current rules. */
  get rules (): AclRules {
    return { allow: [...this.#rules.allow], block: [...this.#rules.block] }
  }

  /** Replaces the rules (validated first: a bad entry leaves the old rules in place). */
  update (rules: AclRules): void {
    const valid = validateAclRules(rules)
    this.#allow = valid.allow.map(parseAclEntry)
    this.#block = valid.block.map(parseAclEntry)
    this.#rules = valid
  }

  /**
   * Decides on what is known. Blocked if any block entry matches a known fact; allowed
   * if the allow list is empty or one of its entries matches; still allowed while an
   * allow entry names a fact not yet known (a later stage decides); refused otherwise.
   * `inbound: false` (we dialled) applies the block list only.
   */
  check (facts: AclFacts, inbound = true): AclDecision {
    for (const e of this.#block) {
      const v = facts[FACT_KINDS[e.kind]]
      if (v !== undefined && e.matches(v)) return { allowed: false, reason: `${e.kind === 'ip' ? 'IP' : e.kind === 'ss58' ? 'SS58' : 'PeerId'} ${v} is blocked (rule "${e.text}")` }
    }
    if (!inbound || this.#allow.length === 0) return { allowed: true, reason: 'not blocked' }
    let undecided = false
    for (const e of this.#allow) {
      const v = facts[FACT_KINDS[e.kind]]
      if (v === undefined) { undecided = true; continue }
      if (e.matches(v)) return { allowed: true, reason: `allowed by rule "${e.text}"` }
    }
    if (undecided) return { allowed: true, reason: 'undecided until the identity is known' }
    const known = [facts.ss58 === undefined ? undefined : `SS58 ${facts.ss58}`, facts.peerId === undefined ? undefined : `PeerId ${facts.peerId}`, facts.ip === undefined ? undefined : `IP ${facts.ip}`].filter((x) => x !== undefined)
    return { allowed: false, reason: `${known.join(', ')} is not on the allow list` }
  }
}

/** Where the subnet firewall learns which hotkeys may use a subnet. */
export interface SubnetMembershipSource {
  /** The hotkeys admitted to `netuid`. Throwing or returning an empty set means: deny everyone. */
  allowed(netuid: number, options?: AbortOptions): Promise<ReadonlySet<string>>
}

/** A source from a fixed list per subnet (config today; the chain metagraph is another body). */
export class StaticSubnetMembership implements SubnetMembershipSource {
  readonly #sets: Map<number, ReadonlySet<string>>

  /** `lists`: netuid → SS58 hotkeys. */
  constructor (lists: Record<number | string, readonly string[]> = {}) {
    this.#sets = new Map()
    for (const [k, v] of Object.entries(lists)) {
      const netuid = Number(k)
      if (!Number.isInteger(netuid) || netuid < 0 || netuid > 65535) throw new InvalidConfigError(`firewall: "${k}" is not a netuid`)
      for (const s of v) if (!isSs58(s)) throw new InvalidConfigError(`firewall: "${s}" (subnet ${netuid}) is not an SS58 address`)
      this.#sets.set(netuid, new Set(v))
    }
  }

  /** The listed hotkeys, or an empty set. */
  async allowed (netuid: number): Promise<ReadonlySet<string>> {
    return this.#sets.get(netuid) ?? new Set()
  }
}

/** The subnet firewall's configuration. */
export interface SubnetFirewallInit {
  /** Subnets where only admitted hotkeys may open protocols. Others are open (subject to the ACL). */
  netuids: number[]
  /** Where the admitted hotkeys come from. */
  source: SubnetMembershipSource
  /** How long a fetched set is reused (default 60 s). */
  cacheMs?: number
}

/** The IP address of a multiaddr (`/ip4/…` or `/ip6/…`), if it has one. */
export function ipOfMultiaddr (ma: Multiaddr): string | undefined {
  for (const c of ma.getComponents()) {
    if (c.name === 'ip4' || c.name === 'ip6') return c.value
  }
  return undefined
}

/**
 * A libp2p connection gater enforcing `acl` at the transport stages: IP rules on every
 * inbound connection before its security handshake (TCP, WebSockets; QUIC and WebRTC
 * finish their built-in TLS/DTLS first), PeerId rules right after it, and the block list
 * on every dial. `base` is combined with it: either refusing refuses.
 */
export function aclConnectionGater (acl: AccessControl, base: ConnectionGater = {}): ConnectionGater {
  const refuse = async (baseResult: boolean | Promise<boolean> | undefined, facts: AclFacts, inbound: boolean): Promise<boolean> => {
    if (await baseResult === true) return true
    return !acl.check(facts, inbound).allowed
  }
  return {
    ...base,
    denyDialMultiaddr: async (ma: Multiaddr) => await refuse(base.denyDialMultiaddr?.(ma), { ip: ipOfMultiaddr(ma) }, false),
    denyDialPeer: async (peerId: PeerId) => await refuse(base.denyDialPeer?.(peerId), { peerId: peerId.toString() }, false),
    denyInboundConnection: async (maConn: MultiaddrConnection) => await refuse(base.denyInboundConnection?.(maConn), { ip: ipOfMultiaddr(maConn.remoteAddr) }, true),
    denyInboundEncryptedConnection: async (peerId: PeerId, maConn: MultiaddrConnection) =>
      await refuse(base.denyInboundEncryptedConnection?.(peerId, maConn), { ip: ipOfMultiaddr(maConn.remoteAddr), peerId: peerId.toString() }, true),
    denyOutboundEncryptedConnection: async (peerId: PeerId, maConn: MultiaddrConnection) =>
      await refuse(base.denyOutboundEncryptedConnection?.(peerId, maConn), { ip: ipOfMultiaddr(maConn.remoteAddr), peerId: peerId.toString() }, false)
  }
}
