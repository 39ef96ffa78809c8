/**
 * Tells sync sessions when the log's checkpoint grew. Appends announce their streams once the checkpoint
 * covers them (ingest/appender.ts); on any announcement this reads the stored checkpoint — one read at a
 * time for all sessions, a notice during a read causing one more — and hands a larger one to every
 * listener. Sessions then send it to their clients (with a consistency proof), even clients that follow
 * none of the streams that grew: every client sees every checkpoint, which is what lets clients compare
 * what the relay showed them. The same checkpoint with more witness cosignatures (docs/log.md §11) is
 * handed on too, so clients that require witnesses learn of them as they arrive.
 *
 * At most once per `intervalMs` (SYNC_CHECKPOINT_INTERVAL_MS): each hand-out is one message to every
 * connected client, and under load the log grows with every batch — 1,000 players and 30 checkpoints a
 * second were 30,000 messages a second, more than the receipts themselves. A notice inside the interval
 * waits for its end and then reads the newest checkpoint, so clients see every growth within an interval,
 * in order and proven consistent, only not every intermediate size. A delivered batch never waits for
 * this: it carries the checkpoint it was read under.
 */
import { COSIGNED_NOTICE } from '../log/cosignature-store.js'
import type { CheckpointRow, LogProofs } from '../log/log-proofs.js'
import type { ReceiptNotifier } from './notifier.js'

/** Sessions handed a checkpoint per event-loop turn. */
const FEED_SLICE = 64

export class CheckpointFeed {
  #latest: CheckpointRow | undefined
  #reading = false
  #again = false
  /** When the last read started (Date.now), and the read waiting for the interval to end. */
  #lastRead = Number.NEGATIVE_INFINITY
  #timer: NodeJS.Timeout | undefined
  readonly #listeners = new Set<(checkpoint: CheckpointRow) => void>()
  readonly #unsubscribe: () => void

  constructor(
    private readonly proofs: LogProofs,
    notifier: ReceiptNotifier,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly intervalMs = 0,
  ) {
    this.#unsubscribe = notifier.subscribe((notice) => {
      if (notice.stream === COSIGNED_NOTICE.stream) proofs.forgetCosignatures()
      this.#schedule()
    })
  }

  /** A read now, or at the end of the interval since the last one (one timer for any number of notices). */
  #schedule(): void {
    if (this.#timer) return
    const wait = this.#lastRead + this.intervalMs - Date.now()
    if (wait <= 0) {
      void this.#read()
      return
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#read()
    }, wait)
    this.#timer.unref()
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
        this.#lastRead = Date.now()
        const checkpoint = await this.proofs.latest()
        const grew = checkpoint && checkpoint.size > (this.#latest?.size ?? 0)
        const cosigned = checkpoint && checkpoint.size === this.#latest?.size && checkpoint.note.length > this.#latest.note.length
        if (checkpoint && (grew || cosigned)) {
          const previous = this.#latest
          this.#latest = checkpoint
          // Most sessions carry the same consistency proof (from the last size handed out): made once
          // before the hand-out, so each slice below sends at once instead of all of them at its end.
          // (A failure here is each session's to report, as before.)
          if (grew && previous && previous.size > 0) {
            try {
              await this.proofs.consistency(previous.size, checkpoint.size)
            } catch {
              // made again by each session, which reports it
            }
          }
          await this.#handOut(checkpoint)
        }
        // A notice during the read: read again, but not before the interval is over.
      } while (this.#again && this.intervalMs === 0)
    } catch (error) {
      this.onError(error)
    } finally {
      this.#reading = false
    }
    if (this.#again) {
      this.#again = false
      this.#schedule()
    }
  }

  /**
   * Every listener in slices of FEED_SLICE, a macrotask between slices: 1,000 sessions' sends in one go
   * held the relay's event loop ~20 ms every second (the worst delay its 1 s samples saw), and batch
   * results and command deliveries waited behind it.
   */
  async #handOut(checkpoint: CheckpointRow): Promise<void> {
    let n = 0
    for (const listener of [...this.#listeners]) {
      if (!this.#listeners.has(listener)) continue // left meanwhile
      listener(checkpoint)
      if (++n % FEED_SLICE === 0) await new Promise((resolve) => setImmediate(resolve))
    }
  }

  close(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#unsubscribe()
    this.#listeners.clear()
  }
}
