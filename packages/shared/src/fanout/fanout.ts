/**
 * The fan-out part: one call to every member of a subnet. Members come from discovery
 * (the DHT's subnet providers and the metagraph) or are given; each is dialled with
 * bounded concurrency (open sessions are reused), and each result is yielded as it
 * arrives: `{ ss58, ok: true, body, ms }` or `{ ss58, ok: false, reason, error, ms }`.
 * Nothing waits past the timeout: a member that has not answered by then is reported with
 * `FanOutTimeoutError`. The summary (answered, failed by reason, p50/p99) follows the last.
 *
 * Logs under `subwire:fanout`.
 *
 * @packageDocumentation
 */
import { DEFAULT_FANOUT_CONCURRENCY, DEFAULT_FANOUT_TIMEOUT_MS } from '../constants.ts'
import { OperationAbortedError, FanOutTimeoutError, InvalidConfigError, toError, UnexpectedHotkeyError } from '../errors/index.ts'
import { throwIfAborted } from '../abort.ts'
import type { AbortOptions } from '../abort.ts'
import type { ResolvedHotkey } from '../discovery/types.ts'
import type { Logger } from '@libp2p/interface'

/** A member's own timeout that fires this close to the fan-out's deadline is reported as the deadline's. */
const DEADLINE_SLACK_MS = 50

/** Why a member failed. */
export type FanOutFailure = 'unreachable' | 'timeout' | 'refused' | 'handler'

/** One member's outcome. */
export type FanOutResult =
  | { ss58: string, ok: true, body: unknown, ms: number }
  | { ss58: string, ok: false, reason: FanOutFailure, error: Error, ms: number }

/** What a fan-out ends with. */
export interface FanOutSummary {
  /** The subnet. */
  netuid: number
  /** Members asked. */
  members: number
  /** Members that answered. */
  answered: number
  /** Members that failed, by reason. */
  failed: Record<FanOutFailure, number>
  /** Median answer time (ms), NaN with no answer. */
  p50Ms: number
  /** 99th percentile answer time (ms), NaN with no answer. */
  p99Ms: number
  /** Time from the start to the last result (ms). */
  ms: number
}

/** Options of a fan-out. */
export interface FanOutOptions extends AbortOptions {
  /** Deadline of the whole fan-out in ms (default 5 s). */
  timeout?: number | undefined
  /** Members dialled at once (default 32). */
  concurrency?: number | undefined
  /** Ask these hotkeys instead of discovering the members. */
  members?: string[] | undefined
  /** Collect a streamed reply (`requestStream`): the body is the array of chunks. */
  stream?: boolean | undefined
  /** Encrypt end to end. */
  encrypt?: boolean | undefined
  /**
   * Send each member's request over the connection for large transfers (see
   * `SubwireRequestOptions.bulk`); default `false`: a second dial per member would come out
   * of the fan-out's deadline.
   */
  bulk?: boolean | undefined
}

/** A fan-out in progress: iterate it for the results; `summary` resolves after the last. */
export interface SubnetFanOut extends AsyncIterable<FanOutResult> {
  /** The summary, once every member has a result. */
  readonly summary: Promise<FanOutSummary>
}

/** One call to one member (the coordinator binds it to RPC or messages). */
export type MemberCall = (ss58: string, options: AbortOptions & { timeout: number }) => Promise<unknown>

/** What the {@link FanOut} part is given. */
export interface FanOutComponents {
  /** Lists a subnet's members. */
  members: (netuid: number, options: AbortOptions) => Promise<ResolvedHotkey[]>
  /**
   * Lists them as they are found; given, a fan-out asks each member as soon as it is
   * listed instead of after the whole listing (which may take half the deadline).
   */
  listMembers?: ((netuid: number, options: AbortOptions) => AsyncIterable<ResolvedHotkey>) | undefined
  /** The `subwire:fanout` logger. */
  log: Logger
}

const REFUSED = new Set(['AccessDeniedError', 'SubnetFirewallError', 'RateLimitedError', 'SubnetNotServedError', 'UnknownRpcTypeError', 'TooManyRequestsError', 'EncryptionRequiredError', UnexpectedHotkeyError.name, 'UnexpectedPeerError', 'RecordPeerMismatchError', 'HandshakeFailedError'])
const TIMEOUT = new Set(['FanOutTimeoutError', 'RequestTimeoutError', 'HandshakeTimeoutError', 'TimeoutError', OperationAbortedError.name, 'AbortError'])

/** The reason of a member's failure, from its error's name. */
export function classifyFailure (err: Error): FanOutFailure {
  if (TIMEOUT.has(err.name)) return 'timeout'
  if (REFUSED.has(err.name)) return 'refused'
  if (err.name === 'RemoteHandlerError') return 'handler'
  return 'unreachable'
}

/** The `q` quantile (0-1) of sorted numbers, NaN if empty. */
export function quantile (sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number
}

/** Runs fan-outs. */
export class FanOut {
  readonly #c: FanOutComponents

  constructor (components: FanOutComponents) {
    this.#c = components
  }

