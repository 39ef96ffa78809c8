/**
 * Facts of one kind as the economy's rules see them (the same loaders, facts.ts), for routes that derive
 * what they sign from the current state: a drop's pack, a code's pack.
 */
import type { Queryable } from '../../db/projection-db.js'
import { economyFacts } from './facts.js'

export async function loadFacts<T>(db: Queryable, kind: string, keys: string[]): Promise<Map<string, T>> {
  if (!keys.length) return new Map()
  const { rows } = await db.query<{ f: Array<{ k: string; v: T }> | string | null }>(`SELECT (${economyFacts[kind]!.sql(1)}) AS f`, [keys])
  const raw = rows[0]?.f
  const list = typeof raw === 'string' ? (JSON.parse(raw) as Array<{ k: string; v: T }>) : (raw ?? [])
  return new Map(list.map((x) => [x.k, x.v]))
}
