/**
 * A ProjectionDb decorator that counts the statements sent to the database: every `query` on the db,
 * on each `tx` its transactions hand out, and `queryOutsideTransaction`; each transaction adds its BEGIN
 * and its COMMIT (or ROLLBACK). For tests and benchmarks that pin the round trips of a code path (e.g.
 * statements per append batch, test/ingest-round-trips.test.ts). It changes nothing else: `name`, and
 * whether `queryOutsideTransaction` exists, are the wrapped database's.
 */
import type { ProjectionDb, Queryable, QueryResult } from './projection-db.js'

export interface StatementCounts {
  /** `query` calls, on the db and on every `tx`. */
  readonly queries: number
  /** `queryOutsideTransaction` calls. */
  readonly outside: number
  /** Transactions opened (`transaction` and `withLock`). */
  readonly transactions: number
  /** Everything sent: queries + outside + BEGIN and COMMIT/ROLLBACK of each transaction. */
  readonly statements: number
}

/** One statement as recorded (with `record: true`): where it ran and its SQL, whitespace collapsed. */
export interface RecordedStatement {
  readonly where: 'db' | 'tx' | 'outside'
  readonly sql: string
}

export class CountingDb implements ProjectionDb {
  #queries = 0
  #outside = 0
  #transactions = 0
  /** Statements since the last reset, when recording. */
  readonly recorded: RecordedStatement[] = []
  readonly queryOutsideTransaction?: <R = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<QueryResult<R>>

  constructor(
    readonly inner: ProjectionDb,
    private readonly options: { record?: boolean } = {},
  ) {
    const outside = inner.queryOutsideTransaction?.bind(inner)
    if (outside) {
      this.queryOutsideTransaction = <R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
        this.#outside++
        this.#record('outside', sql)
        return outside<R>(sql, params)
      }
    }
  }

  get name(): string {
    return this.inner.name
  }

  /** Counts since construction or the last `reset`. */
  counts(): StatementCounts {
    return {
      queries: this.#queries,
      outside: this.#outside,
      transactions: this.#transactions,
      statements: this.#queries + this.#outside + 2 * this.#transactions,
    }
  }

  reset(): void {
    this.#queries = 0
    this.#outside = 0
    this.#transactions = 0
    this.recorded.length = 0
  }

  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.#queries++
    this.#record('db', sql)
    return this.inner.query<R>(sql, params)
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.#transactions++
    this.#record('tx', 'BEGIN')
    return this.#ended(this.inner.transaction((tx) => fn(this.#wrap(tx))))
  }

  withLock<T>(lockKey: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // The inner withLock runs BEGIN, the lock statement, fn, COMMIT.
    this.#transactions++
    this.#queries++
    this.#record('tx', 'BEGIN')
    this.#record('tx', `SELECT pg_advisory_xact_lock(hashtextextended(${JSON.stringify(lockKey)}, 0))`)
    return this.#ended(this.inner.withLock(lockKey, (tx) => fn(this.#wrap(tx))))
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  #wrap(tx: Queryable): Queryable {
    return {
      query: <R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
        this.#queries++
        this.#record('tx', sql)
        return tx.query<R>(sql, params)
      },
    }
  }

  /** Records the end of a transaction (COMMIT, or ROLLBACK when its callback or COMMIT threw). */
  #ended<T>(done: Promise<T>): Promise<T> {
    return done.then(
      (value) => {
        this.#record('tx', 'COMMIT')
        return value
      },
      (error: unknown) => {
        this.#record('tx', 'ROLLBACK')
        throw error
      },
    )
  }

  #record(where: RecordedStatement['where'], sql: string): void {
    if (this.options.record) this.recorded.push({ where, sql: sql.replace(/\s+/g, ' ').trim() })
  }
}
