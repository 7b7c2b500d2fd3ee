/**
 * WebTransport server certificates: self-signed ECDSA P-256, each valid for less than
 * 14 days (what browsers accept with `serverCertificateHashes`), rotated ahead of time.
 *
 * Schedule: a certificate lives {@link CERT_VALIDITY_MS} (12 days); a new one starts every
 * {@link CERT_ROTATE_MS} (6 days). The listener serves the newest certificate already
 * valid and announces its hash together with the next one's, so an address handed out
 * before a rotation still dials after it: the Noise handshake reports the previous hash
 * too (a dialer checks that every hash in its address is among the reported ones). The
 * set is kept in the peer's home so the certhashes, hence the multiaddrs, survive
 * restarts.
 *
 * @packageDocumentation
 */
import { chmod, readFile, rename, writeFile } from 'node:fs/promises'
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API first
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { base64url } from 'multiformats/bases/base64'
import { sha256 } from 'multiformats/hashes/sha2'
import { InvalidConfigError } from '@subwire/shared'
import { CERT_CLOCK_SKEW_MS, CERT_ROTATE_MS, CERT_VALIDITY_MS } from '../constants.ts'

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

/** One server certificate with its key, both PEM. */
export interface WebTransportCert {
  /** Certificate, PEM. */
  cert: string
  /** PKCS#8 private key, PEM. */
  key: string
  /** Validity start, ms since the epoch. */
  notBefore: number
  /** Validity end, ms since the epoch. */
  notAfter: number
  /** Multihash (sha2-256) of the DER certificate: what `/certhash/` carries. */
  hash: Uint8Array
}

/** The certificates a listener uses now: the one it serves and the one it announces next. */
export interface CertificateSet {
  /** Served before `current`, still valid: addresses naming it may still circulate. */
  previous?: WebTransportCert | undefined
  /** Served now. */
  current: WebTransportCert
  /** Starts at {@link CertificateSet.rotateAt}; announced already. */
  next: WebTransportCert
  /** When `next` takes over (ms since the epoch). */
  rotateAt: number
}

/** Where certificates are kept between restarts. */
export interface CertificateStore {
  /** The stored certificates (any order), or none. */
  load: () => Promise<WebTransportCert[]>
  /** Replaces the stored certificates. */
  save: (certs: WebTransportCert[]) => Promise<void>
}

/** Options of {@link certificateSet}. */
export interface CertificateSetOptions {
  /** Clock (default `Date.now`). */
  now?: () => number
  /** Validity of one certificate (default 12 days; browsers refuse over 14). */
  validityMs?: number
  /** Interval between certificate starts (default 6 days; at most half the validity). */
  rotateMs?: number
}

/** `/certhash/` value of a multihash: multibase base64url (`u…`). */
export function certhashString (hash: Uint8Array): string {
  return base64url.encode(hash)
}

/** Generates one certificate valid from `notBefore` for `validityMs`. */
export async function generateCertificate (notBefore: number, validityMs: number): Promise<WebTransportCert> {
  const keys = await globalThis.crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])
  const serial = new Uint8Array(16)
  globalThis.crypto.getRandomValues(serial)
  serial[0] = (serial[0] as number) & 0x7f // a positive serial
  const notAfter = notBefore + validityMs
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, '0')).join(''),
    name: 'CN=subwire',
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    signingAlgorithm: ALGORITHM,
    keys
    // the crypto given here, not set as the library's global provider: `@libp2p/tls` signs its
    // own certificates through that global with keys of another WebCrypto implementation
  }, globalThis.crypto)
  const pkcs8 = new Uint8Array(await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey))
  return {
    cert: cert.toString('pem'),
    key: x509.PemConverter.encode(pkcs8.buffer, 'PRIVATE KEY'),
    notBefore,
    notAfter,
    hash: (await sha256.digest(new Uint8Array(cert.rawData))).bytes
  }
}

