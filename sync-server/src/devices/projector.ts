/**
 * The devices projector: each device's newest report from its own stream (`device/{identityId}`). Inline,
 * so `GET /v1/devices` sees a heartbeat as soon as it is acknowledged.
 */
import type { Queryable } from '../db/projection-db.js'
import { lastByKey, unnestRows, type ProjectedReceipt, type Projector } from '../projection/projector.js'

export const devicesProjector: Projector = {
  name: 'devices',
  mode: 'inline',
  tables: [{ name: 'device_status', orderBy: 'device_identity_id' }],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    const reports = batch.filter((r) => r.receipt.type === 'DEVICE_REGISTERED' || r.receipt.type === 'DEVICE_STATUS')
    if (reports.length === 0) return
    const latest = lastByKey(reports, (r) => r.receipt.stream.identityId!)
    const rows = [...latest.values()].map(({ receipt: r, position }) => {
      const p = r.payload as { capabilities: unknown; state?: string; artwork?: string }
      const status = r.type === 'DEVICE_STATUS' ? JSON.stringify(p) : null
      return [r.stream.identityId, JSON.stringify(p.capabilities), p.state ?? 'unpaired', p.artwork ?? null, status, r.createdAt, position]
    })
    const v = unnestRows(
      [
        ['device_identity_id', 'text'],
        ['capabilities', 'jsonb'],
        ['state', 'text'],
        ['artwork', 'text'],
        ['status', 'jsonb'],
        ['reported_at', 'text'],
        ['position', 'int8'],
      ],
      rows,
    )
    await tx.query(
      `INSERT INTO device_status (${v.names}) SELECT * FROM ${v.from}
       ON CONFLICT (device_identity_id) DO UPDATE SET capabilities = EXCLUDED.capabilities, state = EXCLUDED.state,
         artwork = EXCLUDED.artwork, status = EXCLUDED.status, reported_at = EXCLUDED.reported_at, position = EXCLUDED.position`,
      v.params,
    )
  },
}
