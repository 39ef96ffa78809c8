/**
 * Fan-out reads shared between subscribers. After a commit notice every subscriber of that stream asks
 * for "what comes after seq n" at the same moment; without sharing, 100 subscribers cost 100 identical
 * queries per receipt. Concurrent identical reads share one query — but only a query that started after
 * the latest notice the reader knows of, so nobody is handed a result from before the commit that woke
 * it (which could be empty and end its pump early). Nothing is cached beyond the query's lifetime.
 */
import type { ReceiptNotifier } from './notifier.js'

export class SharedReads<T> {
  private readonly latestNotice = new Map<string, number>()
  private readonly inflight = new Map<string, Promise<T>>()
  private epoch = 0
  private readonly unsubscribe: () => void

  constructor(notifier: ReceiptNotifier) {
    // Subscribed before any session (registration order is call order), so a session woken by a notice
    // already sees it counted here.
    this.unsubscribe = notifier.subscribe(({ stream, seq }) => {
      // After a reconnect of the LISTEN connection nobody knows what was missed: start a new epoch.
      if (stream === '*') this.epoch++
      else if (seq > (this.latestNotice.get(stream) ?? 0)) this.latestNotice.set(stream, seq)
    })
  }

  read(stream: string, afterSeq: number, fetch: () => Promise<T>): Promise<T> {
    const key = `${this.epoch} ${afterSeq} ${this.latestNotice.get(stream) ?? 0} ${stream}`
    let pending = this.inflight.get(key)
    if (!pending) {
      pending = fetch()
      this.inflight.set(key, pending)
      const done = () => this.inflight.delete(key)
      pending.then(done, done)
    }
    return pending
  }

  close(): void {
    this.unsubscribe()
    this.inflight.clear()
  }
}
