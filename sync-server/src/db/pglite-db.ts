import { PGlite, type Results } from '@electric-sql/pglite'
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm'
import { Mutex } from './mutex.js'
import type { ProjectionDb, Queryable, QueryResult } from './projection-db.js'
import { TransactionScope } from './transaction-scope.js'
import { INT8_OID, parseInt8 } from './type-parsers.js'
import { quoteSchema } from './schema-name.js'

export interface PgliteDbOptions {
  /** Directory for the database files; omitted: in memory. */
  dataDir?: string
  /** Schema to create (if missing) and put first on the search_path, as PgDb does. */
  schema?: string
}

/**
 * The embedded projection database: PGlite (Postgres compiled to WASM) in this process.
 *
 * PGlite has a single connection, so a transaction is "BEGIN, the caller's statements, COMMIT" on
 * that connection, and everything else must wait: every query and transaction goes through one FIFO
 * mutex, so no caller's statement ever lands inside someone else's transaction.
 */
export class PgliteDb implements ProjectionDb {
  readonly name = 'pglite'
  readonly #pg: PGlite
  readonly #mutex = new Mutex()
  readonly #scope = new TransactionScope()

  private constructor(pg: PGlite) {
    this.#pg = pg
  }

  static async open(options: PgliteDbOptions = {}): Promise<PgliteDb> {
    const pg = await PGlite.create({
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      parsers: { [INT8_OID]: parseInt8 },
      // Trigram similarity for social search (the social migration creates the extension).
      extensions: { pg_trgm },
    })
    const db = new PgliteDb(pg)
    if (options.schema !== undefined) {
      const schema = quoteSchema(options.schema)
      // One connection, so a session-level SET holds for every later statement.
      await db.query(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`)
    }
    return db
  }

  /** Without `params`, `sql` may hold several statements; the result is the last one's. */
  async query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.#scope.assertOutside('query')
    return this.#mutex.run(() => this.#run<R>(sql, params))
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.#scope.assertOutside('transaction')
    return this.#mutex.run(async () => {
      await this.#run('BEGIN')
      let result: T
      try {
        result = await this.#scope.run((sql, params) => this.#run(sql, params), fn)
      } catch (err) {
        await this.#run('ROLLBACK').catch((rollbackError: unknown) => {
          throw new Error('ROLLBACK failed after the transaction callback threw', { cause: [err, rollbackError] })
        })
        throw err
      }
      await this.#run('COMMIT') // if COMMIT fails, Postgres has already rolled back
      return result
    })
  }

  withLock<T>(lockKey: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // This process is PGlite's only client, so the mutex alone serializes; the lock keeps the SQL
    // identical to PgDb's, so the embedded setup runs exactly what production runs.
    return this.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey])
      return fn(tx)
    })
  }

  async close(): Promise<void> {
    await this.#mutex.run(async () => {
      if (!this.#pg.closed) await this.#pg.close()
    })
  }

  async #run<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (params === undefined || params.length === 0) {
      // Simple-query protocol, like pg without parameters: allows several statements (migrations).
      const results = await this.#pg.exec(sql)
      const last = results.at(-1)
      return last ? toQueryResult<R>(last as Results<R>) : { rows: [], rowCount: 0 }
    }
    return toQueryResult<R>(await this.#pg.query<R>(sql, params))
  }
}

/** pg's rowCount: rows returned if the statement returns rows, else rows affected (0 for DDL). */
function toQueryResult<R>(r: Results<R>): QueryResult<R> {
  return { rows: r.rows, rowCount: r.fields.length > 0 ? r.rows.length : (r.affectedRows ?? 0) }
}
