// The peers' own errors (they never cross the wire, so they live with their peer): one class
// per condition, checked by `.name`, with a default message and a code.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WebTransportProtocolError, WebTransportUnavailableError } from '../src/index.ts'
import { ListenerRunningError } from '../src/control.ts'

describe('errors of the WebTransport listener', () => {
  for (const E of [WebTransportProtocolError, WebTransportUnavailableError]) {
    it(`${E.name} has its name, a code and a default message`, () => {
      const e = new E()
      assert.equal(e.name, E.name)
      assert.match((e as unknown as { code: string }).code, /^ERR_/)
      assert.ok(e.message.length > 0 && e.message !== E.name)
    })
  }
})

describe('errors of the control socket', () => {
  it('ListenerRunningError has its name, a code and a default message', () => {
    const e = new ListenerRunningError()
    assert.equal(e.name, ListenerRunningError.name)
    assert.equal((e as unknown as { code: string }).code, 'ERR_LISTENER_RUNNING')
    assert.match(e.message, /another subwire listener is running in this home/)
  })
})
