/**
 * A real relay (Postgres, filesystem store) serving the built web app, for the web tests. The app is
 * built once if web/dist is missing or stale (CI builds it before the tests, so this is a no-op there).
 */
import { startTestRelay, uniqueSchema, dropSchemas, type TestRelay } from '../../../sync-server/test/support/relay-harness.js'
import { ensureWebBuild, WEB_DIST } from '../../scripts/ensure-build.js'

export { WEB_DIST }

export async function startWebRelay(prefix: string, env: Record<string, string> = {}): Promise<TestRelay & { close(): Promise<void> }> {
  ensureWebBuild({ log: () => undefined })
  const relay = await startTestRelay({ db: 'pg', store: 'fs', schema: uniqueSchema(prefix), env: { WEB_DIST_DIR: WEB_DIST, ...env } })
  return {
    ...relay,
    async close() {
      await relay.close()
      await dropSchemas(prefix)
    },
  }
}
