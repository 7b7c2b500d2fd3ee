import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { disable, enable } from '@libp2p/logger'
import { quietLogger } from '../src/quiet-logger.ts'

describe('quietLogger', () => {
  after(() => { disable() })

  it('gives a disabled namespace a no-op logger and an enabled one a real debug logger', () => {
    enable('subwire-quiet-on,subwire-quiet-off:scoped')
    const loggers = quietLogger()
    const off = loggers.forComponent('subwire-quiet-off')
    assert.equal(off.enabled, false)
    off('nothing %s', 'happens')
    off.error('nor here')
    assert.equal(loggers.forComponent('subwire-quiet-on').enabled, true)
    // a scope can be enabled below a disabled component
    assert.equal(off.newScope('scoped').enabled, true)
    assert.equal(off.newScope('other').enabled, false)
  })
})
