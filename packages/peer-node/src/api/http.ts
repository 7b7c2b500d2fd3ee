/**
 * The HTTP/JSON surface of the local API, for scripts and `curl`: `POST /v1/<op>` with the
 * operation's arguments as a JSON object, answered `200 {"value": …}` or
 * `4xx/5xx {"error": {"name", "message", "code"}}`. It serves the one-shot operations
 * only (no handlers, no subscriptions, no streamed replies) and shares the port or socket
 * with the framed protocol: a connection whose first byte is an ASCII letter is HTTP.
 * On TCP it needs `Authorization: Bearer <token>`.
 *
 * @packageDocumentation
 */
import { createServer } from 'node:http'
import { API_MAX_HTTP_BODY_BYTES } from './constants.ts'
import { ApiProtocolError, ApiUnauthorizedError, UnknownOperationError } from './errors.ts'
import { wireError } from './connection.ts'
import { tokenMatches } from './tokens.ts'
import { Args } from './args.ts'
import type { Operation } from './connection.ts'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/** JSON with bytes as `{ "bytes": "<base64>" }`. */
function toJson (value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, k: string, v: unknown) {
    const raw = this[k]
    if (raw instanceof Uint8Array) return { bytes: Buffer.from(raw).toString('base64') }
    if (typeof v === 'bigint') return v.toString()
    return v
  })
}

const STATUS: Record<string, number> = { ApiUnauthorizedError: 401, UnknownOperationError: 404, ApiProtocolError: 400, InvalidDestinationError: 400, UnknownDestinationError: 404, RequestTimeoutError: 504 }

async function readBody (req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of req) {
    size += (c as Buffer).byteLength
    if (size > API_MAX_HTTP_BODY_BYTES) throw new ApiProtocolError(`HTTP body above ${API_MAX_HTTP_BODY_BYTES} bytes`)
    chunks.push(c as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text === '') return {}
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new ApiProtocolError('The HTTP body is not JSON') }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiProtocolError('The HTTP body must be a JSON object')
  return v as Record<string, unknown>
}

/** An HTTP server (never listening itself: connections are handed to it) for the one-shot operations. */
export function createHttpSurface (operations: ReadonlyMap<string, Operation>, tokenFor: (req: IncomingMessage) => string | undefined): Server {
  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    const text = toJson(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  return createServer((req, res) => {
    void (async () => {
      const controller = new AbortController()
      res.on('close', () => { if (!res.writableFinished) controller.abort() })
      try {
        const token = tokenFor(req)
        const auth = req.headers.authorization
        if (token !== undefined && !tokenMatches(typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined, token)) {
          throw new ApiUnauthorizedError(auth === undefined ? 'The TCP API needs "Authorization: Bearer <token from <home>/api.token>"' : 'Wrong API token')
        }
        const m = /^\/v1\/([a-z_.]+)$/.exec(req.url ?? '')
        const operation = m === null ? undefined : operations.get(m[1] as string)
        if (req.method !== 'POST' || m === null || operation === undefined) throw new UnknownOperationError(`No HTTP operation ${req.method ?? ''} ${req.url ?? ''} (POST /v1/<op>, one-shot operations only)`)
        const op = m[1] as string
        const value = await operation(new Args(op, await readBody(req)), { conn: undefined, id: 0, signal: controller.signal, emit: () => {} })
        answer(res, 200, { value: value ?? null })
      } catch (err) {
        const e = wireError(err)
        answer(res, STATUS[String(e.name)] ?? 500, { error: e })
      }
    })()
  })
}
