/**
 * The facts a batch's cross-stream rules read (ARCHITECTURE §7), loaded from the domains' inline
 * projections under an exclusive advisory lock per fact — so two replicas never decide on one fact at
 * once — and then kept in memory while the batch is evaluated, `record` by `record`.
 *
 * Loading goes in rounds: a rule's reads may depend on facts (a post, then its author's blocks), so each
 * round loads what the reads name given the facts so far, until they name nothing new. The first round
 * (what the receipts alone name) is locked with the streams, in the batch's one lock statement.
 */
import { crossStreamRule, type CheckedReceipt, type FactChange, type FactRef, type FactView } from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import { FACT_LOADERS } from '../domains/modules.js'

/** Rounds of dependent reads a batch may need; a rule needing more is a bug in the rule. */
const MAX_ROUNDS = 4

const tag = (kind: string, key: string): string => `${kind}\n${key}`

/** The advisory-lock key of a fact (the stream locks' key space, with a prefix no stream key has). */
export const factLock = (ref: FactRef): string => `fact:${ref.kind}:${ref.key}`

/** What the batch's receipts read before any fact is known: the first round, locked with the streams. */
export function firstReads(receipts: readonly CheckedReceipt[]): FactRef[] {
  const out = new Map<string, FactRef>()
  const none: FactView = { fact: () => undefined, knows: () => true }
  for (const checked of receipts) {
    for (const ref of crossStreamRule(checked)?.reads(checked, none) ?? []) out.set(tag(ref.kind, ref.key), ref)
  }
  return [...out.values()]
}

/**
 * SQL for loading `refs` as one json object (`{kind: [{k, v}]}`), its parameters starting at `$first`:
 * an expression for a larger query's select list.
 */
export function factsQuery(refs: readonly FactRef[], first: number): { sql: string; params: string[][] } {
  const byKind = new Map<string, string[]>()
  for (const { kind, key } of refs) byKind.set(kind, [...(byKind.get(kind) ?? []), key])
  const parts: string[] = []
  const params: string[][] = []
  for (const [kind, keys] of byKind) {
    const loader = FACT_LOADERS.get(kind)
    if (!loader) throw new Error(`no relay module loads facts of kind ${kind}`)
    parts.push(`'${kind.replaceAll("'", "''")}', coalesce((${loader.sql(first + params.length)}), '[]'::json)`)
    params.push(keys)
  }
  return { sql: parts.length ? `json_build_object(${parts.join(', ')})` : `'{}'::json`, params }
}

type LoadedFacts = Record<string, Array<{ k: string; v: unknown }>>

export class BatchFacts implements FactView {
  private readonly values = new Map<string, unknown>()
  private readonly loaded = new Set<string>()

  fact(kind: string, key: string): unknown {
    return this.values.get(tag(kind, key))
  }
  knows(): boolean {
    return true
  }

  /** Takes in the rows of a facts query for `refs` (absent keys become loaded absent facts). */
  receive(refs: readonly FactRef[], raw: LoadedFacts | string | null | undefined): void {
    const rows: LoadedFacts = typeof raw === 'string' ? (JSON.parse(raw) as LoadedFacts) : (raw ?? {})
    for (const ref of refs) this.loaded.add(tag(ref.kind, ref.key))
    for (const [kind, list] of Object.entries(rows)) for (const { k, v } of list) this.values.set(tag(kind, k), v)
  }

  /**
   * Loads, in rounds, every fact the receipts' rules read and this batch has not loaded yet: for each
   * round one lock statement, then one load (a statement of its own, so its snapshot follows the locks).
   */
  async ensure(tx: Queryable, receipts: readonly CheckedReceipt[]): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const missing = new Map<string, FactRef>()
      for (const checked of receipts) {
        for (const ref of crossStreamRule(checked)?.reads(checked, this) ?? []) {
          const t = tag(ref.kind, ref.key)
          if (!this.loaded.has(t)) missing.set(t, ref)
        }
      }
      if (missing.size === 0) return
      const refs = [...missing.values()]
      const locks = refs.map(factLock).sort()
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n', [
        locks,
      ])
      const { sql, params } = factsQuery(refs, 1)
      const { rows } = await tx.query<{ facts: LoadedFacts | string }>(`SELECT ${sql} AS facts`, params)
      this.receive(refs, rows[0]?.facts)
    }
    throw new Error(`cross-stream reads still name new facts after ${MAX_ROUNDS} rounds`)
  }

  /** An accepted receipt's changes; a change to a fact its rule did not read is a bug in the rule. */
  apply(changes: readonly FactChange[]): void {
    for (const { kind, key, value } of changes) {
      const t = tag(kind, key)
      if (!this.loaded.has(t)) throw new Error(`a rule changed fact ${kind} ${key} without reading it`)
      if (value === undefined) this.values.delete(t)
      else this.values.set(t, value)
    }
  }
}
