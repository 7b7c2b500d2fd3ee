import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from '@subwire/shared'
import { decodeValue, encodeFrame, FrameDecoder } from '@subwire/shared/protocol'

function decodeAll (decoder: FrameDecoder): unknown[] {
  const out: unknown[] = []
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f.value)
  return out
}

describe('frame codec', () => {
  it('round-trips values through frames split at every byte boundary', () => {
    const values = [{ k: 0, id: 1, t: 'echo', b: { x: 1 } }, 'text', 42, [1, 2, 3], new Uint8Array([0, 255, 7]), null]
    const bytes = Buffer.concat(values.map((v) => encodeFrame(v, 1024)))
    for (let split = 1; split < bytes.length; split += 3) {
      const d = new FrameDecoder(1024)
      d.push(bytes.subarray(0, split))
      const first = decodeAll(d)
      d.push(bytes.subarray(split))
      const got = [...first, ...decodeAll(d)].map((v) => v instanceof Uint8Array ? new Uint8Array(v) : v)
      assert.deepEqual(got, values)
      d.end()
    }
  })

  it('writes a u32 big-endian length header', () => {
    const frame = encodeFrame('a', 1024)
    assert.deepEqual([...frame.subarray(0, 4)], [0, 0, 0, frame.byteLength - 4])
  })

  it('rejects an oversized length at the header, before any body byte arrives', () => {
    const d = new FrameDecoder(1000)
    d.push(new Uint8Array([0, 0, 0x03, 0xe9])) // 1001
    assert.throws(() => d.next(), (e: Error) => e.name === FrameTooLargeError.name)
  })

  it('refuses to encode a frame above the maximum', () => {
    assert.throws(() => encodeFrame('x'.repeat(100), 50), (e: Error) => e.name === FrameTooLargeError.name)
  })

  it('rejects a malformed MessagePack body with a typed error', () => {
    const d = new FrameDecoder(1000)
    d.push(new Uint8Array([0, 0, 0, 2, 0xc1, 0xc1])) // 0xc1 is never used in MessagePack
    assert.throws(() => d.next(), (e: Error) => e.name === InvalidFrameError.name)
  })

  it('rejects an empty frame body', () => {
    const d = new FrameDecoder(1000)
    d.push(new Uint8Array([0, 0, 0, 0]))
    assert.throws(() => d.next(), (e: Error) => e.name === InvalidFrameError.name)
  })

  it('reports a stream that ends in the middle of a frame', () => {
    const d = new FrameDecoder(1000)
    d.push(encodeFrame({ a: 'hello' }, 1000).subarray(0, 6))
    assert.equal(d.next(), undefined)
    assert.throws(() => { d.end() }, (e: Error) => e.name === TruncatedFrameError.name)
  })

  it('never lets a "__proto__" key reach an object prototype (msgpackr renames it)', () => {
    const d = new FrameDecoder(1 << 20)
    d.push(encodeFrame(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as unknown, 1 << 20))
    const got = d.next()?.value as Record<string, unknown>
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
    assert.equal(Object.getPrototypeOf(got), Object.prototype)
    assert.equal(got.a, 1)
    assert.deepEqual(got.__proto_, { polluted: true }, 'the key arrives renamed, as msgpackr guards it')
  })

  it('decodes any JSON-like value it encoded (property; "__proto__" keys are covered above)', () => {
    const hasProtoKey = (v: unknown): boolean => typeof v === 'object' && v !== null &&
      (Object.hasOwn(v, '__proto__') || Object.values(v).some(hasProtoKey))
    fc.assert(fc.property(fc.jsonValue().filter((v) => !hasProtoKey(v)), (v) => {
      const d = new FrameDecoder(1 << 20)
      d.push(encodeFrame(v, 1 << 20))
      const got = d.next()
      assert.ok(got !== undefined)
      assert.deepEqual(JSON.parse(JSON.stringify(got.value)), JSON.parse(JSON.stringify(v)))
    }), { numRuns: 300 })
  })

  it('never throws anything but a typed error on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const d = new FrameDecoder(64)
      d.push(bytes)
      try {
        decodeAll(d)
        d.end()
      } catch (e) {
        assert.ok([FrameTooLargeError.name, InvalidFrameError.name, TruncatedFrameError.name].includes((e as Error).name), (e as Error).name)
      }
    }), { numRuns: 2000 })
  })

  it('decodeValue wraps MessagePack errors', () => {
    assert.throws(() => decodeValue(new Uint8Array([0xc1])), (e: Error) => e.name === InvalidFrameError.name)
  })
})
