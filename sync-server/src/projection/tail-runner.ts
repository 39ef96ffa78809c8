/**
 * The tail runner (ARCHITECTURE §7: "a projector may instead tail the log and catch up on its own"):
 * feeds each tail projector the accepted receipts in log order from its own offset in
 * projector_offsets, one batch per transaction that also moves the offset, so a crash or restart
 * resumes exactly where the last committed batch ended. It wakes on every commit notice (the relay's
 * notifier) and once at start.
 *
 * Replicas share the work safely: each batch locks its projector's offset row first (FOR UPDATE), so
 * two replicas never apply the same positions; the one that waited re-reads the offset and goes on from
 * there. A rebuild takes the same row lock before it swaps tables in (replay/rebuild.ts), so a batch is
 * wholly before or after the swap.
 *
 * Receipts are read from the `receipts` table (the streams projector's read cache of the store, written
 * in the append transaction). Batches commit in log order under the log's row lock, so the positions
 * below the committed `log_sequence.size` are all committed and readable: the runner never skips one.
 * After each batch it announces `tail/{name}` with the new offset, so readers on any replica waiting for
 * a projector to cover a position (`waitFor`) wake, and the projector's own notices (live notifications)
 * go out in the same transaction as its rows.
 */
import type { Receipt } from '@pixpax/shared'
import type { ProjectionDb, Queryable } from '../db/projection-db.js'
import { formatNotice, type ReceiptNotice, type ReceiptNotifier } from '../sync/notifier.js'
import type { ProjectedReceipt, Projector } from './projector.js'

/** Notice streams the runner itself announces on; never a reason to wake it. */
export const TAIL_NOTICE_PREFIX = 'tail/'

export interface TailRunnerDeps {
  db: ProjectionDb
  notifier: ReceiptNotifier
  projectors: readonly Projector[]
  /** Receipts per batch (one transaction each). */
  batchSize?: number
  onError?: (error: unknown, projector: string) => void
}

interface Lag {
  /** The committed log size. */
  logSize: number
  /** How far the projector has applied the log (every position below it). */
  appliedSize: number
}

export class TailRunner {
  private readonly batchSize: number
  private readonly known = new Map<string, number>()
  private readonly waiters = new Set<{ name: string; size: number; resolve: () => void }>()
  private unsubscribe: (() => void) | undefined
  private running: Promise<void> | undefined
  private again = false
  private stopped = false
  private retry: NodeJS.Timeout | undefined

  constructor(private readonly deps: TailRunnerDeps) {
    this.batchSize = deps.batchSize ?? 2000
  }

  get names(): string[] {
    return this.deps.projectors.map((p) => p.name)
  }

  /** Subscribes to commit notices and catches up once. */
  async start(): Promise<void> {
    const { db, projectors, notifier } = this.deps
    if (projectors.length === 0) return
    await db.query(
      'INSERT INTO projector_offsets (projector, applied_size) SELECT p, 0 FROM unnest($1::text[]) AS p ON CONFLICT (projector) DO NOTHING',
      [this.names],
    )
    this.unsubscribe = notifier.subscribe((notice) => this.onNotice(notice))
    this.wake()
  }

  /** Stops after the batch under way (its transaction commits or rolls back as a whole). */
  async stop(): Promise<void> {
    this.stopped = true
    this.unsubscribe?.()
    if (this.retry) clearTimeout(this.retry)
    await this.running
    for (const w of this.waiters) w.resolve()
    this.waiters.clear()
  }

  /** Runs (again) until every tail projector has applied the committed log. */
  wake(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.loop().finally(() => {
      this.running = undefined
      if (this.again) {
        this.again = false
        this.wake()
      }
    })
  }

  /** Resolves once every tail projector has applied the log as it is now (tests, benchmarks, shutdown). */
  async settled(): Promise<void> {
    const { logSize } = await this.lag(this.names[0] ?? '')
    await Promise.all(this.names.map((n) => this.waitFor(n, logSize)))
  }

