/**
 * This peer's side of the handshake: its signed attestation (one signature per lifetime:
 * a wallet prompts once), renewed with a fresh encryption key before it runs out, and the
 * hello that carries it.
 *
 * @packageDocumentation
 */
import { ATTESTATION_RENEW_FRACTION } from '../constants.ts'
import { createAttestation } from '../identity/attestation.ts'
import { stripPeerId } from './destination.ts'
import type { AbortOptions } from '../abort.ts'
import type { E2eSealing } from '../encryption/sealing.ts'
import type { SignedAttestation } from '../identity/attestation.ts'
import type { Signer } from '../identity/signers.ts'
import type { Hello } from './handshake.ts'
import type { Libp2p, Logger } from '@libp2p/interface'

/** What the {@link Attester} is given. */
export interface AttesterComponents {
  /** The libp2p node. */
  libp2p: Libp2p
  /** Signs our attestation. */
  signer: Signer
  /** Rotates the encryption key published with each attestation. */
  sealing: E2eSealing
  /** The `subwire:auth` logger. */
  log: Logger
}

/** Configuration of the {@link Attester}. */
export interface AttesterInit {
  /** Subnets this peer serves. */
  netuids: number[]
  /** Lifetime of our attestation. */
  lifetimeMs: number
  /** Tolerated clock difference (an old encryption key is kept this much past its attestation). */
  skewMs: number
  /** Requests a remote may keep in flight here, announced in the hello. */
  maxConcurrent: number
}

/** Signs and renews this peer's attestation and builds its hello. */
export class Attester {
  readonly #libp2p: Libp2p
  readonly #signer: Signer
  readonly #sealing: E2eSealing
  readonly #log: Logger
  readonly #init: AttesterInit
  #attestation: SignedAttestation | undefined
  #attesting: Promise<SignedAttestation> | undefined

  constructor (components: AttesterComponents, init: AttesterInit) {
    this.#libp2p = components.libp2p
    this.#signer = components.signer
    this.#sealing = components.sealing
    this.#log = components.log
    this.#init = init
  }

  /** The current signed attestation, if one was made since the last {@link Attester.forget}. */
  get attestation (): SignedAttestation | undefined {
    return this.#attestation
  }

  /** Drops the attestation (the next hello signs a new one). */
  forget (): void {
    this.#attestation = undefined
  }

  /** The hello: the attestation (signed again when it nears its end), our addresses and our request limit. */
  async hello (options: AbortOptions = {}): Promise<Hello> {
    const now = Date.now()
    const a = this.#attestation?.attestation
    if (a === undefined || a.expiresAt - now < (a.expiresAt - a.issuedAt) * ATTESTATION_RENEW_FRACTION) {
      this.#attesting ??= (async () => {
        // a fresh encryption key with every attestation; the old one opens what was sealed to it until its attestation expires
        const key = await this.#sealing.keys().rotate((a?.expiresAt ?? now) + this.#init.skewMs)
        return await createAttestation(this.#signer, {
          peerId: this.#libp2p.peerId.toString(),
          netuids: this.#init.netuids,
          lifetimeMs: this.#init.lifetimeMs,
          encryptionKey: key.publicKey
        }, options)
      })().finally(() => { this.#attesting = undefined })
      const fresh = await this.#attesting
      this.#attestation = fresh
      this.#log('signed attestation for %s as %s, valid until %s', this.#libp2p.peerId.toString(), this.#signer.ss58, new Date(fresh.attestation.expiresAt).toISOString())
    }
    const addrs = this.#libp2p.getMultiaddrs().map((ma) => stripPeerId(ma).toString())
    return { attestation: this.#attestation as SignedAttestation, addrs, maxConcurrent: this.#init.maxConcurrent }
  }
}
