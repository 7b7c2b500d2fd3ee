/**
 * File sources of queued files: a re-opened reference checked chunk by chunk against the
 * manifest it was queued with, and a copy read back from the store.
 *
 * @packageDocumentation
 */
import { BLAKE3_BYTES } from '../constants.ts'
import { QueueCorruptError, SourceChangedError, toError } from '../errors/index.ts'
import { bytesToHex } from '../bytes.ts'
import { blake3 } from '../files/hash.ts'
import { chunkLength } from '../files/manifest.ts'
import { aad } from './payload.ts'
import type { FileManifest, FileSource } from '../files/types.ts'
import type { OutboxCipher } from './cipher.ts'
import type { QueueStore } from './store.ts'


/**
 * Wraps a source so that every chunk read is checked against the manifest it was queued
 * with: bytes that changed since (even with the same size and mtime) fail with
 * `SourceChangedError` instead of going out.
 */
export function verifyingSource (source: FileSource, manifest: FileManifest): FileSource {
  return {
    name: source.name,
    size: source.size,
    read: async (offset, length, options) => {
      const bytes = await source.read(offset, length, options)
      if (offset % manifest.chunkSize === 0 && length === chunkLength(offset / manifest.chunkSize, manifest.size, manifest.chunkSize)) {
        const i = offset / manifest.chunkSize
        const expected = bytesToHex(manifest.chunkHashes.subarray(i * BLAKE3_BYTES, (i + 1) * BLAKE3_BYTES))
        if (bytesToHex(await blake3(bytes)) !== expected) {
          throw new SourceChangedError(`${source.name}: chunk ${i} differs from when the file was queued`)
        }
      }
      return bytes
    },
    ...(source.check === undefined ? {} : { check: source.check.bind(source) }),
    ...(source.close === undefined ? {} : { close: source.close.bind(source) })
  }
}

/** A file copied into the store, read back chunk by chunk (each opened and authenticated). */
export function storedSource (store: QueueStore, cipher: OutboxCipher, id: string, name: string, manifest: FileManifest): FileSource {
  const cs = manifest.chunkSize
  return {
    name,
    size: manifest.size,
    read: async (offset, length, options) => {
      const out = new Uint8Array(length)
      let done = 0
      while (done < length) {
        const i = Math.floor((offset + done) / cs)
        const sealed = await store.getChunk(id, i, options)
        if (sealed === undefined) throw new QueueCorruptError(`Outbox item ${id} lacks stored chunk ${i}`)
        let chunk: Uint8Array
        try {
          chunk = await cipher.open(sealed, aad(id, `chunk:${i}`))
        } catch (err) {
          throw new QueueCorruptError(`Stored chunk ${i} of ${id} is corrupt: ${toError(err).message}`, { cause: err })
        }
        const start = offset + done - i * cs
        const take = Math.min(length - done, chunk.byteLength - start)
        if (take <= 0) throw new QueueCorruptError(`Stored chunk ${i} of ${id} is short`)
        out.set(chunk.subarray(start, start + take), done)
        done += take
      }
      return out
    }
  }
}
