/**
 * The device views projector, inline: every view of every DEVICE_VIEWS batch becomes a `device_views`
 * row, in the append transaction — so the `devices.lastView` fact (facts.ts) that the next batch's rule
 * reads is current, and the owner's counts move as soon as the batch is acknowledged.
 */
import type { DeviceViews } from '@pixpax/shared'
import type { Queryable } from '../../db/projection-db.js'
import { unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'

export const deviceViewsProjector: Projector = {
  name: 'device-views',
  mode: 'inline',
  tables: [{ name: 'device_views', orderBy: 'device_identity_id, viewed_at_ms' }],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    const rows: unknown[][] = []
    for (const { receipt: r, position } of batch) {
      if (r.type !== 'DEVICE_VIEWS') continue
      for (const v of (r.payload as DeviceViews).views) {
        rows.push([
          r.stream.identityId,
          Date.parse(v.viewedAt),
          v.viewedAt,
          v.artwork,
          v.postId ?? null,
          v.channel ?? null,
          v.clockUnsynced === true,
          r.eventId,
          position,
        ])
      }
    }
    if (rows.length === 0) return
    const v = unnestRows(
      [
        ['device_identity_id', 'text'],
        ['viewed_at_ms', 'int8'],
        ['viewed_at', 'text'],
        ['artwork', 'text'],
        ['post_id', 'text'],
        ['channel', 'text'],
        ['clock_unsynced', 'bool'],
        ['event_id', 'text'],
        ['position', 'int8'],
      ],
      rows,
    )
    await tx.query(`INSERT INTO device_views (${v.names}) SELECT * FROM ${v.from}`, v.params)
  },
}
