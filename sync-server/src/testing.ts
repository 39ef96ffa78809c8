/**
 * `@pixpax/sync-server/testing`: the one way tests (of every package) and benchmarks start a relay in
 * their own process — real Fastify on a real socket, over any of {in-memory PGlite, PGlite on disk,
 * Postgres} × {filesystem, S3}. Relay child processes (`main.ts`) are started by the relay harness in
 * sync-server/test/support; client-side receipt helpers live in `@pixpax/shared/testing`.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Signer } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppDeps } from './app.js'
import { loadConfig, type RelayConfig } from './config.js'
import { openDb, openSigner, RELAY_MIGRATIONS } from './context.js'
import { migrate } from './db/migrate.js'
import { PgliteDb } from './db/pglite-db.js'
import type { ProjectionDb } from './db/projection-db.js'
import { FsObjectStore } from './stores/fs-object-store.js'
import type { ObjectStore } from './stores/object-store.js'
import { S3ObjectStore } from './stores/s3-object-store.js'
import type { ReceiptNotifier } from './sync/notifier.js'

/** Integration tier: a real Postgres. Tests using it fail (never skip) when it is unreachable. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh schema name `<prefix>_<random>` (lower case: the relay's DATABASE_SCHEMA rule). */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`
}

/**
 * `memory`: PGlite in memory — the fastest, gone at close (the default). `pglite`: PGlite files under the
 * data dir, so a second start on the same options is a restart. `pg`: the real Postgres at DATABASE_URL,
 * in its own schema.
 */
export type DbKind = 'memory' | 'pglite' | 'pg'
export type StoreKind = 'fs' | 's3'

/** Where an S3-protocol server is (s3rver in tests). */
export interface S3Endpoint {
  endpoint: string
  region: string
  bucket: string
  credentials: { accessKeyId: string; secretAccessKey: string }
}

export interface TestRelayOptions {
  db?: DbKind
  store?: StoreKind
  /** Relay key file, PGlite files and the fs store live here; a fresh temp dir if omitted. Reuse it to restart. */
  dataDir?: string
  /** Postgres or PGlite schema; generated if omitted. Reuse it to restart. */
  schema?: string
  /** Required for store 's3'. */
  s3?: S3Endpoint
  /** Key prefix inside the bucket (so several relays can share one); generated if omitted. */
  s3Prefix?: string
  /** Extra config variables (PLATFORM_ISSUERS, BODY_LIMIT_BYTES, …). */
  env?: Record<string, string>
  /**
   * The relay key (default: the key file in the data dir, created on first start). Two relays given the
   * same key are one relay that forked its log — what client tests of fork detection need.
   */
  relaySigner?: Signer
  /** Wraps the projection database the relay uses (fault injection). */
  wrapDb?: (db: ProjectionDb) => ProjectionDb
  /** Wraps the object store the relay uses (fault injection). */
  wrapStore?: (store: ObjectStore) => ObjectStore
  /** How appends wake readers (default: in-process; a test of cross-replica wake-ups passes a PgNotifier). */
  notifier?: ReceiptNotifier
}

export type ResolvedTestRelayOptions = TestRelayOptions &
  Required<Pick<TestRelayOptions, 'db' | 'store' | 'dataDir' | 'schema' | 's3Prefix'>>

export interface TestRelay {
  /** `http://127.0.0.1:PORT` */
  url: string
  app: FastifyInstance
  deps: AppDeps
  config: RelayConfig
  db: ProjectionDb
  store: ObjectStore
  dataDir: string
  /** What to pass to startTestRelay again to restart on the same database and store (not for `memory`). */
  options: ResolvedTestRelayOptions
  /**
   * Closes the relay (its database and store with it). The data dir is removed only for an in-memory
   * database in a dir this call created: anything else may be restarted from `options`.
   */
  close(): Promise<void>
}

export function s3Store(s3: S3Endpoint, prefix = ''): S3ObjectStore {
  return new S3ObjectStore({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    forcePathStyle: true,
    credentials: s3.credentials,
    ...(prefix ? { prefix } : {}),
  })
}

/** The object store a relay with these options uses (a second handle on it, for inspection). */
export function openStoreFor(options: { store?: StoreKind; dataDir: string; s3?: S3Endpoint; s3Prefix?: string }): ObjectStore {
  if (options.store === 's3') {
    if (!options.s3) throw new Error('store s3 needs a running S3 endpoint (options.s3)')
    return s3Store(options.s3, options.s3Prefix)
  }
  return new FsObjectStore(join(options.dataDir, 'objects'))
}

