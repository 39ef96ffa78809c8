/**
 * The projection database: Postgres in production (`pg`), PGlite embedded. Only projection code writes
 * to it, and everything in it except sessions can be dropped and rebuilt from the object store.
 */
export interface QueryResult<R> {
  rows: R[]
  rowCount: number
}

export interface Queryable {
  /**
   * Runs `sql` with `$1…` bound to `params`. Without params, `sql` may hold several statements
   * (migrations) and the result is the last one's. `rowCount` is pg's: rows returned, else rows
   * affected, 0 for DDL. Result types are the same on pg and PGlite (src/db/type-parsers.ts): int8 is
   * a number (an error beyond 2^53), bytea a Uint8Array, timestamptz a Date, numeric a string.
   */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>
  /**
   * Inside a transaction callback only, and optional: runs `sql` as the transaction's last statement and
   * commits — on pg in one round trip with the COMMIT. Nothing may be queried on `tx` after it. Callers
   * fall back to `query` where it is missing (PGlite: no round trips to save).
   */
  queryThenCommit?<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>
}

export interface ProjectionDb extends Queryable {
  /** `pg` or `pglite`. */
  readonly name: string
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK if it throws) on one connection. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /**
   * Runs `fn` in a transaction that holds a transaction-scoped advisory lock on `lockKey`
   * (`pg_advisory_xact_lock(hashtextextended(lockKey, 0))`), so every relay replica sharing the database
   * serializes work on that key — per-stream appends (ARCHITECTURE §4).
   */
  withLock<T>(lockKey: string, fn: (tx: Queryable) => Promise<T>): Promise<T>
  /**
   * pg only: one statement on another connection, committed on return, callable inside a transaction
   * callback (append intents must be durable before the objects are written). PGlite has one connection.
   */
  queryOutsideTransaction?<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>
  /** LISTEN/NOTIFY hook for live fan-out: optional, pg only (PGlite is single-process). */
  close(): Promise<void>
}
