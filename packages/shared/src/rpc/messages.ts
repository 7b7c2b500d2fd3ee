/**
 * Control messages as they reach the application: each is handed to the `message`
 * listeners and acked once they settled; a sender's retry of a message id is acked
 * without a second delivery (it waits for a first delivery still running).
 *
 * @packageDocumentation
 */
import { MAX_MESSAGE_ID_BYTES } from '../constants.ts'
import { InvalidConfigError } from '../errors/index.ts'
import type { Emitter } from '../events.ts'
import type { DeliveryLog } from '../outbox/store.ts'
import type { SubwireEvents, SubwireMessage } from '../types.ts'
import type { HandlerContext } from './types.ts'
import type { Logger } from '@libp2p/interface'

/** Delivers control messages at most once per sender and id. */
export class MessageInbox {
  readonly #events: Emitter<SubwireEvents>
  readonly #deliveries: DeliveryLog
  readonly #log: Logger
  readonly #delivering = new Map<string, Promise<void>>()

  /** `deliveries` remembers which ids were delivered; `log` is the `subwire:rpc` logger. */
  constructor (components: { events: Emitter<SubwireEvents>, deliveries: DeliveryLog, log: Logger }) {
    this.#events = components.events
    this.#deliveries = components.deliveries
    this.#log = components.log
  }

  /** The handler of every action on the message protocol: resolves (the ack) once the listeners settled. */
  readonly handler = async (payload: unknown, context: HandlerContext): Promise<null> => {
    const message: SubwireMessage = { id: context.messageId, from: context.caller.ss58, caller: context.caller, action: context.type, payload }
    const deliver = async (): Promise<void> => { await this.#events.emitAndSettle('message', message) }
    if (message.id === undefined) {
      await deliver()
      return null
    }
    // at-least-once senders retry with the same id: a retry whose first delivery is still
    // running waits for it; one that was delivered before is acked without redelivery
    const key = `m:${message.from} ${message.id}`
    const running = this.#delivering.get(key)
    if (running !== undefined) {
      await running
      return null
    }
    const id = `m:${message.id}`
    const delivering = (async () => {
      if (await this.#deliveries.wasDelivered(message.from, id)) {
        this.#log('message %s from %s was already delivered: acked again, not redelivered', message.id, message.from)
        return
      }
      await deliver()
      await this.#deliveries.markDelivered(message.from, id, Date.now())
    })()
    this.#delivering.set(key, delivering)
    try {
      await delivering
    } finally {
      this.#delivering.delete(key)
    }
    return null
  }
}

/** An explicit message id must be 1 to {@link MAX_MESSAGE_ID_BYTES} bytes (the receiver refuses longer ones). */
export function checkMessageId (id: string | undefined): void {
  if (id !== undefined && (id.length === 0 || new TextEncoder().encode(id).byteLength > MAX_MESSAGE_ID_BYTES)) {
    throw new InvalidConfigError(`A message id must be 1 to ${MAX_MESSAGE_ID_BYTES} bytes`)
  }
}
