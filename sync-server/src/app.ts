/**
 * buildApp(deps): the relay as a Fastify instance, separate from the process entry (main.ts) so tests
 * run it in-process with `inject` or on a real socket, with PGlite or Postgres, fs or S3.
 */
import { randomUUID } from 'node:crypto'
import {
  parseStrictJson,
  PixpaxError,
  utf8DecodeStrict,
  type Sha256,
  type SignatureVerifier,
  type Signer,
  type TrustPolicy,
} from '@pixpax/shared'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { authPlugin } from './auth/auth-plugin.js'
import type { RelayConfig } from './config.js'
import type { ProjectionDb } from './db/projection-db.js'
import { draftRoutes } from './drafts/drafts-plugin.js'
import { economyRoutes } from './domains/economy/routes.js'
import { deviceRoutes } from './devices/device-routes.js'
import { linkRoutes } from './identity-links/link-routes.js'
import { deviceViewRoutes } from './devices/views/routes.js'
import { ApiError, sendError } from './errors.js'
import { INLINE_PROJECTORS, TAIL_PROJECTORS } from './domains/modules.js'
import { takeDownPostMedia } from './domains/social/takedowns.js'
import { Ingestor } from './ingest/ingest.js'
import { LogIntegrator } from './log/log-integrator.js'
import { logRoutes } from './log/log-routes.js'
import { mediaPlugin } from './media/media-plugin.js'
import { MqttBridge, type DeviceBridge } from './mqtt/bridge.js'
import { PgAdvisoryLease, publisherLockKey, SoleLease } from './mqtt/lease.js'
import { Metrics } from './metrics.js'
import { TailRunner } from './projection/tail-runner.js'
import { OpenApiRegistry } from './openapi.js'
import { adminRoutes } from './routes/admin.js'
import { authRoutes } from './routes/auth.js'
import { blobRoutes } from './routes/blobs.js'
import { commandRoutes } from './routes/commands.js'
import { healthRoutes } from './routes/health.js'
import { queryRoutes } from './routes/queries.js'
import { receiptRoutes } from './routes/receipts.js'
import { socialRoutes } from './domains/social/routes.js'
import { searchRoutes } from './domains/search/routes.js'
import { notificationRoutes } from './domains/notifications/routes.js'
import type { ObjectStore } from './stores/object-store.js'
import { LocalNotifier, type ReceiptNotifier } from './sync/notifier.js'
import { SharedReads } from './sync/shared-reads.js'
import type { DeliveryBatch } from './sync/sync-session.js'
import { syncRoutes } from './sync/sync-route.js'
import { registerWebApp, type ShellFallback } from './web/web-app.js'

export interface AppDeps {
  config: RelayConfig
  db: ProjectionDb
  store: ObjectStore
  /** The relay's signing key: acks (and custodial receipts through their own signers). */
  relaySigner: Signer
  verifier: SignatureVerifier
  sha256: Sha256
  metrics?: Metrics
  /** Live fan-out across replicas (Postgres LISTEN/NOTIFY); in-process when omitted. */
  notifier?: ReceiptNotifier
  logger?: boolean | Record<string, unknown>
}

export interface RelayContext extends AppDeps {
  metrics: Metrics
  notifier: ReceiptNotifier
  /** Fan-out reads shared by the subscribers of a stream (sync/shared-reads.ts). */
  sharedReads: SharedReads<DeliveryBatch>
  /** Resolves a session token (set by the auth plugin); undefined when unknown or expired. */
  sessionForToken?: (token: string) => Promise<{ identityId: string } | undefined>
  ingestor: Ingestor
  /** Turns sequenced leaves into tiles and signed checkpoints (log/log-integrator.ts). */
  log: LogIntegrator
  /** Feeds the tail projectors (search, notifications) from the log (projection/tail-runner.ts). */
  tails: TailRunner
  openapi: OpenApiRegistry
  policy: TrustPolicy
  /**
   * Read access to a stream (set by the auth plugin): throws UNAUTHENTICATED/FORBIDDEN for a private
   * stream the request's session may not read. Identity and account streams are public.
   */
  authorizeRead: (request: FastifyRequest, streamKey: string) => Promise<void>
  /** The MQTT bridge to players (mqtt/bridge.ts), present only when MQTT_URL is set. */
  mqtt?: DeviceBridge
}

declare module 'fastify' {
  interface FastifyInstance {
    relay: RelayContext
  }
}

/**
 * The relay pins its platform roles: only identities listed in PLATFORM_ISSUERS / MODERATORS may be
 * created with those kinds or act in those roles — none when the lists are empty (deny by default).
 */
export function relayTrustPolicy(config: RelayConfig): TrustPolicy {
  return { platformIssuers: new Set(config.PLATFORM_ISSUERS), moderators: new Set(config.MODERATORS) }
}

/**
 * Read access until the auth plugin installs the real check: every read is refused, so a relay built
 * without it fails closed instead of serving private streams to anyone.
 */
