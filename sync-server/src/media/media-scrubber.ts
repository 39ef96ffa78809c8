/**
 * MediaScrubber: the periodic re-hash of stored media (Makapix re-verifies every 6 h and hides on a
 * mismatch). Each run pages through media_blobs in hash order; an `ok` blob whose bytes are missing or
 * no longer hash to their address becomes `corrupt` (GET answers 410) and every onCorrupt listener is
 * told, so the social module can hide the posts that show it. A `taken_down` blob whose bytes are still
 * there (a delete that failed, an upload racing the takedown) has them deleted again.
 *
 * Every replica runs its own scrubber; the work is idempotent and a blob turns corrupt once (the
 * replica whose UPDATE flips it is the one that notifies).
 */
import { createHash } from 'node:crypto'
import type { Queryable } from '../db/projection-db.js'
import type { ObjectStore } from '../stores/object-store.js'
import { markMediaCorrupt, mediaKey, type MediaStatus } from './media-store.js'

export interface CorruptMedia {
  hash: string
  /** `missing`: no bytes at the blob's key; `mismatch`: bytes whose SHA-256 is not the address. */
  reason: 'missing' | 'mismatch'
}

export interface ScrubReport {
  /** `ok` blobs re-hashed. */
  checked: number
  /** Blobs this run marked corrupt. */
  corrupt: CorruptMedia[]
  /** Taken-down blobs whose bytes this run deleted again. */
  purged: number
}

export interface MediaScrubberOptions {
  db: Queryable
  store: ObjectStore
  /** Time between runs (MEDIA_SCRUB_INTERVAL_MS). */
  intervalMs: number
  /** Rows read per query. */
  batchSize?: number
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void }
}

type Listener = (corrupt: CorruptMedia) => void | Promise<void>

export class MediaScrubber {
  private readonly listeners = new Set<Listener>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<ScrubReport> | undefined
  private stopped = false

  constructor(private readonly options: MediaScrubberOptions) {}

  /** Calls `listener` for every blob a run marks corrupt; returns the unsubscribe function. */
  onCorrupt(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Runs every intervalMs (first run one interval after start); the timer does not hold the process open. */
  start(): void {
    if (this.timer || this.stopped) return
    this.timer = setInterval(() => {
      this.runOnce().catch((error: unknown) => this.options.log?.error({ err: error }, 'media scrub failed'))
    }, this.options.intervalMs)
    this.timer.unref()
  }

  /** Stops the timer and waits for a run in progress (which ends after its current row). */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    this.timer = undefined
    await this.running?.catch(() => undefined)
  }

  /** One pass over every blob; a call while a pass is running joins that pass. */
  runOnce(): Promise<ScrubReport> {
    this.running ??= this.scrub().finally(() => (this.running = undefined))
    return this.running
  }

  private async scrub(): Promise<ScrubReport> {
    const { db, store } = this.options
    const batchSize = this.options.batchSize ?? 200
    const report: ScrubReport = { checked: 0, corrupt: [], purged: 0 }
    let after = ''
    for (;;) {
      const { rows } = await db.query<{ hash: string; status: MediaStatus }>(
        "SELECT hash, status FROM media_blobs WHERE hash > $1 AND status IN ('ok', 'taken_down') ORDER BY hash LIMIT $2",
        [after, batchSize],
      )
      const checked: string[] = []
      for (const { hash, status } of rows) {
        if (this.stopped) return report
        const bytes = await store.get(mediaKey(hash))
        if (status === 'taken_down') {
          if (bytes) {
            await store.delete(mediaKey(hash))
            report.purged += 1
          }
          continue
        }
        report.checked += 1
        checked.push(hash)
        const problem = !bytes ? 'missing' : `sha256:${createHash('sha256').update(bytes).digest('hex')}` !== hash ? 'mismatch' : undefined
        if (problem && (await markMediaCorrupt(db, hash))) {
          const corrupt = { hash, reason: problem } as const
          report.corrupt.push(corrupt)
          this.options.log?.warn(corrupt, 'stored media no longer matches its hash: marked corrupt')
          await this.notify(corrupt)
        }
      }
      if (checked.length) await db.query('UPDATE media_blobs SET last_checked_at = now() WHERE hash = ANY($1::text[])', [checked])
      if (rows.length < batchSize) return report
      after = rows[rows.length - 1]!.hash
    }
  }

  private async notify(corrupt: CorruptMedia): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(corrupt)
      } catch (error) {
        this.options.log?.error({ err: error, hash: corrupt.hash }, 'a media corruption listener failed')
      }
    }
  }
}
