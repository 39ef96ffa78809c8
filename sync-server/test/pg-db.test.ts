import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { inlineParams } from '../src/db/inline-params.js'
import { arrayLiterals, PgDb } from '../src/db/pg-db.js'
import { runProjectionDbContract } from './support/db-contract.js'

// Integration tier: needs a real Postgres. No skip: unreachable Postgres fails every test here.
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
// This file's schemas: `<prefix>_<n>`, one per test, all dropped at the end.
const prefix = `pixpax_pgdb_${randomBytes(4).toString('hex')}`
let n = 0
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

async function dropSchema(schema: string): Promise<void> {
  await admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
}

async function openPair(max = 5): Promise<{ db: PgDb; peer: PgDb; schema: string; done: () => Promise<void> }> {
  const schema = `${prefix}_${++n}`
  // Two pools on one schema: two relay processes sharing a database.
  const db = await PgDb.open({ connectionString: DATABASE_URL, schema, max })
  const peer = await PgDb.open({ connectionString: DATABASE_URL, schema, max })
  return {
    db,
    peer,
    schema,
    done: async () => {
      await Promise.all([db.close(), peer.close()])
      await dropSchema(schema)
    },
  }
}

afterAll(async () => {
  const { rows } = await admin((c) =>
    c.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [`${prefix}%`]),
  )
  for (const { nspname } of rows) await dropSchema(nspname)
})

runProjectionDbContract('pg', () => openPair())

