/**
 * Loaders of the devices domain's facts (shared DEVICES_FACTS) from the devices projector's inline
 * `device_bindings` table. `devices.bound` is absent for an account with none, as `record` leaves it.
 */
import { DEVICES_FACTS } from '@pixpax/shared'
import type { FactLoader } from '../domains/modules.js'

export const devicesFacts: Readonly<Record<string, FactLoader>> = {
  [DEVICES_FACTS.bound]: {
    sql: (n) => `SELECT json_agg(json_build_object('k', b.account_id, 'v', b.n)) FROM (
        SELECT account_id, count(*)::int AS n FROM device_bindings WHERE account_id = ANY($${n}::text[]) GROUP BY account_id) b`,
  },
}
