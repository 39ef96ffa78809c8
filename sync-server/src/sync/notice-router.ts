/**
 * Commit notices routed by stream to the sync sessions that follow it. The notifier hands every notice
 * to every listener; with one listener per session, a notice cost O(sessions) — 1,000 connected players
 * and a batch announcing 200 streams made 200,000 handler calls per batch, almost all of them a Map
 * lookup that found nothing. Here one listener looks the stream up once and calls only its watchers.
 * A `{stream: '*'}` notice (the LISTEN connection came back; notices may have been missed) goes to every
 * `onReconnect` handler instead.
 */
import type { ReceiptNotice, ReceiptNotifier } from './notifier.js'

type Handler = (notice: ReceiptNotice) => void

export class NoticeRouter {
  readonly #byStream = new Map<string, Set<Handler>>()
  readonly #reconnect = new Set<Handler>()
  readonly #unsubscribe: () => void

  constructor(notifier: ReceiptNotifier) {
    this.#unsubscribe = notifier.subscribe((notice) => {
      if (notice.stream === '*') {
        for (const handler of [...this.#reconnect]) handler(notice)
        return
      }
      const watchers = this.#byStream.get(notice.stream)
      if (watchers) for (const handler of [...watchers]) handler(notice)
    })
  }

  /** Calls `handler` with each notice of `stream`; returns the function that stops it. */
  watch(stream: string, handler: Handler): () => void {
    let watchers = this.#byStream.get(stream)
    if (!watchers) this.#byStream.set(stream, (watchers = new Set()))
    watchers.add(handler)
    return () => {
      watchers.delete(handler)
      if (watchers.size === 0 && this.#byStream.get(stream) === watchers) this.#byStream.delete(stream)
    }
  }

  /** Calls `handler` with each `{stream: '*'}` notice; returns the function that stops it. */
  onReconnect(handler: Handler): () => void {
    this.#reconnect.add(handler)
    return () => this.#reconnect.delete(handler)
  }

  /** Streams with at least one watcher (tests, metrics). */
  get watchedStreams(): number {
    return this.#byStream.size
  }

  close(): void {
    this.#unsubscribe()
    this.#byStream.clear()
    this.#reconnect.clear()
  }
}