describe('PgDb specifics', () => {
  it('turns JIT off on every pooled connection, and closing twice is harmless', async () => {
    const { db, done } = await openPair(3)
    try {
      const seen = await Promise.all(
        Array.from({ length: 3 }, () => db.transaction(async (tx) => (await tx.query<{ jit: string }>('SHOW jit')).rows[0]!.jit)),
      )
      expect(seen).toEqual(['off', 'off', 'off'])
      await db.close()
      await expect(db.close()).resolves.toBeUndefined() // an app's onClose, then its owner (relay repair)
    } finally {
      await done()
    }
  })

  it('puts its schema on the search_path of every pooled connection', async () => {
    const { db, schema, done } = await openPair(4)
    try {
      const seen = await Promise.all(
        Array.from({ length: 4 }, () =>
          db.transaction(async (tx) => {
            const { rows } = await tx.query<{ s: string; pid: number }>('SELECT current_schema() AS s, pg_backend_pid() AS pid')
            await sleep(30) // hold the connection so the four use four different ones
            return rows[0]!
          }),
        ),
      )
      expect(new Set(seen.map((r) => r.pid)).size).toBe(4)
      expect(seen.every((r) => r.s === schema)).toBe(true)
      await db.query('CREATE TABLE here (x int)')
      const { rows } = await admin((c) =>
        c.query('SELECT table_schema FROM information_schema.tables WHERE table_name = $1 AND table_schema = $2', ['here', schema]),
      )
      expect(rows).toHaveLength(1)
    } finally {
      await done()
    }
  })

  it('control: without withLock, or with different keys, the same sections do overlap', async () => {
    const { db, peer, done } = await openPair()
    try {
      await db.query('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0)')
      let inside = 0
      let maxInside = 0
      const section = async (tx: { query: PgDb['query'] }) => {
        inside++
        maxInside = Math.max(maxInside, inside)
        const { rows } = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1')
        await sleep(50)
        await tx.query('UPDATE counter SET n = $1 WHERE id = 1', [rows[0]!.n + 1])
        inside--
      }
      await Promise.all([db.transaction(section), peer.transaction(section)])
      expect(maxInside).toBe(2)
      expect((await db.query('SELECT n FROM counter')).rows).toEqual([{ n: 1 }]) // a lost update
      maxInside = 0
      await Promise.all([db.withLock('stream-a', section), peer.withLock('stream-b', section)])
      expect(maxInside).toBe(2)
    } finally {
      await done()
    }
  })

  it('a lock held by a connection that dies is released, and the pool recovers', async () => {
    const { db, peer, done } = await openPair(1)
    try {
      let pid!: number
      let locked!: () => void
      const lockedP = new Promise<void>((r) => (locked = r))
      const holder = db.withLock('stream:dies', async (tx) => {
        pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
        locked()
        await tx.query('SELECT pg_sleep(30)')
      })
      holder.catch(() => {})
      await lockedP
      const waiter = peer.withLock('stream:dies', async () => 'acquired')
      await sleep(100)
      await admin((c) => c.query('SELECT pg_terminate_backend($1)', [pid]))
      await expect(waiter).resolves.toBe('acquired')
      await expect(holder).rejects.toThrow()
      // the dead connection was discarded, not returned to the (size 1) pool
      await expect(db.query('SELECT 1 AS ok')).resolves.toEqual({ rows: [{ ok: 1 }], rowCount: 1 })
    } finally {
      await done()
    }
  })

  it('queryOutsideTransaction commits on its own connection, even when the main pool is exhausted', async () => {
    const { db, schema, done } = await openPair(1)
    try {
      await db.query('CREATE TABLE intents (k text)')
      const outside = db.queryOutsideTransaction.bind(db)
      await expect(
        db.withLock('stream:x', async (tx) => {
          await tx.query("INSERT INTO intents VALUES ('inside')")
          // the pool's only connection is this transaction's: a second pool must serve this
          const r = await outside<{ s: string }>("INSERT INTO intents VALUES ('outside') RETURNING current_schema() AS s")
          expect(r.rows).toEqual([{ s: schema }])
          throw new Error('roll back the inside')
        }),
      ).rejects.toThrow('roll back the inside')
      expect((await db.query('SELECT k FROM intents')).rows).toEqual([{ k: 'outside' }])
    } finally {
      await done()
    }
  })

  it('array parameters arrive as the same values through the JSON literals as through pg, in and out of transactions', async () => {
    const { db, done } = await openPair()
    try {
      const texts = [
        'plain',
        '',
        'NULL',
        null,
        'a,b',
        '{x}',
        ' spaced ',
        'q"uote',
        'back\\slash',
        'b\\"q',
        'ünï €',
        '{"seq":1,"body":"x\\ny"}',
      ]
      // Not a JSON literal (other escapes): control characters and a lone surrogate go through pg's own path.
      const escaped = ['line\nbreak', 'tab\there', '\u0001', 'lone \ud800']
      const ints = [0, -1, 2 ** 53 - 1, null]
      const bools = [true, false, null]
      expect(typeof arrayLiterals([texts])![0]).toBe('string')
      expect(typeof arrayLiterals([ints])![0]).toBe('string')
      expect(arrayLiterals([escaped])![0]).toBe(escaped)
      expect(arrayLiterals([[1.5]])![0]).toEqual([1.5])
      const sql = 'SELECT $1::text[] AS t, $2::text[] AS e, $3::int8[] AS i, $4::bool[] AS b, cardinality($5::text[]) AS empty'
      const params = [texts, escaped.slice(0, 3), ints, bools, []]
      const expected = { t: texts, e: escaped.slice(0, 3), i: ints, b: bools, empty: 0 }
      expect((await db.query(sql, params)).rows[0]).toEqual(expected)
      expect((await db.queryOutsideTransaction(sql, params)).rows[0]).toEqual(expected)
      expect(await db.transaction(async (tx) => (await tx.query(sql, params)).rows[0])).toEqual(expected)
    } finally {
      await done()
    }
  })

  it('open fails when Postgres is unreachable', async () => {
    await expect(PgDb.open({ connectionString: 'postgres://postgres@127.0.0.1:1/test' })).rejects.toThrow()
  })
})

