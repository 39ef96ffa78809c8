/**
 * Whether the player may trust its own clock for the times of its views (issue 12 §7: "an unsynced
 * clock flagged"). A small player often has no RTC battery and boots in 1970 or wherever it stopped, so
 * it compares its clock with the relay's: every HTTP answer of the relay carries a `Date` header. The
 * clock is trusted while the last comparison was within CLOCK_SKEW_LIMIT_MS (5 s); before any answer
 * (an offline start) it is not. The header has one-second resolution, so the estimate takes the middle
 * of that second and of the round trip; 5 s leaves room for both.
 */
import { CLOCK_SKEW_LIMIT_MS } from '@pixpax/shared'

export class ClockCheck {
  private skew: number | undefined

  constructor(private readonly now: () => number = Date.now) {}

  /** Local minus relay time, in ms, from the last answer; undefined before any. */
  get skewMs(): number | undefined {
    return this.skew
  }

  get synced(): boolean {
    return this.skew !== undefined && Math.abs(this.skew) <= CLOCK_SKEW_LIMIT_MS
  }

  /** Takes one answer's `Date` header, sent between `sentAt` and `receivedAt` (local clock). */
  observe(dateHeader: string | null, sentAt: number, receivedAt: number): void {
    const relay = dateHeader ? Date.parse(dateHeader) : NaN
    if (!Number.isFinite(relay)) return
    this.skew = (sentAt + receivedAt) / 2 - (relay + 500)
  }

  /** `fetch` that feeds every answer's `Date` header to this check. */
  observing(fetchImpl: typeof fetch): typeof fetch {
    return async (input, init) => {
      const sentAt = this.now()
      const res = await fetchImpl(input, init)
      this.observe(res.headers.get('date'), sentAt, this.now())
      return res
    }
  }
}
