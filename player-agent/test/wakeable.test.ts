/**
 * Wakeable: no wake is lost. A wake while nobody waits makes the next wait return at once; several such
 * wakes make one early return; a wake during a wait ends it; a wait nobody wakes lasts its time. Timers
 * are faked, so "still sleeping" is exact, not a guess about time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Wakeable, type Waiter } from '../src/player/wakeable.js'

/** Starts a wait and tells whether it has returned. */
function track(waiter: Waiter, ms: number) {
  const state = { done: false }
  const promise = waiter.wait(ms).then(() => {
    state.done = true
  })
  return { state, promise }
}

describe('Wakeable', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('a wait nobody wakes lasts its time', async () => {
    const w = new Wakeable()
    const t = track(w, 1_000)
    await vi.advanceTimersByTimeAsync(999)
    expect(t.state.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(t.state.done).toBe(true)
  })

  it('a wake during a wait ends it at once; the next wait sleeps again', async () => {
    const w = new Wakeable()
    const t = track(w, 60_000)
    await vi.advanceTimersByTimeAsync(10)
    expect(t.state.done).toBe(false)
    w.wake()
    await vi.advanceTimersByTimeAsync(0)
    expect(t.state.done).toBe(true)
    const next = track(w, 1_000)
    await vi.advanceTimersByTimeAsync(999)
    expect(next.state.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(next.state.done).toBe(true)
  })

  it('a wake before the wait makes the wait return at once', async () => {
    const w = new Wakeable()
    w.wake()
    const t = track(w, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(t.state.done).toBe(true)
  })

  it('two wakes, then one wait returns at once, and the wait after it sleeps normally', async () => {
    const w = new Wakeable()
    w.wake()
    w.wake()
    const first = track(w, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(first.state.done).toBe(true)
    const second = track(w, 1_000)
    await vi.advanceTimersByTimeAsync(999)
    expect(second.state.done).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(second.state.done).toBe(true)
  })

  it('a wake after a wait timed out is kept for the next wait', async () => {
    const w = new Wakeable()
    const t = track(w, 100)
    await vi.advanceTimersByTimeAsync(100)
    expect(t.state.done).toBe(true)
    w.wake()
    const next = track(w, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(next.state.done).toBe(true)
  })

  it('each waiter of a shared Wakeable sees every wake, whichever loop was busy', async () => {
    const w = new Wakeable()
    const busy = w.waiter()
    const sleeping = w.waiter()
    const s = track(sleeping, 60_000)
    w.wake() // ends `sleeping`'s wait, and is kept for `busy`, which is not waiting
    await vi.advanceTimersByTimeAsync(0)
    expect(s.state.done).toBe(true)
    const b = track(busy, 60_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(b.state.done).toBe(true)
    // Neither has a wake left.
    const again = [track(busy, 1_000), track(sleeping, 1_000)]
    await vi.advanceTimersByTimeAsync(999)
    expect(again.map((t) => t.state.done)).toEqual([false, false])
    await vi.advanceTimersByTimeAsync(1)
    expect(again.map((t) => t.state.done)).toEqual([true, true])
  })
})
