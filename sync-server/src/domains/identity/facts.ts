/**
 * Loaders of the identity domain's facts (shared IDENTITY_FACTS) from the identity projector's inline
 * `identities` table: what IDENTITY_CREATED's rule records, so a rebuild and an offline replay agree.
 */
import { IDENTITY_FACTS } from '@pixpax/shared'
import type { FactLoader } from '../modules.js'

export const identityFacts: Readonly<Record<string, FactLoader>> = {
  [IDENTITY_FACTS.kind]: {
    sql: (n) => `SELECT json_agg(json_build_object('k', identity_id, 'v', kind)) FROM identities WHERE identity_id = ANY($${n}::text[])`,
  },
}
