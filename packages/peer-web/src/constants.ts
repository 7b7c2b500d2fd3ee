/**
 * Defaults of the browser peer. Each value says why it is what it is.
 *
 * @packageDocumentation
 */

/** Name shown by the wallet extension when it asks the user to authorise this site. */
export const DEFAULT_APP_NAME = 'subwire'

/** Root directory of received files inside the Origin Private File System. */
export const OPFS_ROOT = 'subwire'

/**
 * Bytes per partial segment file in OPFS. A main-thread OPFS writable only becomes
 * durable when it is closed, so a partial transfer is kept as segment files that are
 * closed as they fill: a reload loses at most one segment's worth of progress.
 */
export const OPFS_SEGMENT_BYTES = 16 * 1024 * 1024

/** `localStorage` key of the locally generated development key (a 32-byte seed, hex). */
export const DEV_KEY_STORAGE_KEY = 'subwire.devSeed'

/**
 * How long a hotkey lookup or a member listing waits for the DHT's routing table to learn
 * a Node peer just connected (identify runs after the subwire handshake, in well under a
 * second on a live link); past it the lookup goes on and answers from what is known.
 */
export const DHT_READY_TIMEOUT_MS = 3_000
