/**
 * The relay of `pnpm bench player`, in its own process so that its CPU (process.cpuUsage) and RSS are
 * the relay's alone, not the simulated players'. Postgres (the test database, a fresh schema) + fs
 * store. Parent ↔ child over IPC: the child sends `{url}` once listening; it answers `'stats'` with
 * `{cpu, rss, heapUsed}` and exits (dropping its schema) on `'stop'`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../sync-server/src/app.js'
import { loadConfig } from '../sync-server/src/config.js'
import { buildDeps } from '../sync-server/src/context.js'

const dir = await mkdtemp(join(tmpdir(), 'pixpax-player-bench-'))
const schema = `bench_player_${process.pid}`
const config = loadConfig({
  DATA_DIR: dir,
  LOG_LEVEL: 'silent',
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  DATABASE_SCHEMA: schema,
  RATE_LIMIT_PER_IP: '100000000',
  RATE_LIMIT_PER_IDENTITY: '100000000',
})
const deps = await buildDeps(config)
const app = await buildApp({ ...deps, logger: false })
const url = await app.listen({ port: 0, host: '127.0.0.1' })

process.on('message', (m: unknown) => {
  if (m === 'stats') {
    process.send!({ stats: { cpu: process.cpuUsage(), rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed } })
  } else if (m === 'stop') {
    void (async () => {
      await app.close()
      const { PgDb } = await import('../sync-server/src/db/pg-db.js')
      const admin = await PgDb.open({ connectionString: config.DATABASE_URL! })
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.close()
      await rm(dir, { recursive: true, force: true })
      process.exit(0)
    })()
  }
})
process.send!({ url })
