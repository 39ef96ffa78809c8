/**
 * TimeSlicer: per-receipt work awaited through `pause()` lets other tasks run once a slice has used its
 * budget (what keeps a browser page responsive during catch-up), and costs no turn inside the budget.
 */
import { describe, expect, it } from 'vitest'
import { TimeSlicer } from '../src/sync/time-slicer.js'

const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // a receipt's checks
  }
}

describe('TimeSlicer', () => {
  it('gives the event loop a turn once a slice ran its budget', async () => {
    const slicer = new TimeSlicer(5)
    let other = false
    setImmediate(() => (other = true))
    const start = performance.now()
    while (!other && performance.now() - start < 2000) {
      busy(1)
      await slicer.pause()
    }
    expect(other).toBe(true)
    expect(performance.now() - start).toBeLessThan(100) // about one budget, not the whole loop
  })

  it('inside the budget, awaiting pause() lets no other task run', async () => {
    const slicer = new TimeSlicer(10_000)
    let other = false
    setImmediate(() => (other = true))
    for (let i = 0; i < 1000; i++) await slicer.pause()
    expect(other).toBe(false)
  })
})
