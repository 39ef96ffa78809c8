/**
 * The composition root: turns a RelayConfig into ready-made dependencies — Postgres or PGlite, S3 or
 * the filesystem, Vault Transit or a key file — chosen here and nowhere else.
 */
import { mkdir } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type { SignatureVerifier, Signer } from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier, VerifyPool } from '@pixpax/shared/node'
import type { AppDeps } from './app.js'
import type { RelayConfig } from './config.js'
import { RELAY_MIGRATIONS } from './domains/modules.js'
import { migrate } from './db/migrate.js'
import { PgDb } from './db/pg-db.js'
import { PgliteDb } from './db/pglite-db.js'
import type { ProjectionDb } from './db/projection-db.js'
import { loadOrCreateKeyFile } from './signing/key-file.js'
import { vaultTransitSigner } from './signing/vault-transit.js'
import { FsObjectStore } from './stores/fs-object-store.js'
import type { ObjectStore } from './stores/object-store.js'
import { S3ObjectStore } from './stores/s3-object-store.js'
import { LocalNotifier, noticeChannel, PgNotifier, type ReceiptNotifier } from './sync/notifier.js'

export { RELAY_MIGRATIONS }

export function openStore(config: RelayConfig): ObjectStore {
  if (config.S3_BUCKET) {
    return new S3ObjectStore({
      ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
      region: config.S3_REGION,
      bucket: config.S3_BUCKET,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      ...(config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
        ? { credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY } }
        : {}),
    })
  }
  return new FsObjectStore(join(config.DATA_DIR, 'objects'))
}

/** Opens the projection database and applies pending migrations. */
export async function openDb(config: RelayConfig): Promise<ProjectionDb> {
  if (!config.DATABASE_URL) await mkdir(config.DATA_DIR, { recursive: true })
  const db: ProjectionDb = config.DATABASE_URL
    ? await PgDb.open({
        connectionString: config.DATABASE_URL,
        max: config.DATABASE_POOL_SIZE,
        ...(config.DATABASE_SCHEMA ? { schema: config.DATABASE_SCHEMA } : {}),
      })
    : await PgliteDb.open({
        dataDir: join(config.DATA_DIR, 'pglite'),
        ...(config.DATABASE_SCHEMA ? { schema: config.DATABASE_SCHEMA } : {}),
      })
  await migrate(db, RELAY_MIGRATIONS)
  return db
}

/** The relay's key: Vault Transit, or a key file — its ack batches signed on the verify pool's workers when there is one. */
export async function openSigner(config: RelayConfig, pool?: SignatureVerifier): Promise<Signer> {
  if (config.VAULT_ADDR) {
    return vaultTransitSigner({
      address: config.VAULT_ADDR,
      token: config.VAULT_TOKEN!,
      key: config.VAULT_TRANSIT_KEY,
      mount: config.VAULT_TRANSIT_MOUNT,
    })
  }
  const jwk = await loadOrCreateKeyFile(config.RELAY_KEY_FILE ?? join(config.DATA_DIR, 'relay-key.jwk'))
  return pool instanceof VerifyPool ? pool.signer(jwk) : nodeSigner(jwk)
}

/** Signature verification: worker threads when there are cores to spread it over. */
export function openVerifier(): SignatureVerifier & { close?: () => Promise<void> } {
  return availableParallelism() > 1 ? new VerifyPool() : nodeVerifier()
}

/** Postgres LISTEN/NOTIFY when there is a shared database; in-process otherwise. */
export async function openNotifier(config: RelayConfig): Promise<ReceiptNotifier> {
  return config.DATABASE_URL ? PgNotifier.open(config.DATABASE_URL, noticeChannel(config.DATABASE_SCHEMA)) : new LocalNotifier()
}

/** `notifier: false` for one-shot commands: no LISTEN connection (it would keep the process alive). */
export async function buildDeps(config: RelayConfig, options: { notifier?: boolean } = {}): Promise<AppDeps> {
  const store = openStore(config)
  const db = await openDb(config)
  const verifier = openVerifier()
  return {
    config,
    db,
    store,
    relaySigner: await openSigner(config, verifier),
    verifier,
    sha256: nodeSha256,
    ...(options.notifier === false ? {} : { notifier: await openNotifier(config) }),
  }
}
