/**
 * The loader of `devices.lastView` (shared DEVICE_VIEW_FACTS): a device's latest accepted view, read
 * from `device_views` by its primary key (device, viewed_at_ms) — the same `{at, artwork}` the rule's
 * `record` keeps; absent for a device that has reported none.
 */
import { DEVICE_VIEW_FACTS } from '@pixpax/shared'
import type { FactLoader } from '../../domains/modules.js'

export const deviceViewsFacts: Readonly<Record<string, FactLoader>> = {
  [DEVICE_VIEW_FACTS.lastView]: {
    sql: (
      n,
    ) => `SELECT json_agg(json_build_object('k', l.device_identity_id, 'v', json_build_object('at', l.viewed_at_ms, 'artwork', l.artwork)))
      FROM (SELECT DISTINCT ON (device_identity_id) device_identity_id, viewed_at_ms, artwork FROM device_views
             WHERE device_identity_id = ANY($${n}::text[]) ORDER BY device_identity_id, viewed_at_ms DESC) l`,
  },
}
