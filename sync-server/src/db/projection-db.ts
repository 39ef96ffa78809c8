/**
 * The projection database: Postgres in production (`pg`), PGlite embedded. Only projection code writes
 * to it, and everything in it except sessions can be dropped and rebuilt from the object store.
 */
export interface QueryResult<R> {
  rows: R[]
  rowCount: number
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>
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
  /** LISTEN/NOTIFY hook for live fan-out: optional, pg only (PGlite is single-process). */
  close(): Promise<void>
}
