/**
 * The compliance suite every {@link AddressBook} body must pass. It is runner-agnostic:
 * pass the `describe`/`it` of your test runner and a factory for fresh books.
 *
 * @packageDocumentation
 */
import type { AddressBook, AddressBookEntry } from '../auth/address-book.ts'

/** The test-runner functions the suite needs. */
export interface SuiteRunner {
  describe: (name: string, fn: () => void) => unknown
  it: (name: string, fn: () => Promise<void>) => unknown
}

/** Creates a fresh, empty book; `reopen` (if given) opens the same storage again. */
export interface AddressBookFactory {
  create: () => Promise<{ book: AddressBook, reopen?: () => Promise<AddressBook>, cleanup?: () => Promise<void> }>
}

function check (ok: boolean, message: string): void {
  if (!ok) throw new Error(`address book compliance: ${message}`)
}

const entry = (n: number): AddressBookEntry => ({
  ss58: `5ss58-${n}`,
  peerId: `12D3Koo-${n}`,
  addrs: [`/ip4/127.0.0.${n}/udp/4701/quic-v1`, `/ip4/127.0.0.${n}/tcp/4701`],
  updatedAt: 1_700_000_000_000 + n
})

/** Registers the suite. */
export function addressBookSuite (name: string, factory: AddressBookFactory, runner: SuiteRunner): void {
  runner.describe(`AddressBook compliance: ${name}`, () => {
    const withBook = (fn: (ctx: Awaited<ReturnType<AddressBookFactory['create']>>) => Promise<void>) => async () => {
      const ctx = await factory.create()
      try { await fn(ctx) } finally { await ctx.cleanup?.() }
    }

    runner.it('starts empty', withBook(async ({ book }) => {
      check((await book.list()).length === 0, 'a new book lists nothing')
      check(await book.get('5nobody') === undefined, 'get of an unknown hotkey is undefined')
    }))

    runner.it('stores, replaces and deletes entries by SS58', withBook(async ({ book }) => {
      await book.put(entry(1))
      await book.put(entry(2))
      check(JSON.stringify(await book.get('5ss58-1')) === JSON.stringify(entry(1)), 'get returns what was put')
      await book.put({ ...entry(1), addrs: ['/ip4/10.0.0.1/tcp/1'] })
      check((await book.get('5ss58-1'))?.addrs.length === 1, 'put replaces')
      check((await book.list()).length === 2, 'two entries listed')
      check(await book.delete('5ss58-1'), 'delete of an existing entry is true')
      check(!(await book.delete('5ss58-1')), 'delete of a missing entry is false')
      check((await book.list()).map((e) => e.ss58).join() === '5ss58-2', 'one entry left')
    }))

    runner.it('hands out copies, never its own objects', withBook(async ({ book }) => {
      const e = entry(3)
      await book.put(e)
      e.addrs.push('/mutated')
      const got = await book.get(e.ss58)
      check(got?.addrs.length === 2, 'mutating the put object does not change the book')
      got?.addrs.push('/mutated')
      check((await book.get(e.ss58))?.addrs.length === 2, 'mutating a returned object does not change the book')
    }))

    runner.it('keeps entries when reopened (durable bodies)', withBook(async ({ book, reopen }) => {
      if (reopen === undefined) return
      await Promise.all([book.put(entry(4)), book.put(entry(5)), book.put(entry(6))])
      const again = await reopen()
      check((await again.list()).length === 3, 'all concurrent puts survive a reopen')
      check(JSON.stringify(await again.get('5ss58-5')) === JSON.stringify(entry(5)), 'entries are intact after reopen')
    }))
  })
}
