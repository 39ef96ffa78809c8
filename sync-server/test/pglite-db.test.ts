import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PgliteDb } from '../src/db/pglite-db.js'
import { runProjectionDbContract } from './support/db-contract.js'

// Creating a PGlite database runs initdb (seconds), so the file shares one and gives each test a
// fresh schema on its search_path (one connection: a session-level SET applies to everything after).
let shared: PgliteDb
let n = 0
beforeAll(async () => {
  shared = await PgliteDb.open()
})
afterAll(async () => {
  await shared?.close()
})

runProjectionDbContract('pglite (in memory)', async () => {
  const schema = `contract_${++n}`
  await shared.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`)
  return {
    db: shared,
    peer: shared,
    done: async () => {
      await shared.query(`SET search_path TO public; DROP SCHEMA ${schema} CASCADE`)
    },
  }
})

describe('PgliteDb specifics', () => {
  it('persists to a data directory across close and reopen, using the schema option', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-pglite-'))
    try {
      const first = await PgliteDb.open({ dataDir, schema: 'relay' })
      await first.transaction(async (tx) => {
        await tx.query('CREATE TABLE kept (x int)')
        await tx.query('INSERT INTO kept VALUES ($1)', [7])
      })
      expect((await first.query('SELECT current_schema() AS s')).rows).toEqual([{ s: 'relay' }])
      await first.close()
      const again = await PgliteDb.open({ dataDir, schema: 'relay' })
      expect((await again.query('SELECT x FROM relay.kept')).rows).toEqual([{ x: 7 }])
      expect((await again.query('SELECT x FROM kept')).rows).toEqual([{ x: 7 }])
      await again.close()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  it('rejects a schema name that would need quoting', async () => {
    await expect(PgliteDb.open({ schema: 'Robert"; DROP' })).rejects.toThrow(RangeError)
  })
})
