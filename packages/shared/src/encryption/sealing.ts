/**
 * End-to-end encryption of one peer's traffic: its keyring (fresh at every start), and
 * the sealers and openers the RPC channel and the file protocol use for a verified
 * remote.
 *
 * @packageDocumentation
 */
import { MAX_SEALED_MANIFEST_BYTES } from '../constants.ts'
import { PeerNotStartedError } from '../errors/index.ts'
import { decodeValue, encodeValue } from '../wire/codec.ts'
import { defaultE2eBackend } from './backends.ts'
import { E2ePurpose, envelopeFromWire, fileDataCipher, openEnvelope, replyCipher, sealEnvelope } from './envelope.ts'
import { EncryptionKeyring } from './keyring.ts'
import type { E2eBackend } from './backends.ts'
import type { E2ePurposeValue } from './envelope.ts'
import type { FileOpener, FileSealer } from '../files/types.ts'
import type { Caller, RequestOpener, RequestSealer } from '../rpc/types.ts'
import type { Session } from '../auth/session.ts'

/** The keyring and the sealers and openers built on it. */
export class E2eSealing {
  readonly #backend: E2eBackend | undefined
  readonly #ss58: string
  #keyring: EncryptionKeyring | undefined

  /** `ss58` is this peer's hotkey; `backend` the primitives' body (default: WebCrypto where it has X25519, else noble). */
  constructor (ss58: string, backend?: E2eBackend) {
    this.#ss58 = ss58
    this.#backend = backend
  }

  /** Makes a fresh keyring. */
  async start (): Promise<void> {
    this.#keyring = new EncryptionKeyring(this.#backend ?? await defaultE2eBackend())
  }

  /** Forgets every key. */
  stop (): void {
    this.#keyring?.clear()
  }

  /** The keyring; throws `PeerNotStartedError` before {@link E2eSealing.start}. */
  keys (): EncryptionKeyring {
    if (this.#keyring === undefined) throw new PeerNotStartedError()
    return this.#keyring
  }

  /** Seals a request or message to `session`'s remote; `id` is the request type or the message id. */
  requestSealer (session: Session, purpose: E2ePurposeValue, id: string): RequestSealer {
    const backend = this.keys().backend
    const context = { purpose, sender: this.#ss58, recipient: session.remote.ss58, id }
    return async (body) => {
      const { envelope, state } = await sealEnvelope(backend, session.attestation.encryptionKey, context, encodeValue(body))
      const reply = await replyCipher(backend, state.ikm, context, envelope.ek, envelope.rk)
      return { x: envelope, openReply: async (c, index, last) => decodeValue(await reply.open(index, c, last)) }
    }
  }

  /** Opens requests (or messages) from `caller`, and seals the replies. */
  requestOpener (caller: Caller, kind: 'rpc' | 'msg'): RequestOpener {
    const keyring = this.keys()
    return async (x, type, messageId) => {
      const envelope = envelopeFromWire(x)
      const context = { purpose: kind === 'msg' ? E2ePurpose.Message : E2ePurpose.Request, sender: caller.ss58, recipient: this.#ss58, id: kind === 'msg' ? messageId ?? '' : type }
      const { plaintext, ikm } = await openEnvelope(keyring.backend, keyring.lookup, context, envelope)
      const reply = await replyCipher(keyring.backend, ikm, context, envelope.ek, envelope.rk)
      return { body: decodeValue(plaintext), sealReply: async (body, index, last) => await reply.seal(index, encodeValue(body), last) }
    }
  }

  /** Seals transfer `id` to `session`'s remote. */
  fileSealer (session: Session, id: string): FileSealer {
    const backend = this.keys().backend
    const parties = { sender: this.#ss58, recipient: session.remote.ss58, id }
    return {
      sealOffer: async (manifest) => {
        const { envelope, state } = await sealEnvelope(backend, session.attestation.encryptionKey, { ...parties, purpose: E2ePurpose.FileManifest }, manifest)
        return {
          x: envelope,
          dataCipher: async (receiverEphemeral) => {
            const ephemeralIkm = await backend.sharedSecret(state.ephemeral.privateKey, receiverEphemeral)
            return await fileDataCipher(backend, state.ikm, ephemeralIkm, parties, envelope.ek, envelope.rk, receiverEphemeral)
          }
        }
      }
    }
  }

  /** Opens transfers from `caller`. */
  fileOpener (caller: Caller): FileOpener {
    const keyring = this.keys()
    const backend = keyring.backend
    return {
      openOffer: async (x, id) => {
        const envelope = envelopeFromWire(x, MAX_SEALED_MANIFEST_BYTES)
        const parties = { sender: caller.ss58, recipient: this.#ss58, id }
        const { plaintext, ikm } = await openEnvelope(backend, keyring.lookup, { ...parties, purpose: E2ePurpose.FileManifest }, envelope)
        return {
          manifest: plaintext,
          accept: async () => {
            const ours = await backend.generateKeyPair()
            const ephemeralIkm = await backend.sharedSecret(ours.privateKey, envelope.ek)
            return { ek: ours.publicKey, cipher: await fileDataCipher(backend, ikm, ephemeralIkm, parties, envelope.ek, envelope.rk, ours.publicKey) }
          }
        }
      }
    }
  }
}
