import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { destinationIs, parseDestination } from '../src/auth/destination.ts'
import { engineOptions, positiveNumber, validateNetuids } from '../src/config.ts'
import { BULK_MIN_BYTES, DEFAULT_MAX_FRAME_BYTES } from '../src/constants.ts'
import { AccessDeniedError, errorFromWire, errorToWire, InvalidConfigError, isRemoteError, TransferCancelledError, walkCause } from '../src/errors/index.ts'
import { Emitter } from '../src/events.ts'
import { BudgetScopes } from '../src/wire/budget.ts'

const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY'
const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

describe('remote and local errors', () => {
  it('marks an error rebuilt from the wire as remote, and a local one not', () => {
    const local = new InvalidConfigError('here')
    const remote = errorFromWire(errorToWire(local))
    assert.equal(remote.name, local.name)
    assert.equal(isRemoteError(local), false)
    assert.equal(isRemoteError(remote), true)
    assert.equal(isRemoteError(errorFromWire({ name: 'TypeError', message: 'x' })), true)
    assert.deepEqual(Object.keys(errorToWire(remote)).sort(), ['message', 'name'], 'the mark never reaches the wire')
  })

  it('walks the cause chain to the first error that matches', () => {
    const inner = new AccessDeniedError('blocked')
    const outer = new TransferCancelledError('cancelled', { cause: new Error('wrapped', { cause: inner }) })
    assert.equal(walkCause(outer, (e) => e.name === AccessDeniedError.name), inner)
    assert.equal(walkCause(outer, (e) => e.name === 'NoSuchError'), undefined)
    assert.equal(walkCause('not an error', () => true), undefined)
  })
})

describe('one number validator', () => {
  it('keeps a positive number, defaults undefined and names the option it refuses', () => {
    assert.equal(positiveNumber(5, 1, 'x'), 5)
    assert.equal(positiveNumber(undefined, 7, 'x'), 7)
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => positiveNumber(bad, 1, 'limits.x'), (e: Error) => e.name === InvalidConfigError.name && e.message === 'limits.x must be a positive number')
    }
  })
})

describe('the engine options', () => {
  it('applies the defaults once and names the option it refuses', () => {
    const o = engineOptions({ netuids: [42, 42, 7] })
    assert.deepEqual(o.netuids, [42, 7])
    assert.equal(o.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES)
    assert.equal(o.connectionBudgetBytes, 3 * DEFAULT_MAX_FRAME_BYTES)
    assert.equal(o.peerBudgetBytes, 6 * DEFAULT_MAX_FRAME_BYTES)
    assert.equal(o.bulkMinBytes, BULK_MIN_BYTES)
    assert.deepEqual(o.encryption, { messages: true, files: true, requests: false, require: false })
    assert.equal(engineOptions({ netuids: [1], bulk: { transport: 'tcp', minBytes: 1024 } }).bulkMinBytes, 1024)
    assert.throws(() => engineOptions({ netuids: [1], bulk: { minBytes: 0 } }), (e: Error) => e.name === InvalidConfigError.name && e.message === 'bulk.minBytes must be a positive number')
    for (const bad of [-1, 1.5, 65536]) {
      assert.throws(() => validateNetuids([bad]), (e: Error) => e.name === InvalidConfigError.name && e.message.startsWith(`netuid ${bad} is not an integer`))
    }
  })
})

