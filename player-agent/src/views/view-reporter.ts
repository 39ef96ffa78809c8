/**
 * Views (issue 12 §7): every play of an artwork on the display is a view `{artwork, postId?, viewedAt,
 * channel}`, at most one per MIN_VIEW_GAP_MS (a view sooner than 5 s after the last is not recorded —
 * the receipt rules would refuse it). Views wait in memory and go as one DEVICE_VIEWS receipt per batch
 * (at most MAX_VIEWS_PER_BATCH) through the sync engine's durable outbox, the same path as heartbeats:
 * once appended, a batch survives restarts and relay outages and lands exactly once (the outbox resends
 * with its idempotency key; the relay refuses a view it already has). Views not yet flushed when the
 * process is killed are lost (at most one heartbeat interval of them); a clean stop flushes them.
 *
 * After a restart the last reported view is read back from the device's stream and outbox, so the first
 * new view keeps the 5 s gap; a clock that jumped back (views before the last one) records nothing until
 * it passes the last view again.
 */
import type { SyncClient } from '@pixpax/client-sdk'
import type { FileLocalLog } from '@pixpax/client-sdk/node'
import { deviceStreamKey, MAX_VIEWS_PER_BATCH, MIN_VIEW_GAP_MS, type DeviceView, type DeviceViews, type Receipt } from '@pixpax/shared'
import type { PlaylistItem } from '../channels/channel-source.js'

export interface ViewClock {
  now(): number
  /** Whether the clock agreed with the relay's (ClockCheck). */
  readonly synced: boolean
}

export class ViewReporter {
  private pending: DeviceView[] = []
  /** viewedAt (ms) of the last view recorded, flushed or not; -Infinity before any. */
  private lastAt = -Infinity

  constructor(
    private readonly client: Pick<SyncClient, 'append' | 'pending'>,
    private readonly deviceIdentityId: string,
    private readonly clock: ViewClock,
  ) {}

  /** Reads the last view this device reported (its stream in the local log, then its outbox). */
  async open(log: Pick<FileLocalLog, 'read'>): Promise<void> {
    const key = deviceStreamKey(this.deviceIdentityId)
    const receipts: Receipt[] = [
      ...(await log.read(key)).map((l) => l.receipt),
      ...this.client
        .pending()
        .filter((e) => e.streamKey === key)
        .map((e) => e.receipt),
    ]
    for (const r of receipts) {
      if (r.type !== 'DEVICE_VIEWS') continue
      const last = (r.payload as DeviceViews).views.at(-1)
      if (last) this.lastAt = Math.max(this.lastAt, Date.parse(last.viewedAt))
    }
  }

  get queued(): number {
    return this.pending.length
  }

  /** Records a view of `item` now; false when it comes less than 5 s after the last one. */
  record(item: PlaylistItem, channel: string | undefined): boolean {
    const at = this.clock.now()
    if (at < this.lastAt + MIN_VIEW_GAP_MS) return false
    this.lastAt = at
    this.pending.push({
      artwork: item.artwork,
      ...(item.postId ? { postId: item.postId } : {}),
      viewedAt: new Date(at).toISOString(),
      ...(channel ? { channel: channel.slice(0, 200) } : {}),
      ...(this.clock.synced ? {} : { clockUnsynced: true as const }),
    })
    return true
  }

  /**
   * Appends the waiting views as DEVICE_VIEWS receipts (durable when this returns). Views later than the
   * clock now (it jumped back since) are dropped: a receipt cannot carry a view after its own createdAt.
   * Returns the batches appended.
   */
  async flush(): Promise<DeviceView[][]> {
    const now = this.clock.now()
    const views = this.pending.filter((v) => Date.parse(v.viewedAt) <= now)
    this.pending = []
    const sent: DeviceView[][] = []
    for (let i = 0; i < views.length; i += MAX_VIEWS_PER_BATCH) {
      const batch = views.slice(i, i + MAX_VIEWS_PER_BATCH)
      try {
        await this.client.append(deviceStreamKey(this.deviceIdentityId), 'DEVICE_VIEWS', { views: batch })
        sent.push(batch)
      } catch (error) {
        // Not appended (the log refused the write): keep them for the next flush, in order.
        this.pending = [...views.slice(i), ...this.pending]
        throw error
      }
    }
    return sent
  }
}
