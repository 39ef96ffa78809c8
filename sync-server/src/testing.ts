/**
 * `@pixpax/sync-server/testing`: a real relay for other packages' tests — in-process Fastify on a real
 * socket, PGlite (or Postgres with DATABASE_URL + a schema) and a filesystem store in a temp directory.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateJwk, type Signer } from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { RELAY_MIGRATIONS } from './context.js'
import { migrate } from './db/migrate.js'
import { PgliteDb } from './db/pglite-db.js'
import { FsObjectStore } from './stores/fs-object-store.js'

export interface TestRelay {
  /** `http://127.0.0.1:PORT` */
  url: string
  app: FastifyInstance
  dir: string
  close(): Promise<void>
}

/**
 * `options.relaySigner`: the relay key (default: a fresh one). Two relays given the same key are one relay
 * that forked its log — what client tests of fork detection need.
 */
export async function startTestRelay(env: Record<string, string> = {}, options: { relaySigner?: Signer } = {}): Promise<TestRelay> {
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-relay-'))
  const db = await PgliteDb.open()
  await migrate(db, RELAY_MIGRATIONS)
  const app = await buildApp({
    config: loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', ...env }),
    db,
    store: new FsObjectStore(join(dir, 'objects')),
    relaySigner: options.relaySigner ?? nodeSigner(generatePrivateJwk()),
    verifier: nodeVerifier(),
    sha256: nodeSha256,
    logger: false,
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    url,
    app,
    dir,
    async close() {
      await app.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
