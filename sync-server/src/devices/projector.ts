/**
 * The devices projector, inline: each device's newest report from its own stream (`device/{identityId}`),
 * so `GET /v1/devices` sees a heartbeat as soon as it is acknowledged; and the open pairing streams
 * (`device_bindings`), which the `devices.bound` fact counts for the rule on DEVICE_PAIRED.
 */
import type { Queryable } from '../db/projection-db.js'
import { lastByKey, unnestRows, type ProjectedReceipt, type Projector } from '../projection/projector.js'

export const devicesProjector: Projector = {
  name: 'devices',
  mode: 'inline',
  tables: [
    { name: 'device_status', orderBy: 'device_identity_id' },
    { name: 'device_bindings', orderBy: 'account_id, device_identity_id' },
  ],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    await applyBindings(tx, batch)
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

/** DEVICE_PAIRED opens a binding, DEVICE_UNPAIRED closes it; a batch folds to the last act per stream. */
async function applyBindings(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
  const acts = batch.filter((r) => r.receipt.type === 'DEVICE_PAIRED' || r.receipt.type === 'DEVICE_UNPAIRED')
  if (acts.length === 0) return
  const last = [...lastByKey(acts, (r) => r.streamKey).values()]
  const closed = last.filter((r) => r.receipt.type === 'DEVICE_UNPAIRED')
  const opened = last.filter((r) => r.receipt.type === 'DEVICE_PAIRED')
  if (closed.length) {
    await tx.query(
      'DELETE FROM device_bindings b USING unnest($1::text[], $2::text[]) AS v(a, d) WHERE b.account_id = v.a AND b.device_identity_id = v.d',
      [closed.map((r) => r.receipt.stream.accountId), closed.map((r) => r.receipt.stream.deviceIdentityId)],
    )
  }
  if (opened.length) {
    const v = unnestRows(
      [
        ['device_identity_id', 'text'],
        ['account_id', 'text'],
        ['paired_event_id', 'text'],
        ['position', 'int8'],
      ],
      opened.map((r) => [r.receipt.stream.deviceIdentityId, r.receipt.stream.accountId, r.receipt.eventId, r.position]),
    )
    await tx.query(`INSERT INTO device_bindings (${v.names}) SELECT * FROM ${v.from}`, v.params)
  }
}