describe('BEGIN and COMMIT ride with a statement (inline-params.ts)', () => {
  const values: unknown[] = [
    'plain',
    "it's",
    'back\\slash and "quotes" and \'both\'',
    'é ✓ 𝄞',
    42,
    -7.5,
    2 ** 53 - 1,
    true,
    null,
    new Uint8Array([0, 1, 0xfe, 0xff]),
    ['a', 'b"c', 'd\\e', null, "f'g"],
    [1, 2, 3],
    [new Uint8Array([1, 2]), new Uint8Array([])],
    { a: 1, b: ["x'y", 'z\\w'] },
    new Date('2026-12-03T17:00:00.123Z'),
  ]
  const casts = [
    'text',
    'text',
    'text',
    'text',
    'int8',
    'float8',
    'int8',
    'bool',
    'text',
    'bytea',
    'text[]',
    'int4[]',
    'bytea[]',
    'jsonb',
    'timestamptz',
  ]

  it('a statement with its parameters written in returns what the extended protocol returns', async () => {
    const sql = `SELECT ${casts.map((c, i) => `$${i + 1}::${c} AS v${i}`).join(', ')}, '$1 -- not a parameter' AS lit, "a$1" AS quoted -- $2
      FROM (SELECT 1 AS "a$1") t /* $3 */`
    const inlined = inlineParams(sql, values)!
    expect(inlined).not.toContain('$2::')
    const { db, done } = await openPair(1)
    try {
      const extended = await db.query(sql, values)
      const simple = await db.query(inlined)
      expect(simple).toEqual(extended)
      expect(simple.rows[0]).toMatchObject({ v1: "it's", v8: null, lit: '$1 -- not a parameter', quoted: 1 })
    } finally {
      await done()
    }
  })

  it('refuses what it cannot write: a missing parameter, a dollar-quoted string, a function', () => {
    expect(inlineParams('SELECT $2', ['only one'])).toBeUndefined()
    expect(inlineParams('SELECT $$x$$, $1', ['a'])).toBeUndefined()
    expect(inlineParams('SELECT $1', [() => 1])).toBeUndefined()
    expect(inlineParams('SELECT 1', [])).toBe('SELECT 1')
  })

  it('a transaction of n statements costs n round trips; queryThenCommit commits, and a failure in it rolls back', async () => {
    const { db, peer, done } = await openPair(1)
    const sent = vi.spyOn(pg.Client.prototype, 'query')
    try {
      await db.query('CREATE TABLE rt (x int PRIMARY KEY)')
      sent.mockClear()
      const seen = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO rt VALUES ($1)', [1])
        const r = await tx.queryThenCommit!<{ n: number }>('INSERT INTO rt VALUES ($1) RETURNING x AS n', [2])
        await expect(tx.query('SELECT 1')).rejects.toThrow(/already committed/)
        return r.rows
      })
      expect(seen).toEqual([{ n: 2 }])
      expect(sent).toHaveBeenCalledTimes(2) // BEGIN + the first; the second + COMMIT
      expect((await peer.query('SELECT x FROM rt ORDER BY x')).rows).toEqual([{ x: 1 }, { x: 2 }])
      // The statement sent with COMMIT fails (a duplicate key): nothing of the transaction stays.
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO rt VALUES ($1)', [3])
          await tx.queryThenCommit!('INSERT INTO rt VALUES ($1)', [1])
        }),
      ).rejects.toThrow(/duplicate key/)
      expect((await peer.query('SELECT x FROM rt ORDER BY x')).rows).toEqual([{ x: 1 }, { x: 2 }])
      // The connection (the pool's only one) is clean afterwards, and an empty transaction sends nothing.
      sent.mockClear()
      await db.transaction(async () => undefined)
      expect(sent).not.toHaveBeenCalled()
      await db.transaction((tx) => tx.query('INSERT INTO rt VALUES ($1)', [4]))
      expect((await db.query('SELECT count(*)::int AS n FROM rt')).rows).toEqual([{ n: 3 }])
    } finally {
      sent.mockRestore()
      await done()
    }
  })
})