export async function denyEveryRead(_request: FastifyRequest, streamKey: string): Promise<void> {
  throw new ApiError('FORBIDDEN', `read access is not configured on this relay; ${streamKey} cannot be read`)
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps
  const app = Fastify({
    logger: deps.logger ?? { level: config.LOG_LEVEL },
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Accept a caller's x-request-id when it is sane, else make one; it is echoed and logged.
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : `req-${randomUUID()}`
    },
    return503OnClosing: true,
  })
  const metrics = deps.metrics ?? new Metrics()
  const policy = relayTrustPolicy(config)
  const notifier = deps.notifier ?? new LocalNotifier()
  const log = new LogIntegrator({
    db: deps.db,
    store: deps.store,
    signer: deps.relaySigner,
    sha256: deps.sha256,
    origin: config.LOG_ORIGIN,
    onPhase: (phase, seconds) => metrics.appendPhase.observe({ phase }, seconds),
  })
  const ingestor = new Ingestor({
    notifier,
    db: deps.db,
    store: deps.store,
    relaySigner: deps.relaySigner,
    verifier: deps.verifier,
    sha256: deps.sha256,
    policy,
    log,
    projectors: INLINE_PROJECTORS,
    batchesInFlight: config.APPEND_BATCHES_IN_FLIGHT,
    onPhase: (phase, seconds) => metrics.appendPhase.observe({ phase }, seconds),
    onBatch: ({ receipts }) => metrics.appendBatchReceipts.observe(receipts),
    onAccepted: async (streamKey, accepted) => {
      metrics.receiptsAccepted.inc({ stream_type: streamKey.split('/')[0] }, accepted.length)
      // A takedown is answered once its post's bytes are gone from the store (the start-up sweep retries).
      if (streamKey.startsWith('moderation/')) {
        await takeDownPostMedia(deps.db, deps.store).catch((error: unknown) =>
          app.log.error({ err: error }, 'takedown of post media failed'),
        )
      }
    },
  })
  const sharedReads = new SharedReads<DeliveryBatch>(notifier)
  const tails = new TailRunner({
    db: deps.db,
    notifier,
    projectors: TAIL_PROJECTORS,
    onError: (error, projector) => app.log.error({ err: error, projector }, 'a tail projector batch failed; retrying'),
  })
  app.decorate('relay', {
    ...deps,
    metrics,
    notifier,
    sharedReads,
    ingestor,
    log,
    tails,
    openapi: new OpenApiRegistry(),
    policy,
    authorizeRead: denyEveryRead,
  })
  // ── MQTT bridge (optional): per-device broker accounts, commands and channel notices to players ──
  if (config.MQTT_URL) {
    app.relay.mqtt = MqttBridge.start({
      url: config.MQTT_URL,
      ...(config.MQTT_DEVICE_URL ? { deviceUrl: config.MQTT_DEVICE_URL } : {}),
      username: config.MQTT_ADMIN_USERNAME!,
      password: config.MQTT_ADMIN_PASSWORD!,
      deviceSecret: config.MQTT_DEVICE_SECRET ?? config.MQTT_ADMIN_PASSWORD!,
      db: deps.db,
      notifier,
      // One publisher among the replicas sharing the database; PGlite is one process.
      lease: config.DATABASE_URL
        ? new PgAdvisoryLease(config.DATABASE_URL, publisherLockKey(config.DATABASE_SCHEMA), (message, error) =>
            app.log.warn({ err: error }, message),
          )
        : new SoleLease(),
      reconcileMinutes: config.MQTT_RECONCILE_MINUTES,
      warn: (message, error) => app.log.warn(error ? { err: error } : {}, message),
    })
  }

  // Strict JSON for every body: duplicate keys, floats, lone surrogates and deep nesting are refused
  // here with their codes, before any route sees the value.
  // Fastify's default text/plain parser goes too: a body of any other type is 415 UNSUPPORTED_MEDIA_TYPE.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      if (body.length === 0) throw new PixpaxError('JSON_INVALID', 'the request body is empty')
      let text: string
      try {
        text = utf8DecodeStrict(body)
      } catch {
        throw new PixpaxError('JSON_INVALID', 'the request body is not valid UTF-8')
      }
      done(null, parseStrictJson(text))
    } catch (error) {
      done(error as Error, undefined)
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id)
  })
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
  })
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error))
  const web: { shell?: ShellFallback } = {}
  app.setNotFoundHandler((request, reply) => {
    if (web.shell?.(request, reply)) return
    sendError(request, reply, new ApiError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
  })

  // Before every route: sessions, read access and the rate limiter (which hooks routes defined after it).
  await app.register(authPlugin)
  await app.register(healthRoutes)
  await app.register(receiptRoutes)
  await app.register(queryRoutes)
  await app.register(authRoutes)
  await app.register(commandRoutes)
  await app.register(adminRoutes)
  await app.register(syncRoutes)
  await app.register(blobRoutes)
  await app.register(mediaPlugin)
  await app.register(draftRoutes)
  await app.register(logRoutes)
  await app.register(socialRoutes)
  await app.register(searchRoutes)
  await app.register(notificationRoutes)
  await app.register(economyRoutes)
  await app.register(deviceRoutes)
  await app.register(linkRoutes)
  await app.register(deviceViewRoutes)
  // The web PWA on the same origin (web/dist unless WEB_DIST_DIR says otherwise; absent: API only).
  web.shell = await registerWebApp(app, config.WEB_DIST_DIR)
  // Integrate what a crashed process sequenced but never integrated, and publish the first checkpoint.
  app.addHook('onReady', async () => {
    await log.ready()
    await takeDownPostMedia(deps.db, deps.store)
    await tails.start()
  })
  app.get('/v1/openapi.json', async () => app.relay.openapi.document())
  app.addHook('onClose', async () => {
    await app.relay.mqtt?.close()
    await tails.stop()
    sharedReads.close()
    await notifier.close()
    await (deps.verifier as { close?: () => Promise<void> }).close?.()
    await deps.store.close()
    await deps.db.close()
  })
  return app
}
