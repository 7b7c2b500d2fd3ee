import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { DecodeLimitError, FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from '@subwire/shared'
import { decodeValue, encodeFrame, encodeValue, FrameDecoder } from '@subwire/shared/protocol'

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

describe('the MessagePack dialect (what a strict decoder reads)', () => {
  const hexOf = (v: unknown): string => Buffer.from(encodeValue(v)).toString('hex')

  it('sends integers as integers: uint64 from 2^32, int64 below -2^31, the smallest form below', () => {
    assert.equal(hexOf(0), '00')
    assert.equal(hexOf(127), '7f')
    assert.equal(hexOf(128), 'cc80')
    assert.equal(hexOf(65536), 'ce00010000')
    assert.equal(hexOf(2 ** 32 - 1), 'ceffffffff')
    assert.equal(hexOf(2 ** 32), 'cf0000000100000000')
    assert.equal(hexOf(5 * 2 ** 30), 'cf0000000140000000')
    assert.equal(hexOf(Number.MAX_SAFE_INTEGER), 'cf001fffffffffffff')
    assert.equal(hexOf(-1), 'ff')
    assert.equal(hexOf(-33), 'd0df')
    assert.equal(hexOf(-(2 ** 31) - 1), 'd3ffffffff7fffffff')
    assert.equal(hexOf(1.5), 'cb3ff8000000000000')
    assert.equal(hexOf(10n), '0a')
    assert.throws(() => encodeValue(2n ** 64n), RangeError)
  })

  it('sends undefined as nil, leaves out map entries that are undefined, and uses no extension type', () => {
    assert.equal(hexOf(undefined), 'c0')
    assert.equal(hexOf([undefined]), '91c0')
    assert.equal(hexOf({ a: 1, b: undefined }), '81a16101')
    assert.equal(hexOf(new Date(0)), Buffer.from(encodeValue('1970-01-01T00:00:00.000Z')).toString('hex'))
    assert.equal(hexOf(new Uint16Array([1])), 'c4020100')
    assert.equal(hexOf(new Map([['a', 1]])), '81a16101')
    assert.equal(hexOf(new Set([1])), '9101')
  })

  it('round-trips arbitrary JSON-like values and large integers ("__proto__" keys are covered above)', () => {
    const hasProtoKey = (v: unknown): boolean => typeof v === 'object' && v !== null &&
      (Object.hasOwn(v, '__proto__') || Object.values(v).some(hasProtoKey))
    fc.assert(fc.property(fc.jsonValue().filter((v) => !hasProtoKey(v)), (v) => {
      assert.deepEqual(decodeValue(encodeValue(v)), JSON.parse(JSON.stringify(v)))
    }))
    fc.assert(fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (n) => {
      assert.equal(decodeValue(encodeValue(n)), n)
    }))
  })

  it('still reads what older peers sent: float64 integers, the undefined extension, timestamps', () => {
    assert.equal(decodeValue(Buffer.from('cb41f4000000000000', 'hex')), 5 * 2 ** 30)
    assert.deepEqual(decodeValue(Buffer.from('81a162d40000', 'hex')), { b: undefined })
    assert.ok(decodeValue(Buffer.from('d6ff00000000', 'hex')) instanceof Date)
    assert.deepEqual(decodeValue(Buffer.from('de0001a16101', 'hex')), { a: 1 })
  })
})

describe('string limits (UTF-8 bytes everywhere)', () => {
  it('an error name and message are cut to 256 and 64 KiB UTF-8 bytes before they travel, and read back', async () => {
    const { errorToWire } = await import('@subwire/shared')
    const { stringField } = await import('@subwire/shared/protocol')
    const err = new Error('é'.repeat(40_000))
    err.name = 'N'.repeat(300)
    const wire = errorToWire(err)
    assert.ok(Buffer.byteLength(wire.name) <= 256 && wire.name.endsWith('…'))
    assert.ok(Buffer.byteLength(wire.message) <= 64 * 1024 && wire.message.endsWith('…'))
    assert.equal(stringField({ m: wire.message }, 'm', 'error frame', 64 * 1024), wire.message)
    assert.throws(() => stringField({ t: 'é'.repeat(129) }, 't', 'request', 256), InvalidFrameError)
    assert.equal(stringField({ t: 'é'.repeat(128) }, 't', 'request', 256).length, 128)
  })
})

describe('decode cost bounds', () => {
  const isLimit = (e: Error): boolean => e.name === DecodeLimitError.name

  /** An array32 header declaring `n` items followed by `n` one-byte fixmaps (the probe's wide body). */
  function wideMaps (n: number): Uint8Array {
    const bytes = new Uint8Array(5 + n).fill(0x80)
    bytes[0] = 0xdd
    new DataView(bytes.buffer).setUint32(1, n)
    return bytes
  }

  it('refuses a value with more items than the limit before building any of it', () => {
    assert.throws(() => decodeValue(wideMaps(2_000_000)), isLimit)
    // at the header: the header alone, without one of its items, is refused for the limit, not as truncated
    assert.throws(() => decodeValue(wideMaps(2_000_000).subarray(0, 5)), isLimit)
    assert.throws(() => decodeValue(wideMaps(10), { maxItems: 10 }), isLimit)
    assert.equal((decodeValue(wideMaps(9), { maxItems: 10 }) as unknown[]).length, 9)
  })

  it('counts map keys and values, and items nested anywhere', () => {
    const map = encodeValue({ a: 1, b: [1, 2, { c: 'x' }] }) // map, a, 1, b, array, 1, 2, map, c, 'x'
    assert.deepEqual(decodeValue(map, { maxItems: 10 }), { a: 1, b: [1, 2, { c: 'x' }] })
    assert.throws(() => decodeValue(map, { maxItems: 9 }), isLimit)
  })

  it('refuses nesting deeper than the limit, and decodes what the encoder can send', () => {
    let deep: unknown = 1
    for (let i = 0; i < 512; i++) deep = [deep]
    assert.doesNotThrow(() => decodeValue(encodeValue(deep)))
    assert.throws(() => decodeValue(encodeValue([deep])), isLimit)
    assert.throws(() => decodeValue(new Uint8Array(100_000).fill(0x91)), isLimit) // 100k nested one-item arrays
  })

  it('skips string, binary and extension bodies by their declared length', () => {
    const bin = encodeValue({ blob: new Uint8Array(1_000_000).fill(0x80), s: 'é'.repeat(1000) })
    assert.doesNotThrow(() => decodeValue(bin, { maxItems: 5 }))
  })

  it('a frame over the limits fails with DecodeLimitError from the frame decoder too', () => {
    const d = new FrameDecoder(16 * 1024 * 1024)
    const body = wideMaps(1_100_000)
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, body.byteLength)
    d.push(header)
    d.push(body)
    assert.throws(() => d.next(), isLimit)
  })

  it('agrees with the decoder on random values (fast-check)', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const bytes = encodeValue(v)
      assert.deepEqual(decodeValue(bytes), decodeValue(bytes, { maxItems: 1e9, maxDepth: 1e9 }))
    }), { numRuns: 300 })
  })
})
