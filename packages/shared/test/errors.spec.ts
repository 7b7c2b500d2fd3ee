import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { errorClasses, errorFromWire, errorToWire, RemoteHandlerError, SubnetNotServedError, SubwireError } from '@subwire/shared'

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
