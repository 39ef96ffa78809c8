/**
 * Views (issue 12 §7): every play of an artwork on the display is a view `{artwork, postId?, viewedAt,
 * channel}`, at most one per MIN_VIEW_GAP_MS (a view sooner than 5 s after the last is not recorded —
 * the receipt rules would refuse it). Each view is appended to the views journal (view-journal.ts,
 * fsynced) as it is recorded, and goes, at the next flush, in one DEVICE_VIEWS receipt per batch (at most
 * MAX_VIEWS_PER_BATCH) through the sync engine's durable outbox, the same path as heartbeats: once
 * appended, a batch survives restarts and relay outages and lands exactly once.
 *
 * Which journaled views are already in a receipt needs no bookkeeping of its own: views are strictly
 * increasing in time and a flush sends a prefix of them, so a journaled view is sent exactly when it is
 * no later than the last view of this device's DEVICE_VIEWS receipts in the local log and the outbox.
 * At start the journal is replayed through the same 5 s rule against that last view; the crash points:
 *
 * - killed during a journal append: a torn last line, dropped (that view was never durable);
 * - after the append, before a flush: the view is replayed into the next batch;
 * - after a batch is in the outbox, before the journal is replaced: its views are no later than the
 *   outbox's last view, so they are skipped — never a second receipt the relay would refuse
 *   (`view_duplicate`/`view_too_soon`), which would leave a rejected entry in the outbox;
 * - during the replace: the old journal or the new one (atomic), either replays right.
 *
 * After a restart the last view (in the log, the outbox or the journal) is where the 5 s gap counts
 * from; a clock that jumped back (views before the last one) records nothing until it passes the last
 * view again.
 */
import type { SyncClient } from '@pixpax/client-sdk'
import type { FileLocalLog } from '@pixpax/client-sdk/node'
import { deviceStreamKey, MAX_VIEWS_PER_BATCH, MIN_VIEW_GAP_MS, type DeviceView, type DeviceViews, type Receipt } from '@pixpax/shared'
import type { PlaylistItem } from '../channels/channel-source.js'
import type { ViewJournal } from './view-journal.js'

export interface ViewClock {
  now(): number
  /** Whether the clock agreed with the relay's (ClockCheck). */
  readonly synced: boolean
}

export interface ViewReporterEvents {
  /** A recorded view is in the journal (durable). */
  journaled?(view: DeviceView): void
  /** A journal write failed (the view is still sent from memory at the next flush) or recovery dropped lines. */
  warn?(message: string): void
}

export class ViewReporter {
  private pending: DeviceView[] = []
  /** viewedAt (ms) of the last view recorded, flushed or not; -Infinity before any. */
  private lastAt = -Infinity
  private journal: ViewJournal | undefined

  constructor(
    private readonly client: Pick<SyncClient, 'append' | 'pending'>,
    private readonly deviceIdentityId: string,
    private readonly clock: ViewClock,
    private readonly events: ViewReporterEvents = {},
  ) {}

  /**
   * Reads the last view this device reported (its stream in the local log, then its outbox); with a
   * journal, replays the views it holds that no receipt carries, and rewrites it with just those.
   */
  async open(log: Pick<FileLocalLog, 'read'>, journal?: ViewJournal): Promise<void> {
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
    if (!journal) return
    this.journal = journal
    const { views, tornBytes, damagedLines } = journal.recovered
    if (tornBytes > 0) this.events.warn?.(`views journal: dropped a torn last line (${tornBytes} bytes)`)
    if (damagedLines.length > 0) this.events.warn?.(`views journal: skipped damaged line(s) ${damagedLines.join(', ')}`)
    for (const view of views) {
      const at = Date.parse(view.viewedAt)
      // Already in a receipt (no later than its last view), or out of order: the relay would refuse it.
      if (at < this.lastAt + MIN_VIEW_GAP_MS) continue
      this.lastAt = at
      this.pending.push(view)
    }
    // Rewritten at every start: the torn tail and the damaged lines go before anything is appended after
    // them, and the file appends go to has a name a directory fsync made durable. Failing (a full disk),
    // the old journal stays: its damage costs at most the view appended right after it.
    await journal.replace(this.pending).catch((error: unknown) => this.events.warn?.(`views journal: ${(error as Error).message}`))
  }

  get queued(): number {
    return this.pending.length
  }

  /** Records a view of `item` now; false when it comes less than 5 s after the last one. */
  record(item: PlaylistItem, channel: string | undefined): boolean {
    const at = this.clock.now()
    if (at < this.lastAt + MIN_VIEW_GAP_MS) return false
    this.lastAt = at
    const view: DeviceView = {
      artwork: item.artwork,
      ...(item.postId ? { postId: item.postId } : {}),
      viewedAt: new Date(at).toISOString(),
      ...(channel ? { channel: channel.slice(0, 200) } : {}),
      ...(this.clock.synced ? {} : { clockUnsynced: true as const }),
    }
    this.pending.push(view)
    // In the background: the play loop does not wait for the disk. A failed write leaves the view in memory.
    this.journal?.append(view).then(
      () => this.events.journaled?.(view),
      (error: unknown) => this.events.warn?.(`views journal: ${(error as Error).message}`),
    )
    return true
  }

  /** Resolves when every view recorded so far is written to the journal (or failed to be). */
  async journaled(): Promise<void> {
    await this.journal?.idle()
  }

  /**
   * Appends the waiting views as DEVICE_VIEWS receipts (durable when this returns), then replaces the
   * journal with the views recorded meanwhile. Views later than the clock now (it jumped back since) are
   * dropped: a receipt cannot carry a view after its own createdAt. Returns the batches appended.
   */
  async flush(): Promise<DeviceView[][]> {
    if (this.pending.length === 0) return []
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
    // Queued after the appends of every view recorded so far, so the new journal is exactly the views
    // still waiting. Failing, the old journal stays: what it holds in receipts is skipped at replay.
    await this.journal?.replace(this.pending).catch((error: unknown) => this.events.warn?.(`views journal: ${(error as Error).message}`))
    return sent
  }

  /** Closes the journal (after the last flush). */
  async close(): Promise<void> {
    await this.journal?.close()
  }
}
