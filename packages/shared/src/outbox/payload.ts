/**
 * Outbox payloads as they are sealed at rest: a message (action, payload, options) or a
 * file (name, reference or copy, manifest), each bound to its item id and part.
 *
 * @packageDocumentation
 */
import { decodeValue } from '../wire/codec.ts'
import { asRecord } from '../wire/fields.ts'
import { QueueCorruptError, toError } from '../errors/index.ts'
import { manifestFromWire } from '../files/manifest.ts'
import type { FileManifest } from '../files/types.ts'
import type { OutboxCipher } from './cipher.ts'
import type { OutboxRecord } from './store.ts'

const encoder = new TextEncoder()

/** The additional data a sealed part of item `id` is bound to. */
export const aad = (id: string, part: string): Uint8Array => encoder.encode(`subwire-outbox-v1\u0000${id}\u0000${part}`)

/** A queued control message. */
export interface MessagePayload { kind: 'message', action: string, payload: unknown, encrypt: boolean | undefined, timeout: number | undefined }
/** A queued file. */
export interface FilePayload { kind: 'file', name: string, ref: Uint8Array | undefined, manifest: FileManifest, encrypt: boolean | undefined }

/** Opens and parses the sealed payload of an outbox record. */
export async function readPayload (cipher: OutboxCipher, record: OutboxRecord): Promise<MessagePayload | FilePayload> {
  let rec: Record<string, unknown>
  try {
    rec = asRecord(decodeValue(await cipher.open(record.sealed, aad(record.id, 'payload'))), 'outbox payload')
  } catch (err) {
    throw new QueueCorruptError(`Outbox item ${record.id} cannot be read: ${toError(err).message}`, { cause: err })
  }
  const encrypt = typeof rec.e === 'boolean' ? rec.e : undefined
  if (rec.k === 'message' && typeof rec.a === 'string') {
    return { kind: 'message', action: rec.a, payload: rec.p, encrypt, timeout: typeof rec.t === 'number' ? rec.t : undefined }
  }
  if (rec.k === 'file' && typeof rec.n === 'string') {
    let manifest: FileManifest
    try {
      manifest = await manifestFromWire(rec.m)
    } catch (err) {
      throw new QueueCorruptError(`Outbox item ${record.id} has a bad manifest: ${toError(err).message}`, { cause: err })
    }
    return { kind: 'file', name: rec.n, ref: rec.r instanceof Uint8Array ? rec.r : undefined, manifest, encrypt }
  }
  throw new QueueCorruptError(`Outbox item ${record.id} has an unknown payload`)
}