describe('one destination parser', () => {
  it('parses a multiaddr ending in /p2p/<PeerId> and an SS58 address', () => {
    const ma = parseDestination(`/ip4/127.0.0.1/udp/4701/quic-v1/p2p/${PEER}`)
    assert.equal(ma.kind, 'multiaddr')
    assert.equal(ma.kind === 'multiaddr' ? ma.peerId : undefined, PEER)
    assert.deepEqual(parseDestination(ALICE), { kind: 'ss58', ss58: ALICE })
  })

  it('refuses anything else with InvalidDestinationError', () => {
    for (const bad of ['not-a-destination', '/ip4/127.0.0.1/udp/1/quic-v1', '/nonsense/1']) {
      assert.throws(() => parseDestination(bad), (e: Error) => e.name === 'InvalidDestinationError')
      // a bad one is refused every time, not remembered
      assert.throws(() => parseDestination(bad), (e: Error) => e.name === 'InvalidDestinationError')
    }
  })

  it('parses a destination once: the same string gives the same frozen result', () => {
    const dest = `/ip4/10.0.0.9/tcp/4701/p2p/${PEER}`
    const a = parseDestination(dest)
    assert.equal(parseDestination(dest), a)
    assert.ok(Object.isFrozen(a))
    // bounded: a flood of distinct destinations does not grow it without limit
    for (let i = 0; i < 1100; i++) parseDestination(`/ip4/10.0.${i >> 8}.${i & 255}/tcp/1/p2p/${PEER}`)
    assert.notEqual(parseDestination(dest), a, 'the oldest entries were let go')
    assert.deepEqual(parseDestination(dest), a)
  })

  it('matches a destination to an authenticated peer by SS58 or PeerId', () => {
    assert.equal(destinationIs(ALICE, { ss58: ALICE, peerId: PEER }), true)
    assert.equal(destinationIs(`/ip4/1.2.3.4/tcp/1/p2p/${PEER}`, { ss58: 'x', peerId: PEER }), true)
    assert.equal(destinationIs(ALICE, { ss58: 'y', peerId: PEER }), false)
  })
})

describe('the event emitter', () => {
  interface Events { tick: number, done: string }

  it('passes the detail, removes a listener by its returned function and ignores a second add', () => {
    const errors: unknown[] = []
    const events = new Emitter<Events>((_e, err) => { errors.push(err) })
    const seen: number[] = []
    const listener = (n: number): void => { seen.push(n) }
    const off = events.on('tick', listener)
    events.on('tick', listener)
    events.emit('tick', 1)
    off()
    events.emit('tick', 2)
    assert.deepEqual(seen, [1])
    assert.equal(events.listens('tick'), false)
  })

  it('hands a failing listener to onError on emit, and keeps calling the others', async () => {
    const errors: string[] = []
    const events = new Emitter<Events>((event, err) => { errors.push(`${event}: ${(err as Error).message}`) })
    const seen: string[] = []
    events.on('done', () => { throw new Error('sync') })
    events.on('done', async () => { throw new Error('async') })
    events.on('done', (d) => { seen.push(d) })
    events.emit('done', 'x')
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(seen, ['x'])
    assert.deepEqual(errors.sort(), ['done: async', 'done: sync'])
  })

  it('waits for async listeners on emitAndSettle and rejects with a failure', async () => {
    const events = new Emitter<Events>(() => {})
    let finished = false
    events.on('tick', async () => { await new Promise((resolve) => setTimeout(resolve, 5)); finished = true })
    await events.emitAndSettle('tick', 1)
    assert.equal(finished, true)
    events.on('tick', () => { throw new Error('refused') })
    await assert.rejects(events.emitAndSettle('tick', 2), /refused/)
  })
})

describe('byte budgets per connection inside one per peer', () => {
  it('bounds a peer\'s connections together, wakes a waiter on release, and forgets a peer with its last connection', () => {
    const scopes = new BudgetScopes(10, 15)
    const a = scopes.of('c1', 'p')
    const b = scopes.of('c2', 'p')
    assert.equal(scopes.of('c1', 'p'), a, 'one budget per connection')
    a.charge(8)
    assert.equal(a.over, false)
    b.charge(8)
    assert.equal(b.over, true, 'the peer\'s 15 bytes are spent by the two together')
    assert.equal(a.over, true)
    let woken = 0
    b.onRelease(() => { woken++ })
    a.charge(-8)
    assert.equal(woken, 1)
    assert.equal(b.over, false)
    assert.equal(scopes.used, 8)
    const other = scopes.of('c3', 'q')
    other.charge(11)
    assert.equal(other.over, true, 'a connection\'s own limit')
    assert.equal(b.over, false, 'another peer\'s spending does not pause this one')
    scopes.forget('c1')
    scopes.forget('c2')
    assert.equal(scopes.used, 11, 'p is forgotten with its last connection')
    assert.notEqual(scopes.of('c2', 'p'), b, 'a forgotten connection gets a fresh budget')
  })
})
