/**
 * Checks of configuration values, shared by every part, so each option is validated once,
 * up front, with the same clear error.
 *
 * @packageDocumentation
 */
import { InvalidConfigError } from './errors/index.ts'
import {
  BITTENSOR_SS58_PREFIX, BULK_MIN_BYTES, BULK_MIN_REQUEST_BYTES, DEFAULT_ATTESTATION_LIFETIME_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_MAX_CLOCK_SKEW_MS,
  DEFAULT_MAX_CONCURRENT_HANDLERS, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_FRAME_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, MAX_NETUID
} from './constants.ts'
import type { SubwireInit } from './types.ts'

/**
 * `value` if it is a finite number above zero, `fallback` if it is undefined; anything
 * else throws `InvalidConfigError` naming the option.
 */
export function positiveNumber (value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw new InvalidConfigError(`${name} must be a positive number`)
  return value
}

/** True for an integer netuid from 0 to {@link MAX_NETUID}. */
export function isNetuid (n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_NETUID
}

/** The netuids a peer serves, checked and without repeats; throws `InvalidConfigError`. */
export function validateNetuids (netuids: number[]): number[] {
  if (!Array.isArray(netuids)) throw new InvalidConfigError('netuids must be an array')
  for (const n of netuids) {
    if (!isNetuid(n)) throw new InvalidConfigError(`netuid ${String(n)} is not an integer from 0 to ${MAX_NETUID}`)
  }
  return [...new Set(netuids)]
}

/** The engine's options with their defaults applied, each checked once (see {@link SubwireInit}). */
export interface EngineOptions {
  netuids: number[]
  handshakeTimeoutMs: number
  maxConcurrent: number
  maxHandlers: number
  requestTimeoutMs: number
  lifetimeMs: number
  maxClockSkewMs: number
  maxFrameBytes: number
  connectionBudgetBytes: number
  peerBudgetBytes: number
  encryption: { messages: boolean, files: boolean, requests: boolean, require: boolean }
  ss58Prefix: number
  bulkMinBytes: number
  bulkMinRequestBytes: number
}

/** Applies the defaults to `init` and checks every value; throws `InvalidConfigError` naming the option. */
export function engineOptions (init: SubwireInit): EngineOptions {
  const maxFrameBytes = positiveNumber(init.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'maxFrameBytes')
  const connectionBudgetBytes = positiveNumber(init.limits?.maxBufferedBytesPerConnection, 3 * maxFrameBytes, 'limits.maxBufferedBytesPerConnection')
  return {
    netuids: validateNetuids(init.netuids),
    handshakeTimeoutMs: positiveNumber(init.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 'handshakeTimeoutMs'),
    maxConcurrent: positiveNumber(init.maxConcurrentRequests, DEFAULT_MAX_CONCURRENT_REQUESTS, 'maxConcurrentRequests'),
    maxHandlers: positiveNumber(init.maxConcurrentHandlers, DEFAULT_MAX_CONCURRENT_HANDLERS, 'maxConcurrentHandlers'),
    requestTimeoutMs: positiveNumber(init.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs'),
    lifetimeMs: positiveNumber(init.attestationLifetimeMs, DEFAULT_ATTESTATION_LIFETIME_MS, 'attestationLifetimeMs'),
    maxClockSkewMs: positiveNumber(init.maxClockSkewMs, DEFAULT_MAX_CLOCK_SKEW_MS, 'maxClockSkewMs'),
    maxFrameBytes,
    connectionBudgetBytes,
    peerBudgetBytes: positiveNumber(init.limits?.maxBufferedBytesPerPeer, 2 * connectionBudgetBytes, 'limits.maxBufferedBytesPerPeer'),
    encryption: { messages: true, files: true, requests: false, require: false, ...init.encryption },
    ss58Prefix: init.ss58Prefix ?? BITTENSOR_SS58_PREFIX,
    bulkMinBytes: positiveNumber(init.bulk?.minBytes, BULK_MIN_BYTES, 'bulk.minBytes'),
    bulkMinRequestBytes: positiveNumber(init.bulk?.minRequestBytes, BULK_MIN_REQUEST_BYTES, 'bulk.minRequestBytes')
  }
}