  /** The committed log size and the projector's offset. */
  async lag(name: string, q: Queryable = this.deps.db): Promise<Lag> {
    const { rows } = await q.query<{ log_size: number; applied_size: number | null }>(
      `SELECT (SELECT size FROM log_sequence) AS log_size, (SELECT applied_size FROM projector_offsets WHERE projector = $1) AS applied_size`,
      [name],
    )
    const row = rows[0]!
    if (row.applied_size !== null) this.see(name, row.applied_size)
    return { logSize: row.log_size, appliedSize: row.applied_size ?? 0 }
  }

  /**
   * Waits until projector `name` has applied the log up to `size` (on any replica), or `timeoutMs`
   * passed, or the runner stopped; returns the receipts it is still behind `size` by.
   */
  async waitFor(name: string, size: number, timeoutMs = Infinity): Promise<number> {
    const have = (): number => this.known.get(name) ?? 0
    if (have() < size) await this.lag(name)
    if (have() < size && !this.stopped) {
      await new Promise<void>((resolve) => {
        const waiter = { name, size, resolve: () => finish() }
        const timer = Number.isFinite(timeoutMs) ? setTimeout(() => finish(), timeoutMs) : undefined
        const finish = (): void => {
          if (timer) clearTimeout(timer)
          this.waiters.delete(waiter)
          resolve()
        }
        this.waiters.add(waiter)
        // A notice that came between the read above and now: checked once more.
        if (have() >= size) finish()
      })
    }
    return Math.max(0, size - have())
  }

  private onNotice({ stream, seq }: ReceiptNotice): void {
    if (stream.startsWith(TAIL_NOTICE_PREFIX)) {
      this.see(stream.slice(TAIL_NOTICE_PREFIX.length), seq)
      return
    }
    // A receipt notice (or '*' after the LISTEN connection came back) means the log may have grown.
    if (!this.deps.projectors.some((p) => stream.startsWith(`${p.name}/`))) this.wake()
  }

  private see(name: string, size: number): void {
    if (size <= (this.known.get(name) ?? 0)) return
    this.known.set(name, size)
    for (const w of this.waiters) if (w.name === name && size >= w.size) w.resolve()
  }

  private async loop(): Promise<void> {
    // One statement to find who is behind: a wake after every append batch must not cost each projector
    // a transaction that finds nothing to do.
    let behind: ReadonlySet<string>
    try {
      behind = await this.behind()
    } catch {
      behind = new Set(this.names) // each step meets the error again, and reports it
    }
    for (const projector of this.deps.projectors) {
      if (!behind.has(projector.name)) continue
      try {
        while (!this.stopped && (await this.step(projector))) {
          // one batch per transaction until the projector has the committed log
        }
      } catch (error) {
        this.deps.onError?.(error, projector.name)
        // Retried later (a lost connection, a failover); the offset did not move, nothing is lost.
        if (!this.stopped && !this.retry) {
          this.retry = setTimeout(() => {
            this.retry = undefined
            this.wake()
          }, 1000)
          this.retry.unref()
        }
      }
    }
  }

