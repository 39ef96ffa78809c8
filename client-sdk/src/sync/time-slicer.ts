/**
 * Cooperative time slicing for work the sync engine does per receipt (checks, ordered rules). A delivery
 * batch is up to 500 receipts; done in one go it is one long task, and in a browser that freezes input
 * and drawing for its whole length (catch-up of 10,000 receipts measured 20 tasks over 50 ms, the longest
 * 158 ms). `pause()` is awaited between receipts and gives the event loop a turn once the current slice
 * has run `budgetMs` — a timer or a resolved promise would not: promise callbacks all run inside the
 * same task.
 */

type Scheduler = { yield?: () => Promise<void> }

/** A fresh task: `scheduler.yield()` (Chromium), a MessageChannel message (browsers), `setImmediate` (Node). */
export function yieldToEventLoop(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: Scheduler }).scheduler
  if (typeof scheduler?.yield === 'function') return scheduler.yield()
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve))
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel()
      channel.port1.onmessage = () => {
        channel.port1.close()
        resolve()
      }
      channel.port2.postMessage(null)
    })
  }
  return new Promise((resolve) => setTimeout(resolve, 0))
}

export class TimeSlicer {
  #sliceStart = performance.now()

  constructor(readonly budgetMs = 10) {}

  /** Resolves at once inside the budget; past it, after the event loop had a turn (and starts a new slice). */
  async pause(): Promise<void> {
    if (performance.now() - this.#sliceStart < this.budgetMs) return
    await yieldToEventLoop()
    this.#sliceStart = performance.now()
  }
}
