import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { AccessControl, InvalidConfigError, parseAclEntry, parseIp, StaticSubnetMembership } from '@subwire/shared'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'
const PEER = '12D3KooWSfFdutFmSNkzth92hFDUVCe5cXyXRm4KoDYdbscz3831'

describe('ACL entries', () => {
  it('tells SS58s, PeerIds, IPs and CIDRs apart', () => {
    assert.equal(parseAclEntry(ALICE).kind, 'ss58')
    assert.equal(parseAclEntry(PEER).kind, 'peerId')
    for (const ip of ['10.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32', '::ffff:192.0.2.1']) assert.equal(parseAclEntry(ip).kind, 'ip', ip)
  })

  it('rejects anything else with InvalidConfigError', () => {
    for (const bad of ['', 'alice', '10.0.0.0/33', '256.1.1.1', '1.2.3', '::1/129', '12D3KooWnot-base58!', '2001:db8:::1', ALICE.slice(0, -1)]) {
      assert.throws(() => parseAclEntry(bad), (err: Error) => err.name === InvalidConfigError.name, bad)
    }
  })

  it('matches CIDR ranges on IPv4, IPv6 and IPv4-mapped IPv6', () => {
    const v4 = parseAclEntry('192.168.0.0/16')
    assert.equal(v4.matches('192.168.44.1'), true)
    assert.equal(v4.matches('192.169.0.1'), false)
    assert.equal(v4.matches('::ffff:192.168.1.1'), true)
    const v6 = parseAclEntry('2001:db8::/33')
    assert.equal(v6.matches('2001:db8:7fff::1'), true)
    assert.equal(v6.matches('2001:db8:8000::1'), false)
    assert.equal(v6.matches('192.168.0.1'), false)
    assert.equal(parseAclEntry('0.0.0.0/0').matches('8.8.8.8'), true)
  })

  it('parses every IPv4 address and its /32 matches exactly it (property)', () => {
    fc.assert(fc.property(fc.ipV4(), fc.ipV4(), (a, b) => {
      assert.equal(parseIp(a)?.byteLength, 4)
      assert.equal(parseAclEntry(`${a}/32`).matches(b), a === b || parseIp(a)?.join() === parseIp(b)?.join())
    }))
  })

  it('parses every IPv6 address the generator makes (property)', () => {
    fc.assert(fc.property(fc.ipV6(), (a) => {
      const ip = parseIp(a)
      assert.ok(ip !== undefined && (ip.byteLength === 16 || ip.byteLength === 4), a)
      assert.equal(parseAclEntry(a).matches(a), true)
    }))
  })
})

describe('AccessControl', () => {
  it('allows everyone with empty lists', () => {
    assert.equal(new AccessControl().check({ ip: '1.2.3.4', peerId: PEER, ss58: ALICE }).allowed, true)
  })

  it('lets the block list win over the allow list', () => {
    const acl = new AccessControl({ allow: [ALICE, '127.0.0.1'], block: ['127.0.0.0/8'] })
    const d = acl.check({ ip: '127.0.0.1', ss58: ALICE })
    assert.equal(d.allowed, false)
    assert.match(d.reason, /IP 127\.0\.0\.1 is blocked/)
  })

  it('decides an allow list as early as the facts allow', () => {
    const ipOnly = new AccessControl({ allow: ['10.0.0.0/8'], block: [] })
    assert.equal(ipOnly.check({ ip: '192.168.1.1' }).allowed, false, 'IP-only allow list refuses other IPs at once')
    const byHotkey = new AccessControl({ allow: [ALICE], block: [] })
    assert.equal(byHotkey.check({ ip: '192.168.1.1' }).allowed, true, 'undecided until the hotkey is known')
    assert.equal(byHotkey.check({ ip: '192.168.1.1', peerId: PEER }).allowed, true)
    assert.equal(byHotkey.check({ ip: '192.168.1.1', peerId: PEER, ss58: BOB }).allowed, false)
    assert.equal(byHotkey.check({ ip: '192.168.1.1', peerId: PEER, ss58: ALICE }).allowed, true)
  })

  it('applies only the block list to connections we dialled', () => {
    const acl = new AccessControl({ allow: [ALICE], block: [PEER] })
    assert.equal(acl.check({ ss58: BOB }, false).allowed, true)
    assert.equal(acl.check({ peerId: PEER }, false).allowed, false)
  })

  it('keeps the old rules when an update is invalid', () => {
    const acl = new AccessControl({ allow: [], block: [ALICE] })
    assert.throws(() => { acl.update({ allow: [], block: [ALICE, 'nonsense'] }) }, (err: Error) => err.name === InvalidConfigError.name)
    assert.deepEqual(acl.rules.block, [ALICE])
  })

  it('never allows a peer matching any block entry, whatever else is listed (property)', () => {
    const entries = fc.constantFrom(ALICE, BOB, PEER, '127.0.0.1', '10.0.0.0/8', '::1')
    const facts = fc.record({
      ip: fc.option(fc.constantFrom('127.0.0.1', '10.1.2.3', '::1', '8.8.8.8'), { nil: undefined }),
      peerId: fc.option(fc.constant(PEER), { nil: undefined }),
      ss58: fc.option(fc.constantFrom(ALICE, BOB), { nil: undefined })
    })
    fc.assert(fc.property(fc.array(entries), fc.array(entries), facts, fc.boolean(), (allow, block, f, inbound) => {
      const acl = new AccessControl({ allow, block })
      const blocked = block.some((e) => {
        const p = parseAclEntry(e)
        const v = p.kind === 'ip' ? f.ip : p.kind === 'peerId' ? f.peerId : f.ss58
        return v !== undefined && p.matches(v)
      })
      const d = acl.check(f, inbound)
      if (blocked) assert.equal(d.allowed, false)
      if (!blocked && (allow.length === 0 || !inbound)) assert.equal(d.allowed, true)
    }))
  })
})

describe('StaticSubnetMembership', () => {
  it('returns the listed hotkeys and an empty set for other subnets', async () => {
    const m = new StaticSubnetMembership({ 42: [ALICE] })
    assert.deepEqual([...await m.allowed(42)], [ALICE])
    assert.equal((await m.allowed(1)).size, 0)
  })

  it('rejects a non-SS58 entry', () => {
    assert.throws(() => new StaticSubnetMembership({ 42: ['x'] }), (err: Error) => err.name === InvalidConfigError.name)
  })
})
