/**
 * Limits and names of the local API. Each value says why it is what it is.
 *
 * @packageDocumentation
 */

/** Version of the API protocol (`hello` carries it; docs/API.md describes version 1). Bumped only on an incompatible change. */
export const API_VERSION = 1

/** The API's Unix socket in the home, owner-only (0600) like the home itself. */
export const API_SOCKET_FILE = 'api.sock'

/** The bearer token of the TCP API in the home (0600): whoever can read it may drive the peer. */
export const API_TOKEN_FILE = 'api.token'

/**
 * Largest API frame: an RPC body may be 16 MiB (the engine's frame limit), plus room for
 * the operation's other fields. Checked at the header, before a byte of the body is kept.
 */
export const MAX_API_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024

/** A connection must say `hello` (and, on TCP, show its token) within this time, or it is closed. */
export const API_HELLO_TIMEOUT_MS = 5_000

/** Operations one connection may have running at once; more are refused with `TooManyRequestsError` (a client queues). */
export const API_MAX_IN_FLIGHT = 4096

/**
 * Bytes the peer lets pile up unread towards one client (events, replies) before it ends
 * that connection: a client that stopped reading must not grow the peer's memory without bound.
 */
export const API_MAX_UNREAD_BYTES = 256 * 1024 * 1024

/** Progress frames of one transfer are at most this often (the last one is always sent). */
export const API_PROGRESS_INTERVAL_MS = 100

/** Chunks of a streamed reply a client handler may send ahead of what the caller took (credit window). */
export const API_STREAM_WINDOW = 16

/** The longest accepted HTTP/JSON request body (the HTTP surface is for small calls; files are named by path). */
export const API_MAX_HTTP_BODY_BYTES = 16 * 1024 * 1024