/** Re-derives the hash and dates of a PEM certificate (what a store hands back is not trusted). */
async function fromPem (cert: string, key: string): Promise<WebTransportCert> {
  const parsed = new x509.X509Certificate(cert)
  return {
    cert,
    key,
    notBefore: parsed.notBefore.getTime(),
    notAfter: parsed.notAfter.getTime(),
    hash: (await sha256.digest(new Uint8Array(parsed.rawData))).bytes
  }
}

/**
 * The certificate set for now: loads what the store has, drops expired certificates,
 * generates the missing current and next ones, saves when anything changed.
 */
export async function certificateSet (store: CertificateStore, options: CertificateSetOptions = {}): Promise<CertificateSet> {
  const now = (options.now ?? Date.now)()
  const validity = options.validityMs ?? CERT_VALIDITY_MS
  const rotate = options.rotateMs ?? CERT_ROTATE_MS
  if (validity >= 14 * 24 * 3600_000) throw new InvalidConfigError('WebTransport certificates must be valid for less than 14 days')
  if (rotate * 2 > validity) throw new InvalidConfigError('WebTransport certificates must rotate at least twice per validity period')
  const stored = await store.load()
  // usable: started, and not ending before it would be replaced (plus the skew margin)
  let certs = stored.filter((c) => c.notAfter - CERT_CLOCK_SKEW_MS > now && c.notAfter - c.notBefore <= validity).sort((a, b) => a.notBefore - b.notBefore)
  let changed = certs.length !== stored.length
  let current = certs.filter((c) => c.notBefore <= now).at(-1)
  if (current === undefined || current.notBefore + rotate + CERT_CLOCK_SKEW_MS <= now) {
    // none, or one that should have been replaced already: start afresh (backdated for skew)
    current = await generateCertificate(now - CERT_CLOCK_SKEW_MS, validity)
    certs = [current]
    changed = true
  }
  const currentStart = current.notBefore
  let next = certs.find((c) => c.notBefore > currentStart)
  if (next === undefined) {
    next = await generateCertificate(current.notBefore + rotate, validity)
    changed = true
  }
  const previous = certs.filter((c) => c.notBefore < currentStart).at(-1)
  // serving starts once the next certificate is valid everywhere (its start plus skew)
  const rotateAt = next.notBefore + CERT_CLOCK_SKEW_MS
  const keep = [previous, current, next].filter((c): c is WebTransportCert => c !== undefined)
  if (changed || keep.length !== stored.length) await store.save(keep)
  return { previous, current, next, rotateAt }
}

/** The hashes the Noise handshake reports: previous (if any), current and next. */
export function reportedCerthashes (set: CertificateSet): Uint8Array[] {
  return [set.previous, set.current, set.next].filter((c): c is WebTransportCert => c !== undefined).map((c) => c.hash)
}

interface StoredCert { cert: string, key: string }
interface StoredFile { version: 1, certs: StoredCert[] }

/** Keeps certificates in one owner-only JSON file (written atomically). */
export function fileCertificateStore (path: string): CertificateStore {
  return {
    async load () {
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
        throw err
      }
      const file = JSON.parse(text) as Partial<StoredFile>
      if (file.version !== 1 || !Array.isArray(file.certs)) throw new InvalidConfigError(`${path} is not a subwire WebTransport certificate file`)
      return await Promise.all(file.certs.map(async (c) => await fromPem(c.cert, c.key)))
    },
    async save (certs) {
      const body: StoredFile = { version: 1, certs: certs.map((c) => ({ cert: c.cert, key: c.key })) }
      const tmp = `${path}.tmp`
      await writeFile(tmp, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 })
      await chmod(tmp, 0o600)
      await rename(tmp, path)
    }
  }
}

/** Keeps certificates in memory (a peer without a home). */
export function memoryCertificateStore (): CertificateStore {
  let certs: WebTransportCert[] = []
  return {
    async load () { return [...certs] },
    async save (c) { certs = [...c] }
  }
}