  /** Starts a fan-out of `call` to the members of `netuid`. */
  run (netuid: number, call: MemberCall, options: FanOutOptions = {}): SubnetFanOut {
    const timeout = options.timeout ?? DEFAULT_FANOUT_TIMEOUT_MS
    const concurrency = options.concurrency ?? DEFAULT_FANOUT_CONCURRENCY
    if (!(timeout > 0)) throw new InvalidConfigError('timeout must be a positive number of ms')
    if (!(Number.isInteger(concurrency) && concurrency > 0)) throw new InvalidConfigError('concurrency must be a positive integer')
    let resolveSummary!: (s: FanOutSummary) => void
    let rejectSummary!: (e: Error) => void
    const summary = new Promise<FanOutSummary>((resolve, reject) => { resolveSummary = resolve; rejectSummary = reject })
    summary.catch(() => {}) // a caller that only iterates sees the error there
    const self = this
    let used = false
    return {
      summary,
      [Symbol.asyncIterator] () {
        if (used) throw new InvalidConfigError('a fan-out can be iterated once')
        used = true
        return self.#results(netuid, call, { ...options, timeout, concurrency }, resolveSummary, rejectSummary)[Symbol.asyncIterator]()
      }
    }
  }

  async * #results (netuid: number, call: MemberCall, options: FanOutOptions & { timeout: number, concurrency: number }, done: (s: FanOutSummary) => void, fail: (e: Error) => void): AsyncGenerator<FanOutResult> {
    const started = performance.now()
    const deadline = new AbortController()
    const signal = options.signal === undefined ? deadline.signal : AbortSignal.any([options.signal, deadline.signal])
    const timer = setTimeout(() => { deadline.abort(new FanOutTimeoutError()) }, options.timeout)
    const queue: FanOutResult[] = []
    let wake: (() => void) | undefined
    const push = (r: FanOutResult): void => { queue.push(r); wake?.() }
    const times: number[] = []
    const failed: Record<FanOutFailure, number> = { unreachable: 0, timeout: 0, refused: 0, handler: 0 }
    try {
      throwIfAborted(options.signal)
      // listing may take at most half the deadline: what is found by then is asked
      const listing = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, options.timeout / 2))])
      const list = this.#c.listMembers
      const streamed = options.members === undefined && list !== undefined
      const members = options.members !== undefined ? [...options.members] : streamed ? [] : (await this.#c.members(netuid, { signal: listing })).map((m) => m.ss58)
      throwIfAborted(options.signal)
      // with a streamed listing, members are asked as they are listed; idle workers wait for the next
      let listed = !streamed
      let arrived: (() => void) | undefined
      const more = (): void => { const w = arrived; arrived = undefined; w?.() }
      if (streamed) {
        void (async () => {
          try {
            for await (const m of list(netuid, { signal: listing })) { members.push(m.ss58); more() }
          } catch (err) {
            this.#c.log('listing subnet %d ended early: %s', netuid, toError(err).message)
          } finally {
            listed = true
            this.#c.log('fan-out to %d member(s) of subnet %d', members.length, netuid)
            more()
            wake?.()
          }
        })()
      } else {
        this.#c.log('fan-out to %d member(s) of subnet %d', members.length, netuid)
      }
      let next = 0
      let finished = 0
      const worker = async (): Promise<void> => {
        while (true) {
          if (next >= members.length) {
            if (listed) return
            await new Promise<void>((resolve) => { const w = arrived; arrived = () => { w?.(); resolve() } })
            continue
          }
          const ss58 = members[next++] as string
          const t0 = performance.now()
          const ms = (): number => Math.round((performance.now() - t0) * 100) / 100
          try {
            if (deadline.signal.aborted) throw new FanOutTimeoutError(`not asked within ${options.timeout} ms`)
            const remaining = Math.max(1, options.timeout - (performance.now() - started))
            const body = await raceAbort(call(ss58, { signal, timeout: remaining }), signal)
            const t = ms()
            times.push(t)
            push({ ss58, ok: true, body, ms: t })
          } catch (err) {
            let error = toError(err)
            // the call's own timeout is the time left, so it may fire a moment before the deadline: the same expiry
            const expired = deadline.signal.aborted || performance.now() - started >= options.timeout - DEADLINE_SLACK_MS
            if (expired && TIMEOUT.has(error.name) && error.name !== FanOutTimeoutError.name) error = new FanOutTimeoutError(`no answer within ${options.timeout} ms`, { cause: err })
            const reason = classifyFailure(error)
            failed[reason]++
            push({ ss58, ok: false, reason, error, ms: ms() })
          } finally {
            finished++
          }
        }
      }
      const workers = Array.from({ length: streamed ? options.concurrency : Math.min(options.concurrency, members.length) }, worker)
      void Promise.all(workers).then(() => wake?.())
      while (!listed || finished < members.length || queue.length > 0) {
        const r = queue.shift()
        if (r !== undefined) { yield r; continue }
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
      }
      throwIfAborted(options.signal)
      times.sort((a, b) => a - b)
      done({ netuid, members: members.length, answered: times.length, failed, p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99), ms: Math.round(performance.now() - started) })
    } catch (err) {
      const e = toError(err)
      fail(e)
      throw e
    } finally {
      clearTimeout(timer)
      deadline.abort(new OperationAbortedError('fan-out ended'))
    }
  }
}

/** `p`, or the signal's abort if that comes first (a call that ignores its signal cannot hold the fan-out past its deadline). */
async function raceAbort<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw toError(signal.reason, () => new OperationAbortedError())
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(toError(signal.reason, () => new OperationAbortedError())) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
