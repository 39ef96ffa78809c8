/**
 * CheckpointFeed (sync/checkpoint-feed.ts) hands a larger checkpoint to every session at most once per
 * interval: the first growth after a quiet interval at once, the growths inside an interval as one
 * hand-out of the newest at its end — so 1,000 connected clients cost 1,000 messages per interval, not
 * per integration round. With interval 0, every growth is handed on as before.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CheckpointRow, LogProofs } from '../src/log/log-proofs.js'
import { CheckpointFeed } from '../src/sync/checkpoint-feed.js'
import { LocalNotifier } from '../src/sync/notifier.js'

function fakeLog() {
  const log = { size: 0, reads: 0 }
  const proofs = {
    latest: async (): Promise<CheckpointRow | undefined> => {
      log.reads++
      return log.size ? { size: log.size, note: `note ${log.size}\n` } : undefined
    },
    forgetCosignatures: () => undefined,
  } as unknown as LogProofs
  return { log, proofs }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('CheckpointFeed', () => {
  it('hands out the first growth at once and the growths inside the interval once, the newest, at its end', async () => {
    const notifier = new LocalNotifier()
    const { log, proofs } = fakeLog()
    const feed = new CheckpointFeed(proofs, notifier, undefined, 1000)
    const seen: number[] = []
    feed.subscribe((cp) => seen.push(cp.size))

    log.size = 1
    notifier.publish({ stream: 'device/a', seq: 1 })
    await vi.advanceTimersByTimeAsync(0)
    expect(seen).toEqual([1])

    // Nine more integration rounds inside the interval: nothing until it ends, then only the newest.
    for (let i = 2; i <= 10; i++) {
      log.size = i
      notifier.publish({ stream: 'device/a', seq: i })
      await vi.advanceTimersByTimeAsync(50)
    }
    expect(seen).toEqual([1])
    await vi.advanceTimersByTimeAsync(1000)
    expect(seen).toEqual([1, 10])
    expect(log.reads).toBe(2) // one read per hand-out, not one per notice

    // Quiet since: the next growth goes out at once again.
    await vi.advanceTimersByTimeAsync(5000)
    log.size = 11
    notifier.publish({ stream: 'device/a', seq: 11 })
    await vi.advanceTimersByTimeAsync(0)
    expect(seen).toEqual([1, 10, 11])
    feed.close()
  })

  it('with interval 0 hands out every growth', async () => {
    const notifier = new LocalNotifier()
    const { log, proofs } = fakeLog()
    const feed = new CheckpointFeed(proofs, notifier, undefined, 0)
    const seen: number[] = []
    feed.subscribe((cp) => seen.push(cp.size))
    for (let i = 1; i <= 3; i++) {
      log.size = i
      notifier.publish({ stream: 'device/a', seq: i })
      await vi.advanceTimersByTimeAsync(0)
    }
    expect(seen).toEqual([1, 2, 3])
    feed.close()
  })

  it('close cancels a hand-out waiting for the end of the interval', async () => {
    const notifier = new LocalNotifier()
    const { log, proofs } = fakeLog()
    const feed = new CheckpointFeed(proofs, notifier, undefined, 1000)
    const seen: number[] = []
    feed.subscribe((cp) => seen.push(cp.size))
    log.size = 1
    notifier.publish({ stream: 'device/a', seq: 1 })
    await vi.advanceTimersByTimeAsync(0)
    log.size = 2
    notifier.publish({ stream: 'device/a', seq: 2 })
    feed.close()
    await vi.advanceTimersByTimeAsync(2000)
    expect(seen).toEqual([1])
    expect(log.reads).toBe(1)
  })
})
