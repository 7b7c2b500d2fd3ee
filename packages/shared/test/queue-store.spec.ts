import { describe, it } from 'node:test'
import { MemoryQueueStore } from '@subwire/shared'
import { queueStoreSuite } from '@subwire/shared/testing'

queueStoreSuite('memory', { create: async () => ({ store: new MemoryQueueStore() }) }, { describe, it })
