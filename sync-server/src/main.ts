/**
 * `pnpm start`: the relay on embedded defaults (PGlite, ./data, a generated key) or, with the
 * environment of the README's table, on Postgres, Spaces and Vault.
 */
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { buildDeps } from './context.js'
import { repairIntents } from './replay/repair.js'

const config = loadConfig()
const deps = await buildDeps(config)
const app = await buildApp(deps)
// A relay that died mid-append leaves intents (committed before any object is written, on pg and PGlite
// alike); settle them before serving. The log integrator has already caught up (onReady).
await app.ready()
const repaired = await repairIntents(deps.db, app.relay.ingestor.appender)
if (repaired.receipts > 0) app.log.info({ repaired }, 'adopted receipts left behind by a crash')
const address = await app.listen({ port: config.PORT, host: config.HOST })
// Re-hash stored media every MEDIA_SCRUB_INTERVAL_MS (stopped by app.close()).
app.media.scrubber.start()
app.log.info({ store: deps.store.name, db: deps.db.name, relayKeyId: deps.relaySigner.publicKeyId }, 'relay ready')
process.stdout.write(`PixPax relay listening on ${address} (store: ${deps.store.name}, db: ${deps.db.name})\n`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.log.info({ signal }, 'shutting down')
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
}
