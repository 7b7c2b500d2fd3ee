/**
 * Disk space promised to the transfers being received.
 *
 * @packageDocumentation
 */


/**
 * Disk space promised to the transfers in flight on one store: an offer is accepted only if
 * the free space, less what the others still have to write, leaves the configured minimum.
 */
export class DiskReservations {
  #total = 0

  /** Bytes still to be written by the transfers holding a reservation. */
  get total (): number { return this.#total }

  /** Reserves `bytes`; `written(n)` gives back what reached the disk, `release()` the rest. */
  reserve (bytes: number): { written: (n: number) => void, release: () => void } {
    let left = Math.max(0, bytes)
    this.#total += left
    return {
      written: (n) => { const d = Math.min(left, n); left -= d; this.#total -= d },
      release: () => { this.#total -= left; left = 0 }
    }
  }
}
