/**
 * `pnpm start`: the relay on embedded defaults (PGlite, ./data, a generated key) or, with the
 * environment of the README's table, on Postgres, Spaces and Vault.
 */
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { buildDeps } from './context.js'
import { repairFromStore, repairIntents } from './replay/repair.js'

const config = loadConfig()
const deps = await buildDeps(config)
const app = await buildApp(deps)
// A relay that died mid-append leaves intents; settle them before serving (other replicas settle
// lazily on their next append to the stream). PGlite keeps intents in the append's own transaction
// (one connection), so a crash loses them: walk the store from the projector offsets instead.
await app.ready()
const { appender } = app.relay.ingestor
const repaired = deps.db.name === 'pglite' ? await repairFromStore(deps.db, deps.store, appender) : await repairIntents(deps.db, appender)
if (repaired.receipts > 0) app.log.info({ repaired }, 'repaired projections left behind by a crash')
const address = await app.listen({ port: config.PORT, host: config.HOST })
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
