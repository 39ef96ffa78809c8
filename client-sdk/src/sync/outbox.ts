/**
 * The outbox: receipts signed locally and not yet confirmed, durable in the local log, moved only by
 * the transition table of outbox-machine.ts (queued → sent → acked → removed once delivered; rejected
 * kept for the app). Which pushes are in flight (by push id) lives here too, so a disconnect puts
 * exactly those back in the queue.
 */
import type { LocalLog, OutboxEntry } from '../storage/local-log.js'
import { backoffMs, nextOutboxState, type OutboxEvent } from './outbox-machine.js'

export class Outbox {
  /** Every entry, in the order they were queued (replaced, not mutated, when one is removed). */
  entries: OutboxEntry[] = []
  readonly #inFlight = new Map<string, OutboxEntry[]>()
  #pushSeq = 0

  constructor(
    private readonly log: LocalLog,
    private readonly now: () => number,
    private readonly random: () => number,
    /** An entry left the outbox (its receipt is in the local log). */
    private readonly onRemoved: () => void,
  ) {}

  /** Loads the stored outbox; after a crash or a stop nothing is in flight (`restart`). */
  async load(): Promise<void> {
    this.entries = await this.log.listOutbox()
    for (const entry of this.entries) {
      const next = nextOutboxState(entry.state, 'restart')
      if (next !== undefined && next !== 'removed' && next !== entry.state) {
        entry.state = next
        await this.log.putOutbox(entry)
      }
    }
  }

  /** Queues a new entry (durable when it resolves). */
  async add(entry: OutboxEntry): Promise<void> {
    await this.log.putOutbox(entry)
    this.entries.push(entry)
  }

  /** The chain position a new receipt of `streamKey` follows: the last pending one, if any. */
  lastPending(streamKey: string): OutboxEntry | undefined {
    const pending = this.entries.filter((e) => e.streamKey === streamKey && e.state !== 'rejected')
    return pending[pending.length - 1]
  }

  /** Entries of a stream not yet answered for good (what a rebase rebuilds). */
  unanswered(streamKey: string): OutboxEntry[] {
    return this.entries.filter((e) => e.streamKey === streamKey && (e.state === 'queued' || e.state === 'sent'))
  }

  /** Queued entries whose backoff has passed, at most `max`. */
  due(now: number, max: number): OutboxEntry[] {
    return this.entries.filter((e) => e.state === 'queued' && e.nextAttemptAt <= now).slice(0, max)
  }

  /** When the next queued entry may be pushed (Infinity: none queued). */
  nextAttemptAt(): number {
    return Math.min(...this.entries.filter((e) => e.state === 'queued').map((e) => e.nextAttemptAt))
  }

  /** Nothing left to push or wait for (rejected entries stay for the app to see). */
  get settled(): boolean {
    return this.entries.every((e) => e.state === 'rejected')
  }

  /** Pushes sent and not answered yet (a disconnect ends them all). */
  get pushesInFlight(): number {
    return this.#inFlight.size
  }

  /** Marks a batch sent and returns the push id its answer will name. */
  async send(batch: OutboxEntry[]): Promise<string> {
    const id = `push-${++this.#pushSeq}`
    for (const e of batch) await this.transition(e, 'send')
    this.#inFlight.set(id, batch)
    return id
  }

  /** The batch a push answer is for (once: a second answer finds nothing). */
  answered(id: string): OutboxEntry[] | undefined {
    const batch = this.#inFlight.get(id)
    this.#inFlight.delete(id)
    return batch
  }

  /** The connection dropped: every push in flight goes back to the queue. */
  disconnected(): void {
    for (const entries of this.#inFlight.values()) for (const e of entries) void this.transition(e, 'disconnect')
    this.#inFlight.clear()
  }

  /**
   * Moves an entry by the table and stores it. An event the table refuses in the entry's state (a late
   * answer) changes nothing; an entry already removed stays removed (delivery can overtake the answer).
   */
  async transition(entry: OutboxEntry, event: OutboxEvent): Promise<void> {
    if (!this.entries.includes(entry)) return
    const next = nextOutboxState(entry.state, event)
    if (next === undefined) return
    if (next === 'removed') {
      this.entries = this.entries.filter((e) => e !== entry)
      await this.log.deleteOutbox(entry.id)
      this.onRemoved()
      return
    }
    if (event === 'send') entry.attempts++
    if (event === 'retryable') entry.nextAttemptAt = this.now() + backoffMs(entry.attempts, this.random)
    entry.state = next
    await this.log.putOutbox(entry)
  }
}
