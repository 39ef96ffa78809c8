/**
 * Tells sync sessions when the log's checkpoint grew. Appends announce their streams once the checkpoint
 * covers them (ingest/appender.ts); on any announcement this reads the stored checkpoint — one read at a
 * time for all sessions, a notice during a read causing one more — and hands a larger one to every
 * listener. Sessions then send it to their clients (with a consistency proof), even clients that follow
 * none of the streams that grew: every client sees every checkpoint, which is what lets clients compare
 * what the relay showed them. The same checkpoint with more witness cosignatures (docs/log.md §11) is
 * handed on too, so clients that require witnesses learn of them as they arrive.
 */
import { COSIGNED_NOTICE } from '../log/cosignature-store.js'
import type { CheckpointRow, LogProofs } from '../log/log-proofs.js'
import type { ReceiptNotifier } from './notifier.js'

export class CheckpointFeed {
  #latest: CheckpointRow | undefined
  #reading = false
  #again = false
  readonly #listeners = new Set<(checkpoint: CheckpointRow) => void>()
  readonly #unsubscribe: () => void

  constructor(
    private readonly proofs: LogProofs,
    notifier: ReceiptNotifier,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.#unsubscribe = notifier.subscribe((notice) => {
      if (notice.stream === COSIGNED_NOTICE.stream) proofs.forgetCosignatures()
      void this.#read()
    })
  }

  /** Calls `listener` with each larger checkpoint, or more cosigned one; returns the unsubscribe function. */
  subscribe(listener: (checkpoint: CheckpointRow) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async #read(): Promise<void> {
    // No session on this replica: nobody to tell, and no statement per append batch (each session reads the
    // stored checkpoint itself at welcome).
    if (this.#listeners.size === 0) return
    if (this.#reading) {
      this.#again = true
      return
    }
    this.#reading = true
    try {
      do {
        this.#again = false
        const checkpoint = await this.proofs.latest()
        const grew = checkpoint && checkpoint.size > (this.#latest?.size ?? 0)
        const cosigned = checkpoint && checkpoint.size === this.#latest?.size && checkpoint.note.length > this.#latest.note.length
        if (checkpoint && (grew || cosigned)) {
          this.#latest = checkpoint
          for (const listener of this.#listeners) listener(checkpoint)
        }
      } while (this.#again)
    } catch (error) {
      this.onError(error)
    } finally {
      this.#reading = false
    }
  }

  close(): void {
    this.#unsubscribe()
    this.#listeners.clear()
  }
}
