/**
 * `@subwire/shared/testing`: the compliance suites every storage body must pass, runner-agnostic.
 *
 * @packageDocumentation
 */
export { addressBookSuite } from './address-book-suite.ts'
export type { SuiteRunner, AddressBookFactory } from './address-book-suite.ts'
export { queueStoreSuite, sampleRecord } from './queue-store-suite.ts'
export type { QueueStoreFactory } from './queue-store-suite.ts'
