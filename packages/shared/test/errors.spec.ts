import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  ConnectionLostError, errorClasses, errorFromWire, errorToWire, isAbortError, isConnectionLost, isRemoteError, OperationAbortedError,
  PeerNotStartedError, RemoteHandlerError, SubnetNotServedError, SubwireError, UnexpectedHotkeyError
} from '@subwire/shared'
import { WIRE_NAMES } from '@subwire/shared/protocol'

describe('errors', () => {
  for (const [key, Cls] of Object.entries(errorClasses)) {
    it(`${key} has its class name as instance name and a stable code`, () => {
      const e = new (Cls as new () => SubwireError)()
      assert.equal(e.name, Cls.name)
      assert.equal(e.name, key)
      assert.match(e.code, /^(ERR_[A-Z0-9_]+|ABORT_ERR)$/)
      assert.ok(e.message.length > 0)
    })

    it(`${key} survives the wire as the same class`, () => {
      const back = errorFromWire(errorToWire(new (Cls as new (m?: string) => Error)('detail')))
      assert.equal(back.name, key)
      assert.equal(back.message, 'detail')
    })
  }

  it('keeps the netuid of SubnetNotServedError across the wire', () => {
    const back = errorFromWire(errorToWire(new SubnetNotServedError(undefined, { netuid: 7 }))) as SubnetNotServedError
    assert.equal(back.netuid, 7)
  })

  it('turns an unknown remote error into RemoteHandlerError with the remote name', () => {
    const back = errorFromWire({ name: 'TypeError', message: 'x is not a function' }) as RemoteHandlerError
    assert.equal(back.name, RemoteHandlerError.name)
    assert.equal(back.remoteName, 'TypeError')
    assert.equal(back.message, 'x is not a function')
  })

  it('never sends a stack trace', () => {
    const wire = errorToWire(new Error('boom'))
    assert.deepEqual(Object.keys(wire).sort(), ['message', 'name'])
  })
})

describe('error names and the wire (issue 16)', () => {
  it('no subwire error has the name of an error @libp2p/interface exports', async () => {
    const libp2p = Object.values(await import('@libp2p/interface') as Record<string, unknown>)
      .filter((v): v is new () => Error => typeof v === 'function' && v.prototype instanceof Error)
      .map((E) => E.name)
    assert.ok(libp2p.includes('ConnectionClosedError') && libp2p.includes('AbortError'), 'the libp2p list is read')
    assert.deepEqual(Object.keys(errorClasses).filter((name) => libp2p.includes(name)), [])
  })

  const renamed = [
    [OperationAbortedError, 'AbortError'],
    [ConnectionLostError, 'ConnectionClosedError'],
    [PeerNotStartedError, 'NotStartedError'],
    [UnexpectedHotkeyError, 'UnexpectedPeerError']
  ] as const
  for (const [Cls, old] of renamed) {
    it(`${Cls.name} goes on the wire as ${old}, as before the rename, and is read from either name`, () => {
      assert.deepEqual(errorToWire(new Cls('detail')), { name: old, message: 'detail' })
      assert.equal(WIRE_NAMES[Cls.name], old)
      for (const name of [old, Cls.name]) {
        const back = errorFromWire({ name, message: 'from a peer' })
        assert.equal(back.name, Cls.name)
        assert.equal(back.message, 'from a peer')
        assert.equal(isRemoteError(back), true)
      }
    })
  }

  it('isAbortError accepts subwire\'s abort, a DOMException and libp2p\'s AbortError, nothing else', async () => {
    const { AbortError: Libp2pAbortError, ConnectionClosedError: Libp2pClosed } = await import('@libp2p/interface')
    const controller = new AbortController()
    controller.abort()
    assert.equal(isAbortError(new OperationAbortedError()), true)
    assert.equal(isAbortError(controller.signal.reason), true)
    assert.equal(isAbortError(new Libp2pAbortError()), true)
    assert.equal(isAbortError(new Libp2pClosed()), false)
    assert.equal(isAbortError(undefined), false)
    assert.equal(isConnectionLost(new ConnectionLostError()), true)
    assert.equal(isConnectionLost(new Libp2pClosed()), true)
    assert.equal(isConnectionLost(new OperationAbortedError()), false)
  })
})
