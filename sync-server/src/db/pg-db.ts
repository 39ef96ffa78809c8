import pg from 'pg'
import type { ProjectionDb, Queryable, QueryResult } from './projection-db.js'
import { inlineParams } from './inline-params.js'
import { quoteSchema } from './schema-name.js'
import { TransactionScope } from './transaction-scope.js'
import { BYTEA_OID, INT8_ARRAY_OID, INT8_OID, parseInt8 } from './type-parsers.js'

export interface PgDbOptions {
  /** `postgres://user:pass@host:5432/db?sslmode=require` (DATABASE_URL). */
  connectionString: string
  /** Pool size (default 10). Each open transaction holds one connection until it ends. */
  max?: number
  /**
   * Schema to create (if missing) and use as the search_path of every connection: one per test file,
   * or per tenant. Set as a startup parameter (`options=-c search_path=…`), which PgBouncer in
   * transaction mode refuses; leave it unset behind such a pooler (production uses `public`).
   */
  schema?: string
  /** Called when an idle pooled connection fails (the pool drops it and reconnects on demand). */
  onError?: (err: Error) => void
}

/**
 * A pg client that turns JIT off once connected, before the pool hands it out. JIT compiles a plan in
 * ~100 ms: ruinous for the append path's short statements, whose row estimates on small, unanalyzed
 * tables can look large, and never worth it for the relay's queries. A session SET rather than a startup
 * option, which PgBouncer refuses; behind a transaction pooler it may not stick, which costs only speed.
 */
class RelayClient extends pg.Client {
  override connect(): Promise<pg.Client>
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void
  override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
    const ready = super.connect().then(async (client) => {
      await this.query('SET jit = off')
      return client
    })
    if (!callback) return ready
    ready.then(
      (client) => (callback as (err: null, c: pg.Client) => void)(null, client),
      (err: Error) => (callback as (err: Error) => void)(err),
    )
  }
}

/** Production projection database: Postgres through a `pg` pool. */
export class PgDb implements ProjectionDb {
  readonly name = 'pg'
  readonly #pool: pg.Pool
  /** A small second pool for queryOutsideTransaction (connections are opened on first use). */
  readonly #outside: pg.Pool
  readonly #scope = new TransactionScope()

  private constructor(pool: pg.Pool, outside: pg.Pool) {
    this.#pool = pool
    this.#outside = outside
  }

  static async open(options: PgDbOptions): Promise<PgDb> {
    const schema = options.schema !== undefined ? quoteSchema(options.schema) : undefined
    const config = (max: number): pg.PoolConfig => ({
      connectionString: options.connectionString,
      max,
      types: { getTypeParser: typeParser as pg.CustomTypesConfig['getTypeParser'] },
      ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
      Client: RelayClient,
    })
    const pool = new pg.Pool(config(options.max ?? 10))
    const outside = new pg.Pool(config(Math.max(2, Math.ceil((options.max ?? 10) / 4))))
    // Without a listener, an idle connection dropped by the server would crash the process.
    pool.on('error', options.onError ?? (() => {}))
    outside.on('error', options.onError ?? (() => {}))
    const db = new PgDb(pool, outside)
    try {
      if (schema !== undefined) await createSchema(pool, schema)
      else await pool.query('SELECT 1')
    } catch (err) {
      await pool.end()
      await outside.end()
      throw err
    }
    return db
  }

  /** Without `params`, `sql` may hold several statements; the result is the last one's. */
  async query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    this.#scope.assertOutside('query')
    return toQueryResult<R>(await this.#pool.query(sql, arrayLiterals(params)))
  }

