import { describe, it } from 'node:test'
import { MemoryAddressBook } from '@subwire/shared'
import { addressBookSuite } from '@subwire/shared/testing'

addressBookSuite('memory', { create: async () => ({ book: new MemoryAddressBook() }) }, { describe, it })
