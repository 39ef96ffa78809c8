/**
 * Detached verified receipts of a book (docs/economy.md, "Offline book view"): receipts of OTHER books
 * that decide this book's trades — an offer to it, the acceptance of its offer — which the client never
 * syncs (pixbooks are private), kept once verified so the book can be computed offline.
 *
 * Kept in the LocalLog's meta records (one record per book), so every LocalLog backend (memory, file,
 * IndexedDB) holds them with the durability its contract promises for meta records, and a store needs no
 * schema of its own. They are not in the log itself: they are not chained to anything the client holds.
 */
import type { Ack, Receipt } from '@pixpax/shared'
import type { LocalLog } from '../storage/local-log.js'
import { Mutex } from '../storage/mutex.js'
import type { BookRef } from '../book-ref.js'

/** A receipt of another book, verified (signature, issuer key, relay ack) before it was kept. */
export interface CounterpartReceipt {
  streamKey: string
  seq: number
  /** Its position in the relay's acceptance log (the ack's). */
  position: number
  receipt: Receipt
  ack: Ack
}

const metaKey = (book: BookRef): string => `economy/counterparts/${book.accountId}/${book.bookId}`

/**
 * One writer per LocalLog, whichever store object adds: an add reads, merges and writes one record, so
 * overlapping adds (two fetches at once) must not drop each other's receipts.
 */
const writers = new WeakMap<LocalLog, Mutex>()

export class CounterpartStore {
  readonly #writes: Mutex
  constructor(private readonly log: LocalLog) {
    let writer = writers.get(log)
    if (!writer) writers.set(log, (writer = new Mutex()))
    this.#writes = writer
  }

  /** The kept receipts of `book`, by position. */
  async list(book: BookRef): Promise<CounterpartReceipt[]> {
    return ((await this.log.getMeta(metaKey(book))) as CounterpartReceipt[] | undefined) ?? []
  }

  /**
   * Adds verified receipts (ONLY verified ones: nothing here is checked again); one already kept (same
   * stream and seq) is not added twice. Durable when it resolves.
   */
  add(book: BookRef, entries: readonly CounterpartReceipt[]): Promise<void> {
    return this.#writes.run(async () => {
      if (!entries.length) return
      const kept = await this.list(book)
      const seen = new Set(kept.map((e) => `${e.seq} ${e.streamKey}`))
      const fresh = entries.filter((e) => !seen.has(`${e.seq} ${e.streamKey}`))
      if (fresh.length)
        await this.log.putMeta(
          metaKey(book),
          [...kept, ...fresh].sort((a, b) => a.position - b.position),
        )
    })
  }
}
