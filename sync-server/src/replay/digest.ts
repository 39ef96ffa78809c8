import { createHash } from 'node:crypto'
import type { Queryable } from '../db/projection-db.js'
import { PROJECTION_TABLES } from '../domains/modules.js'

/**
 * A digest of every projection table's rows in a fixed order: SHA-256 over `table\n` + each row as
 * Postgres renders it with row_to_json. Equal digests before and after `rebuild` prove the projection
 * is a deterministic function of the object store.
 */
export async function projectionDigest(
  db: Queryable,
): Promise<{ digest: string; tables: Record<string, { rows: number; digest: string }> }> {
  const all = createHash('sha256')
  const tables: Record<string, { rows: number; digest: string }> = {}
  for (const { name, orderBy } of PROJECTION_TABLES) {
    const h = createHash('sha256')
    const rows = await db.query<{ r: string }>(`SELECT row_to_json(t)::text AS r FROM ${name} t ORDER BY ${orderBy}`)
    for (const row of rows.rows) h.update(row.r).update('\n')
    const digest = h.digest('hex')
    tables[name] = { rows: rows.rows.length, digest }
    all.update(`${name} ${rows.rows.length} ${digest}\n`)
  }
  return { digest: 'sha256:' + all.digest('hex'), tables }
}
