/**
 * The relay of `pnpm bench player`, in its own process so that its CPU (process.cpuUsage) and RSS are
 * the relay's alone, not the simulated players'. Postgres (the test database, a fresh schema) + fs
 * store. Parent ↔ child over IPC: the child sends `{url}` once listening; it answers `'stats'` with
 * `{cpu, rss, heapUsed, phases, batches, loopDelay}` and exits (dropping its schema) on `'stop'`.
 * `phases` are the cumulative sums and counts of pixpax_append_phase_seconds (what a batch spends in
 * each step), `batches` of pixpax_append_batch_receipts, and `loopDelay` the event-loop delay since the
 * last `'stats'` (perf_hooks.monitorEventLoopDelay, ms) — so the bench can say where the time goes.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Session } from 'node:inspector/promises'
import { writeFile } from 'node:fs/promises'
import { buildApp } from '../sync-server/src/app.js'
import { loadConfig } from '../sync-server/src/config.js'
import { buildDeps } from '../sync-server/src/context.js'
import { Metrics } from '../sync-server/src/metrics.js'
import { histogramTotals, loopDelayOf } from './player-bench-stats.js'

const dir = await mkdtemp(join(tmpdir(), 'pixpax-player-bench-'))
const schema = `bench_player_${process.pid}`
const config = loadConfig({
  DATA_DIR: dir,
  LOG_LEVEL: 'silent',
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  DATABASE_SCHEMA: schema,
  RATE_LIMIT_PER_IP: '100000000',
  RATE_LIMIT_PER_IDENTITY: '100000000',
  ...(process.env.APPEND_BATCHES_IN_FLIGHT ? { APPEND_BATCHES_IN_FLIGHT: process.env.APPEND_BATCHES_IN_FLIGHT } : {}),
})
const deps = await buildDeps(config)
const metrics = new Metrics()
const app = await buildApp({ ...deps, metrics, logger: false })
const url = await app.listen({ port: 0, host: '127.0.0.1' })
let profiler: Session | undefined
const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()

process.on('message', (m: unknown) => {
  if (m === 'stats') {
    void (async () => {
      const stats = {
        cpu: process.cpuUsage(),
        rss: process.memoryUsage().rss,
        heapUsed: process.memoryUsage().heapUsed,
        phases: histogramTotals(await metrics.appendPhase.get(), 'phase'),
        batches: histogramTotals(await metrics.appendBatchReceipts.get()),
        loopDelay: loopDelayOf(loop),
      }
      loop.reset()
      process.send!({ stats })
    })()
  } else if (m === 'profile-start' || m === 'profile-stop') {
    // RELAY_PROF=<dir>: a CPU profile of the main thread over the bench's window only (not the setup).
    void (async () => {
      if (m === 'profile-start') {
        profiler = new Session()
        profiler.connect()
        await profiler.post('Profiler.enable')
        await profiler.post('Profiler.start')
      } else if (profiler) {
        const { profile } = await profiler.post('Profiler.stop')
        await writeFile(join(process.env.RELAY_PROF!, `relay-window-${process.pid}.cpuprofile`), JSON.stringify(profile))
        profiler.disconnect()
      }
      process.send!({ profiled: m })
    })()
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
