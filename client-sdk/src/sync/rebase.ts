/**
 * Rebase after `CHAIN_CONFLICT`: another device moved a stream's head, so our pending receipts of it
 * are rebuilt on the relay's head (same idempotency keys, signed again) — once that head is in the local
 * log. The wait is an event (a logged delivery wakes it, so does a dropped connection), never a poll.
 */
import type { Receipt } from '@pixpax/shared'
import type { OutboxEntry } from '../storage/local-log.js'

/** Waits for streams' logged heads to reach a seq; woken by the engine when it logs a delivery. */
export class HeadWaiters {
  readonly #waiters = new Map<string, Array<{ seq: number; done: () => void }>>()

  /** @param seqOf the logged head seq of a stream (0 for none). */
  constructor(private readonly seqOf: (streamKey: string) => number) {}

  /**
   * Resolves once `streamKey`'s logged head reaches `seq` (woken by `wake`), right away when it already
   * has or when there is no connection to deliver it (`connected` false), or after `timeoutMs`.
   */
  when(streamKey: string, seq: number, timeoutMs: number, connected: boolean): Promise<void> {
    if (this.seqOf(streamKey) >= seq || !connected) return Promise.resolve()
    return new Promise((resolve) => {
      const waiter = {
        seq,
        done: () => {
          clearTimeout(timer)
          const list = this.#waiters.get(streamKey)
          if (list)
            this.#waiters.set(
              streamKey,
              list.filter((w) => w !== waiter),
            )
          resolve()
        },
      }
      const timer = setTimeout(waiter.done, timeoutMs)
      this.#waiters.set(streamKey, [...(this.#waiters.get(streamKey) ?? []), waiter])
    })
  }

  /** Wakes the waiters of `streamKey` whose seq was reached (every waiter of every stream, without one). */
  wake(streamKey?: string): void {
    for (const [key, list] of [...this.#waiters]) {
      if (streamKey !== undefined && key !== streamKey) continue
      const head = this.seqOf(key)
      for (const w of list) if (streamKey === undefined || w.seq <= head) w.done()
    }
  }
}

/**
 * Rebuilds pending entries of one stream, in order, so they chain from `head`: an entry that already
 * chains to its predecessor is kept; any other is rebuilt by `rebuild` (same content and idempotency
 * key, new prev) and queued again, then stored by `store` before the next is rebuilt. Returns the rebuilt
 * entries (mutated in place).
 */
export async function rebuildOnHead(
  pending: readonly OutboxEntry[],
  head: { eventId: string; hash: string } | null,
  rebuild: (receipt: Receipt, prev: { eventId: string; hash: string } | null) => Promise<Receipt>,
  store: (entry: OutboxEntry) => Promise<void>,
  now: () => number,
): Promise<OutboxEntry[]> {
  let prev = head
  const rebased: OutboxEntry[] = []
  for (const entry of pending) {
    const r = entry.receipt
    if (r.prevEventId === (prev?.eventId ?? null) && r.prevHash === (prev?.hash ?? null)) {
      prev = { eventId: r.eventId, hash: r.hash }
      continue
    }
    const receipt = await rebuild(r, prev)
    entry.receipt = receipt
    entry.state = 'queued'
    entry.nextAttemptAt = now()
    await store(entry)
    rebased.push(entry)
    prev = { eventId: receipt.eventId, hash: receipt.hash }
  }
  return rebased
}
