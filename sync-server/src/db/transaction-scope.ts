import { AsyncLocalStorage } from 'node:async_hooks'
import type { Queryable, QueryResult } from './projection-db.js'

type RunQuery = (sql: string, params?: unknown[]) => Promise<QueryResult<never>>

/**
 * The first check needs AsyncLocalStorage, and on Node 20 one in use turns on promise hooks for the
 * whole process: every promise then costs several times as much (measured: 2M awaits 0.8 s → 2.5–3.5 s),
 * a large share of a relay's CPU under load. So it is on where mistakes are caught — under vitest, or with
 * PIXPAX_DB_GUARD=1 — and off in a relay serving users (PIXPAX_DB_GUARD=0 turns it off anywhere). The
 * second check of TransactionScope costs nothing and is always on.
 */
export const DB_GUARD = process.env.PIXPAX_DB_GUARD === '1' || (process.env.PIXPAX_DB_GUARD !== '0' && process.env.VITEST !== undefined)

/**
 * Guards the two classic transaction mistakes, identically for pg and PGlite (the first one only where
 * DB_GUARD is on):
 * - calling `db.query`/`db.transaction` from inside a transaction callback instead of `tx.query`:
 *   on pg it silently runs outside the transaction (and can exhaust the pool), on PGlite (one
 *   connection) it would wait for the transaction it is part of, forever. Here it throws.
 * - keeping `tx` after the callback returned: on pg the connection is back in the pool, serving
 *   someone else. Here it throws.
 */
export class TransactionScope {
  readonly #current = DB_GUARD ? new AsyncLocalStorage<{ open: boolean }>() : undefined

  assertOutside(method: string): void {
    if (this.#current?.getStore()?.open) {
      throw new Error(
        `db.${method}() called inside a transaction callback of the same database: use the \`tx\` ` +
          'the callback received (db-level calls would run outside the transaction, or deadlock on PGlite)',
      )
    }
  }

  /** `queryThenCommit`, where the database has it, runs a statement with the COMMIT. */
  async run<T>(query: RunQuery, fn: (tx: Queryable) => Promise<T>, queryThenCommit?: RunQuery): Promise<T> {
    const state = { open: true, committed: false }
    const check = () => {
      if (!state.open) throw new Error('transaction already finished: `tx` used after its callback returned')
      if (state.committed) throw new Error('transaction already committed: `tx` used after queryThenCommit')
    }
    const tx: Queryable = {
      query: async <R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
        check()
        return await query(sql, params)
      },
      ...(queryThenCommit
        ? {
            queryThenCommit: async <R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
              check()
              state.committed = true
              return await queryThenCommit(sql, params)
            },
          }
        : {}),
    }
    try {
      return await (this.#current ? this.#current.run(state, () => fn(tx)) : fn(tx))
    } finally {
      state.open = false
    }
  }
}
