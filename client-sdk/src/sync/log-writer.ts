/**
 * Durable appends of verified delivery batches, in order, behind the verification of the next ones.
 *
 * A catch-up batch is verified on the main thread (and the verify workers) and then made durable: one
 * write and one fdatasync for the file log, one transaction for IndexedDB. Awaited in the stream's queue,
 * the fdatasync (~17 ms for 500 receipts on the bench machine, a third of a batch's time) was time in
 * which nothing verified the next batch. Here each batch's write — the append and what must follow it
 * (events, outbox transitions) — runs one at a time, in the order handed over, while the caller goes on.
 * Work that reads the log back waits for `idle()`.
 *
 * After a failed write nothing more is written: later batches would chain to receipts the log does not
 * hold. The failure is kept (`failure`) and each later write rejects with it, unrun.
 */
export class LogWriter {
  #tail: Promise<void> = Promise.resolve()
  #pending = 0
  #failure: { error: unknown } | undefined

  /** Writes handed over and not finished yet. */
  get pending(): number {
    return this.#pending
  }

  /** Why writing stopped, if it did. */
  get failure(): unknown {
    return this.#failure?.error
  }

  get failed(): boolean {
    return this.#failure !== undefined
  }

  /** Runs `write` after every write handed over before it; settles as it does. */
  write(write: () => Promise<void>): Promise<void> {
    this.#pending++
    const done = this.#tail.then(async () => {
      if (this.#failure) throw this.#failure.error
      try {
        await write()
      } catch (error) {
        this.#failure = { error }
        throw error
      }
    })
    this.#tail = done.then(
      () => void this.#pending--,
      () => void this.#pending--,
    )
    return done
  }

  /** Resolves once every write handed over so far has finished (or failed); never rejects. */
  idle(): Promise<void> {
    return this.#tail
  }
}