/** The relay configuration a relay with these options runs with (the same variables main.ts reads). */
export function relayEnv(options: {
  db?: DbKind
  store?: StoreKind
  dataDir: string
  schema: string
  s3?: S3Endpoint
  env?: Record<string, string>
}): Record<string, string> {
  return {
    DATA_DIR: options.dataDir,
    DATABASE_SCHEMA: options.schema,
    LOG_LEVEL: 'silent',
    // API only unless a test serves the web build on purpose (web/test passes WEB_DIST_DIR).
    WEB_DIST_DIR: join(options.dataDir, 'no-web-build'),
    // Tests and benchmarks send far more than a person would from one address.
    RATE_LIMIT_PER_IP: '1000000000',
    RATE_LIMIT_PER_IDENTITY: '1000000000',
    ...(options.db === 'pg' ? { DATABASE_URL } : {}),
    ...(options.store === 's3' && options.s3
      ? {
          S3_ENDPOINT: options.s3.endpoint,
          S3_BUCKET: options.s3.bucket,
          S3_REGION: options.s3.region,
          S3_FORCE_PATH_STYLE: 'true',
          S3_ACCESS_KEY_ID: options.s3.credentials.accessKeyId,
          S3_SECRET_ACCESS_KEY: options.s3.credentials.secretAccessKey,
        }
      : {}),
    ...options.env,
  }
}

async function openTestDb(db: DbKind, config: RelayConfig): Promise<ProjectionDb> {
  if (db !== 'memory') return openDb(config)
  const memory = await PgliteDb.open()
  await migrate(memory, RELAY_MIGRATIONS)
  return memory
}

/** Starts a relay in this process, listening on 127.0.0.1 on a free port. */
export async function startTestRelay(opts: TestRelayOptions = {}): Promise<TestRelay> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'pixpax-relay-')))
  const db = opts.db ?? 'memory'
  const store = opts.store ?? 'fs'
  const schema = opts.schema ?? uniqueSchema('relay')
  const s3Prefix = opts.s3Prefix ?? (store === 's3' ? `r-${randomBytes(4).toString('hex')}/` : '')
  const removeAtClose = opts.dataDir === undefined && db === 'memory'
  const options: ResolvedTestRelayOptions = { ...opts, db, store, dataDir, schema, s3Prefix }
  const config = loadConfig(relayEnv(options))
  // The pieces of buildDeps, with the store built here so an s3 relay can live under a prefix.
  const objectStore = opts.wrapStore ? opts.wrapStore(openStoreFor(options)) : openStoreFor(options)
  const projectionDb = opts.wrapDb ? opts.wrapDb(await openTestDb(db, config)) : await openTestDb(db, config)
  const deps: AppDeps = {
    config,
    db: projectionDb,
    store: objectStore,
    relaySigner: opts.relaySigner ?? (await openSigner(config)),
    verifier: nodeVerifier(),
    sha256: nodeSha256,
    ...(opts.notifier ? { notifier: opts.notifier } : {}),
    logger: process.env.RELAY_TEST_LOG ? { level: process.env.RELAY_TEST_LOG } : false,
  }
  const app = await buildApp(deps)
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  let closed = false
  return {
    url,
    app,
    deps,
    config,
    db: projectionDb,
    store: objectStore,
    dataDir,
    options,
    async close() {
      if (closed) return
      closed = true
      // A test's afterAll gives up on a slow close at 60 s and says nothing more; this says what is still open.
      const watchdog = setTimeout(() => console.error(`test relay ${url}: close still running after 20 s; open: ${openHandles()}`), 20_000)
      watchdog.unref()
      try {
        await app.close()
      } finally {
        clearTimeout(watchdog)
      }
      if (removeAtClose) await rm(dataDir, { recursive: true, force: true, maxRetries: 3 })
    },
  }
}

/** The process's open handles, for a close that hangs: each socket's ports, and how many of each other kind. */
function openHandles(): string {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? []
  const counts = new Map<string, number>()
  const sockets: string[] = []
  for (const handle of handles) {
    const name = (handle as object).constructor?.name ?? typeof handle
    const socket = handle as { localPort?: number; remotePort?: number; readyState?: string }
    if (name === 'Socket' && socket.remotePort !== undefined) sockets.push(`${socket.localPort}→${socket.remotePort} ${socket.readyState}`)
    else counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  return [`sockets [${sockets.join(', ')}]`, ...[...counts].map(([name, n]) => `${name} ×${n}`)].join('; ')
}