  /**
   * The tail projectors whose offset is below the committed log size (noting every offset read). In the
   * same statement, a projector that has none of its stream types in the range it is behind by is moved
   * to the log's end, with its `tail/` notice: under 1,000 players' heartbeats (device streams, which no
   * tail projector reads) every append batch woke the runner, and each projector then spent a seven-
   * statement transaction to read nothing and move its offset — more round trips than the append itself.
   * The UPDATE takes the offset row's lock as a batch does (FOR UPDATE), so it waits for a batch under way
   * on another replica and then re-checks the row as that batch left it (READ COMMITTED); every position
   * below the committed size is committed, so the NOT EXISTS over them sees all there is.
   */
  private async behind(): Promise<Set<string>> {
    const { db, notifier, projectors } = this.deps
    const channel = notifier.channel
    const notify = channel ? `, pg_notify($3, o.applied_size || ' ${TAIL_NOTICE_PREFIX}' || o.projector)` : ''
    const { rows } = await db.query<{ projector: string; applied_size: number; log_size: number; advanced: boolean }>(
      `WITH s AS (SELECT size FROM log_sequence),
       p AS (SELECT * FROM unnest($1::text[], $2::text[]) AS p(projector, types)),
       idle AS (
         UPDATE projector_offsets o SET applied_size = s.size FROM s, p
         WHERE o.projector = p.projector AND p.types IS NOT NULL AND o.applied_size < s.size
           AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.position >= o.applied_size AND r.position < s.size
                           AND split_part(r.stream_key, '/', 1) = ANY(string_to_array(p.types, ',')))
         RETURNING o.projector, o.applied_size${notify})
       SELECT o.projector, coalesce(i.applied_size, o.applied_size) AS applied_size, s.size AS log_size,
              i.projector IS NOT NULL AS advanced
       FROM projector_offsets o CROSS JOIN s LEFT JOIN idle i ON i.projector = o.projector
       WHERE o.projector = ANY($1::text[])`,
      [this.names, projectors.map((p) => (p.streamTypes ? p.streamTypes.join(',') : null)), ...(channel ? [channel] : [])],
    )
    const out = new Set(this.names.filter((n) => !rows.some((r) => r.projector === n))) // no row yet: let step see
    for (const r of rows) {
      // Without a channel the notice is this process's to publish (with one, it went out at the COMMIT).
      if (r.advanced && !channel) notifier.publish({ stream: `${TAIL_NOTICE_PREFIX}${r.projector}`, seq: r.applied_size })
      this.see(r.projector, r.applied_size)
      if (r.applied_size < r.log_size) out.add(r.projector)
    }
    return out
  }

  /** Applies the next batch to `projector`; false when it already had the committed log. */
  private async step(projector: Projector): Promise<boolean> {
    const { db, notifier } = this.deps
    const local: ReceiptNotice[] = []
    const moved = await db.transaction(async (tx) => {
      const offset = await tx.query<{ applied_size: number }>(
        'SELECT applied_size FROM projector_offsets WHERE projector = $1 FOR UPDATE',
        [projector.name],
      )
      const from = offset.rows[0]?.applied_size ?? 0
      const { rows: sizeRows } = await tx.query<{ size: number }>('SELECT size FROM log_sequence')
      const to = Math.min(sizeRows[0]!.size, from + this.batchSize)
      if (to <= from) {
        this.see(projector.name, from)
        return undefined
      }
      const types = projector.streamTypes
      const rows = await tx.query<{ position: number; seq: number; stream_key: string; object_key: string; body: string; owner: string }>(
        `SELECT r.position, r.seq, r.stream_key, r.object_key, r.body, s.owner_identity_id AS owner
         FROM receipts r JOIN streams s ON s.stream_key = r.stream_key
         WHERE r.position >= $1 AND r.position < $2 ${types ? `AND split_part(r.stream_key, '/', 1) = ANY($3::text[])` : ''}
         ORDER BY r.position`,
        types ? [from, to, types] : [from, to],
      )
      const batch: ProjectedReceipt[] = rows.rows.map((r) => ({
        receipt: JSON.parse(r.body) as Receipt,
        body: r.body,
        streamKey: r.stream_key,
        seq: r.seq,
        position: r.position,
        objectKey: r.object_key,
        // The stream's owner now: tail projectors are derived views and read no ownership history.
        owner: r.owner,
      }))
      const announced = batch.length ? await projector.apply(tx, batch) : undefined
      await tx.query('UPDATE projector_offsets SET applied_size = $2 WHERE projector = $1', [projector.name, to])
      const notices = [...(announced ?? []), { stream: `${TAIL_NOTICE_PREFIX}${projector.name}`, seq: to }]
      if (notifier.channel) {
        // Delivered at COMMIT, to every replica: readers never hear of rows they cannot see yet.
        await tx.query('SELECT pg_notify($1, n) FROM unnest($2::text[]) AS n', [notifier.channel, notices.map(formatNotice)])
      } else local.push(...notices)
      return { to, more: to < sizeRows[0]!.size }
    })
    for (const notice of local) notifier.publish(notice)
    if (moved === undefined) return false
    this.see(projector.name, moved.to)
    // Caught up with the size read in the batch: a later commit wakes the runner again.
    return moved.more
  }
}
