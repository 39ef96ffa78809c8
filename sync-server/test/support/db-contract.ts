import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { migrate, readMigrations } from '../../src/db/migrate.js'
import type { ProjectionDb } from '../../src/db/projection-db.js'

export interface ProjectionDbFixture {
  /** An empty database (or schema). */
  db: ProjectionDb
  /**
   * A second handle on the same database, as a second relay process would have (its own pool). For
   * PGlite, which one process owns, the same handle.
   */
  peer: ProjectionDb
  /** Tears down both handles and whatever was created. */
  done: () => Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Writes `files` (name → SQL) into a fresh temp directory; returns it. */
export async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-migrations-'))
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql)
  return dir
}

/** The ProjectionDb conformance suite: pg and PGlite must behave the same to projection code. */
export function runProjectionDbContract(name: string, setup: () => Promise<ProjectionDbFixture>): void {
  describe(`ProjectionDb contract: ${name}`, () => {
    let db: ProjectionDb
    let peer: ProjectionDb
    let done: () => Promise<void>
    const dirs: string[] = []

    beforeEach(async () => {
      ;({ db, peer, done } = await setup())
    })
    afterEach(async () => {
      await done()
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
    })

    async function tempMigrations(files: Record<string, string>): Promise<string> {
      const dir = await migrationsDir(files)
      dirs.push(dir)
      return dir
    }

    it('runs parameterized queries and reports rowCount as pg does', async () => {
      expect((await db.query('CREATE TABLE t (id int PRIMARY KEY, label text)')).rowCount).toBe(0)
      const insert = await db.query('INSERT INTO t VALUES ($1, $2), ($3, $4)', [1, 'one', 2, 'two'])
      expect(insert).toEqual({ rows: [], rowCount: 2 })
      const select = await db.query<{ id: number; label: string }>('SELECT id, label FROM t ORDER BY id')
      expect(select).toEqual({
        rows: [
          { id: 1, label: 'one' },
          { id: 2, label: 'two' },
        ],
        rowCount: 2,
      })
      expect((await db.query('SELECT * FROM t WHERE id = $1', [99])).rowCount).toBe(0)
      expect((await db.query('UPDATE t SET label = $1', ['x'])).rowCount).toBe(2)
      const returning = await db.query('INSERT INTO t VALUES ($1, $2) RETURNING id', [3, 'three'])
      expect(returning).toEqual({ rows: [{ id: 3 }], rowCount: 1 })
      expect((await db.query('DELETE FROM t WHERE id > $1', [1])).rowCount).toBe(2)
      await expect(db.query('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/)
      await expect(db.query('INSERT INTO t VALUES ($1, $2)', [1, 'dup'])).rejects.toThrow()
      expect((await db.query('SELECT count(*) AS n FROM t')).rows).toEqual([{ n: 1 }])
    })

    it('returns the same JS types on every implementation', async () => {
      const { rows } = await db.query(
        `SELECT 9007199254740991::int8 AS big, -9007199254740991::int8 AS neg, 42::int4 AS i4,
                ARRAY[1, 2]::int8[] AS arr8, 12.50::numeric AS num, '{"a":[1,"x"]}'::jsonb AS doc,
                '{"b":2}'::json AS js, '2026-02-24T12:34:56.789Z'::timestamptz AS at,
                $1::bytea AS bin, ARRAY['a','b'] AS texts, true AS flag, NULL::text AS nothing,
                count(*) AS n`,
        [new Uint8Array([0, 1, 254, 255])],
      )
      const row = rows[0]!
      expect(row['big']).toBe(9007199254740991)
      expect(row['neg']).toBe(-9007199254740991)
      expect(row['i4']).toBe(42)
      expect(row['arr8']).toEqual([1, 2])
      expect(row['num']).toBe('12.50')
      expect(row['doc']).toEqual({ a: [1, 'x'] })
      expect(row['js']).toEqual({ b: 2 })
      expect(row['at']).toEqual(new Date('2026-02-24T12:34:56.789Z'))
      expect(row['bin']).toBeInstanceOf(Uint8Array)
      expect(Buffer.isBuffer(row['bin'])).toBe(false)
      expect([...(row['bin'] as Uint8Array)]).toEqual([0, 1, 254, 255])
      expect(row['texts']).toEqual(['a', 'b'])
      expect(row['flag']).toBe(true)
      expect(row['nothing']).toBeNull()
      expect(row['n']).toBe(1)
      // int8 beyond 2^53 must fail loudly rather than round
      await expect(db.query('SELECT 9007199254740993::int8 AS x')).rejects.toThrow(/safe integer/)
      await expect(db.query('SELECT 1 AS ok')).resolves.toEqual({ rows: [{ ok: 1 }], rowCount: 1 })
    })

    it('runs several statements when there are no parameters, returning the last result', async () => {
      const r = await db.query('CREATE TABLE m (x int); INSERT INTO m VALUES (1), (2); SELECT sum(x)::int AS s FROM m')
      expect(r).toEqual({ rows: [{ s: 3 }], rowCount: 1 })
    })

    it('commits a transaction', async () => {
      await db.query('CREATE TABLE c (x int)')
      const out = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO c VALUES ($1)', [1])
        await tx.query('INSERT INTO c VALUES ($1)', [2])
        return (await tx.query<{ n: number }>('SELECT count(*) AS n FROM c')).rows[0]!.n
      })
      expect(out).toBe(2)
      expect((await peer.query('SELECT x FROM c ORDER BY x')).rows).toEqual([{ x: 1 }, { x: 2 }])
    })

    it('rolls back when the callback throws, rethrowing the same error', async () => {
      await db.query('CREATE TABLE r (x int)')
      const boom = new Error('boom')
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO r VALUES (1)')
          throw boom
        }),
      ).rejects.toBe(boom)
      expect((await db.query('SELECT * FROM r')).rows).toEqual([])
      // after an SQL error inside the transaction, too; and the connection is usable afterwards
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO r VALUES (2)')
          await tx.query('INSERT INTO r VALUES ($1)', ['not a number'])
        }),
      ).rejects.toThrow()
      expect((await db.query('SELECT * FROM r')).rows).toEqual([])
      await db.transaction((tx) => tx.query('INSERT INTO r VALUES (3)'))
      expect((await db.query('SELECT x FROM r')).rows).toEqual([{ x: 3 }])
    })

    it('hides uncommitted writes from other connections', async () => {
      await db.query('CREATE TABLE iso (x int)')
      let release!: () => void
      const gate = new Promise<void>((r) => (release = r))
      let inserted!: () => void
      const insertedP = new Promise<void>((r) => (inserted = r))
      const writer = db.transaction(async (tx) => {
        await tx.query('INSERT INTO iso VALUES (1)')
        inserted()
        await gate
      })
      await insertedP
      if (peer !== db) {
        expect((await peer.query('SELECT * FROM iso')).rows).toEqual([])
        release()
      } else {
        // One connection: a query waits for the transaction to end instead of seeing inside it.
        const reader = peer.query('SELECT * FROM iso')
        await sleep(30)
        release()
        expect((await reader).rows).toEqual([{ x: 1 }])
      }
      await writer
      expect((await peer.query('SELECT * FROM iso')).rows).toEqual([{ x: 1 }])
    })

    it('refuses db calls from inside a transaction callback, and tx after it ended', async () => {
      let leaked: { query: (sql: string) => Promise<unknown> } | undefined
      await expect(db.transaction(async () => db.query('SELECT 1'))).rejects.toThrow(/use the `tx`/)
      await expect(db.transaction(async () => db.transaction(async () => 1))).rejects.toThrow(/use the `tx`/)
      await expect(db.withLock('k', async () => db.withLock('k', async () => 1))).rejects.toThrow(/use the `tx`/)
      await db.transaction(async (tx) => {
        leaked = tx
      })
      await expect(leaked!.query('SELECT 1')).rejects.toThrow(/already finished/)
      // work started inside a transaction but running after it is fine
      let later: Promise<unknown> | undefined
      await db.transaction(async () => {
        later = sleep(20).then(() => db.query('SELECT 1 AS one'))
      })
      await expect(later).resolves.toEqual({ rows: [{ one: 1 }], rowCount: 1 })
    })

    it('never interleaves concurrent transactions', async () => {
      await db.query('CREATE TABLE steps (txn int, step int)')
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? db : peer).transaction(async (tx) => {
            await tx.query('INSERT INTO steps VALUES ($1, 1)', [i])
            await sleep(5)
            await tx.query('INSERT INTO steps VALUES ($1, 2)', [i])
            if (i % 3 === 0) throw new Error(`abort ${i}`)
          }),
        ),
      )
      expect(results.map((r) => r.status)).toEqual(Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 'rejected' : 'fulfilled')))
      const { rows } = await db.query<{ txn: number; n: number }>('SELECT txn, count(*)::int AS n FROM steps GROUP BY txn ORDER BY txn')
      expect(rows).toEqual(
        Array.from({ length: 12 }, (_, i) => i)
          .filter((i) => i % 3 !== 0)
          .map((txn) => ({ txn, n: 2 })),
      )
    })

    it('withLock serializes critical sections on one key across handles (no lost updates)', async () => {
      await db.query('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0)')
      let inside = 0
      let maxInside = 0
      const spans: [number, number][] = []
      const section = (handle: ProjectionDb) =>
        handle.withLock('stream:pixbook/acc/book', async (tx) => {
          const start = performance.now()
          inside++
          maxInside = Math.max(maxInside, inside)
          // read-modify-write with a gap: without mutual exclusion, increments get lost
          const { rows } = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1')
          await sleep(10)
          await tx.query('UPDATE counter SET n = $1 WHERE id = 1', [rows[0]!.n + 1])
          inside--
          spans.push([start, performance.now()])
        })
      await Promise.all(Array.from({ length: 10 }, (_, i) => section(i % 2 === 0 ? db : peer)))
      expect(maxInside).toBe(1)
      expect((await db.query('SELECT n FROM counter')).rows).toEqual([{ n: 10 }])
      spans.sort((a, b) => a[0] - b[0])
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1])
    })

    it('withLock releases the lock when the callback throws', async () => {
      await expect(db.withLock('k1', async () => Promise.reject(new Error('nope')))).rejects.toThrow('nope')
      const t0 = performance.now()
      await expect(peer.withLock('k1', async () => 'got it')).resolves.toBe('got it')
      expect(performance.now() - t0).toBeLessThan(2_000)
    })

    it('migrate applies files in numeric order, once, recording each', async () => {
      const dir = await tempMigrations({
        '001_first.sql': "CREATE TABLE log (step text);\nINSERT INTO log VALUES ('1');",
        '2_second.sql': "INSERT INTO log VALUES ('2');",
        '010_tenth.sql': "INSERT INTO log VALUES ('10'); CREATE INDEX log_step ON log (step);",
        'README.md': 'not a migration',
      })
      expect((await readMigrations(dir)).map((m) => m.version)).toEqual([1, 2, 10])
      const applied = await migrate(db, dir)
      expect(applied.map((m) => `${m.version}_${m.name}`)).toEqual(['1_first', '2_second', '10_tenth'])
      expect((await db.query('SELECT step FROM log')).rows).toEqual([{ step: '1' }, { step: '2' }, { step: '10' }])
      const recorded = await db.query<{ version: number; name: string; applied_at: Date }>(
        'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
      )
      expect(recorded.rows.map((r) => [r.version, r.name])).toEqual([
        [1, 'first'],
        [2, 'second'],
        [10, 'tenth'],
      ])
      expect(recorded.rows[0]!.applied_at).toBeInstanceOf(Date)
      // idempotent
      expect(await migrate(db, dir)).toEqual([])
      expect(await migrate(peer, dir)).toEqual([])
      expect((await db.query('SELECT count(*) AS n FROM log')).rows).toEqual([{ n: 3 }])
      // a new file later: only it runs
      await writeFile(join(dir, '011_more.sql'), "INSERT INTO log VALUES ('11');")
      expect((await migrate(db, dir)).map((m) => m.version)).toEqual([11])
    })

    it('migrate rolls back a failing file completely and stops there', async () => {
      const dir = await tempMigrations({
        '001_ok.sql': 'CREATE TABLE a (x int);',
        '002_bad.sql': 'CREATE TABLE b (x int);\nINSERT INTO b VALUES (1);\nSELECT * FROM missing_table;',
        '003_after.sql': 'CREATE TABLE c (x int);',
      })
      await expect(migrate(db, dir)).rejects.toThrow(/2_bad.*missing_table/)
      expect((await db.query('SELECT version FROM schema_migrations')).rows).toEqual([{ version: 1 }])
      await expect(db.query('SELECT * FROM b')).rejects.toThrow() // the file's first statements are gone too
      await expect(db.query('SELECT * FROM c')).rejects.toThrow()
      await writeFile(join(dir, '002_bad.sql'), 'CREATE TABLE b (x int);')
      expect((await migrate(db, dir)).map((m) => m.version)).toEqual([2, 3])
    })

    it('migrate is safe when several processes start at once', async () => {
      const dir = await tempMigrations({
        '001_table.sql': 'CREATE TABLE once (who text);', // fails if applied twice
        '002_row.sql': "INSERT INTO once VALUES ('x'); SELECT pg_sleep(0.05);",
        '003_more.sql': 'ALTER TABLE once ADD COLUMN n int;', // fails if applied twice
      })
      const runs = await Promise.all([migrate(db, dir), migrate(peer, dir), migrate(db, dir), migrate(peer, dir)])
      expect(
        runs
          .flat()
          .map((m) => m.version)
          .sort(),
      ).toEqual([1, 2, 3])
      expect((await db.query('SELECT count(*) AS n FROM once')).rows).toEqual([{ n: 1 }])
      expect((await db.query('SELECT count(*) AS n FROM schema_migrations')).rows).toEqual([{ n: 3 }])
    })

    it('migrate rejects badly named files, duplicate versions and explicit transactions', async () => {
      await expect(migrate(db, await tempMigrations({ 'init.sql': 'SELECT 1;' }))).rejects.toThrow(/NNN_name/)
      await expect(migrate(db, await tempMigrations({ '001_a.sql': 'SELECT 1;', '1_b.sql': 'SELECT 1;' }))).rejects.toThrow(
        /two migrations have version 1/,
      )
      await expect(migrate(db, await tempMigrations({ '001_tx.sql': 'BEGIN;\nCREATE TABLE z (x int);\nCOMMIT;' }))).rejects.toThrow(
        /BEGIN\/COMMIT/,
      )
      // PL/pgSQL blocks are fine
      const fn = await tempMigrations({
        '001_fn.sql': `CREATE FUNCTION one() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RETURN 1;
END;
$$;`,
      })
      expect(await migrate(db, fn)).toHaveLength(1)
      expect((await db.query('SELECT one() AS v')).rows).toEqual([{ v: 1 }])
    })
  })
}