  /**
   * One statement on a connection of its own (a separate small pool), committed when it returns, and
   * allowed inside a transaction callback: for writes that must be durable whatever becomes of the
   * surrounding transaction (append intents). A separate pool, so transactions holding every connection
   * of the main pool cannot starve it. It must not touch rows the calling transaction has changed: it
   * would wait for that transaction, which waits for it.
   */
  async queryOutsideTransaction<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return toQueryResult<R>(await this.#outside.query(sql, arrayLiterals(params)))
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.#scope.assertOutside('transaction')
    const client = await this.#pool.connect()
    // A connection whose BEGIN/COMMIT/ROLLBACK failed is in an unknown state: destroy, don't reuse.
    let broken: Error | undefined
    // A checked-out client that loses its connection emits 'error' besides failing the query; the pool
    // only listens on idle clients, and an unheard 'error' event would crash the process.
    const onError = (err: Error): void => {
      broken = err
    }
    client.on('error', onError)
    // BEGIN goes out with the first statement and COMMIT with queryThenCommit's, each one simple-query
    // round trip (inline-params.ts) where the parameters can be written as literals: a transaction of n
    // statements costs n round trips, not n + 2.
    let begun = false
    let committed = false
    const send = async (sql: string, params: unknown[] | undefined, finish: boolean): Promise<QueryResult<never>> => {
      const inlined = !begun || finish ? inlineParams(sql, params) : undefined
      const begin = begun ? '' : 'BEGIN;'
      begun = true
      if (finish) committed = true
      if (inlined !== undefined) {
        // One result per statement: [BEGIN,] the statement[, COMMIT].
        const results = (await client.query(`${begin}${inlined}${finish ? ';COMMIT' : ''}`)) as unknown as pg.QueryResult | pg.QueryResult[]
        return toQueryResult(Array.isArray(results) ? results[begin ? 1 : 0]! : results)
      }
      if (begin) await client.query('BEGIN')
      const result = toQueryResult<never>(await client.query(sql, arrayLiterals(params)))
      if (finish) await client.query('COMMIT')
      return result
    }
    try {
      let result: T
      try {
        result = await this.#scope.run(
          (sql, params) => send(sql, params, false),
          fn,
          (sql, params) => send(sql, params, true),
        )
      } catch (err) {
        if (begun) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => {
            broken = rollbackError
          })
        }
        // A statement sent with its COMMIT that got no answer may have committed or not.
        if (committed && !isServerError(err)) broken = err as Error
        throw err
      }
      if (!begun || committed) return result
      await client.query('COMMIT').catch((err: Error) => {
        // A COMMIT the server refuses (e.g. a deferred constraint) has rolled back; the connection is
        // fine. One that never got an answer might have committed or not: drop the connection.
        if (!isServerError(err)) broken = err
        throw err
      })
      return result
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }

  withLock<T>(lockKey: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.transaction(async (tx) => {
      // Transaction-scoped: released by COMMIT/ROLLBACK, or by the server if this connection dies.
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey])
      return fn(tx)
    })
  }

  #closed: Promise<void> | undefined

  /** Ends both pools; calling it again (an app's onClose, then its owner) is harmless. */
  close(): Promise<void> {
    this.#closed ??= Promise.all([this.#pool.end(), this.#outside.end()]).then(() => undefined)
    return this.#closed
  }
}

async function createSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
  } catch (err) {
    // Two processes creating it at once: IF NOT EXISTS still races on the catalog's unique index.
    const code = (err as { code?: string }).code
    if (code !== '23505' && code !== '42P06') throw err
  }
}

function isServerError(err: unknown): boolean {
  // pg's DatabaseError carries the server's SQLSTATE; connection failures don't.
  return err instanceof pg.DatabaseError
}

/**
 * Array parameters of strings, safe integers, booleans and nulls as Postgres array literals made by
 * JSON.stringify: `["a","b\"c",null,1]` → `{"a","b\"c",null,1}`, the same value as pg's own
 * literal (which quotes and escapes each element with two regex replaces; for the append path's
 * parameters — a receipt's whole JSON body among them — that was ~30 µs of main thread a receipt). JSON's
 * `\"` and `\\` are the array literal's escapes too; any other backslash escape (a control character, a
 * lone surrogate) is not, so such an array, like every other parameter, goes to pg as it is.
 */
export function arrayLiterals(params: unknown[] | undefined): unknown[] | undefined {
  if (!params) return params
  let out: unknown[] | undefined
  for (let i = 0; i < params.length; i++) {
    const value = params[i]
    if (!Array.isArray(value) || value.length === 0) continue
    const literal = arrayLiteral(value)
    if (literal === undefined) continue
    out ??= params.slice()
    out[i] = literal
  }
  return out ?? params
}

/**
 * What JSON.stringify escapes other than `"` and `\\`: control characters, and lone surrogates (any
 * surrogate here: a string with a pair goes the slow way too, which is only slower).
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const OTHER_ESCAPE = /[\u0000-\u001f\ud800-\udfff]/

function arrayLiteral(values: readonly unknown[]): string | undefined {
  for (const v of values) {
    if (v === null || typeof v === 'boolean') continue
    if (typeof v === 'string' && !OTHER_ESCAPE.test(v)) continue
    if (typeof v === 'number' && Number.isSafeInteger(v)) continue
    return undefined
  }
  return `{${JSON.stringify(values).slice(1, -1)}}`
}

/** pg returns an array of results for a multi-statement query; QueryResult is the last one. */
function toQueryResult<R>(result: pg.QueryResult | pg.QueryResult[]): QueryResult<R> {
  const last = Array.isArray(result) ? result.at(-1) : result
  if (last === undefined) return { rows: [], rowCount: 0 }
  return { rows: last.rows as R[], rowCount: last.rowCount ?? 0 }
}

const defaultParser = pg.types.getTypeParser as (oid: number, format: 'text' | 'binary') => (value: string) => unknown
const int8Array = (text: string): unknown =>
  (defaultParser(INT8_ARRAY_OID, 'text')(text) as (string | null)[]).map((v) => (v === null ? null : parseInt8(v)))
// A copy, not a view: small Buffers are slices of a shared pool.
const bytea = (text: string): Uint8Array => new Uint8Array(defaultParser(BYTEA_OID, 'text')(text) as Buffer)

/** See type-parsers.ts: the same result types as PgliteDb. */
function typeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (format === 'binary') return defaultParser(oid, format)
  if (oid === INT8_OID) return parseInt8
  if (oid === INT8_ARRAY_OID) return int8Array
  if (oid === BYTEA_OID) return bytea
  return defaultParser(oid, 'text')
}
