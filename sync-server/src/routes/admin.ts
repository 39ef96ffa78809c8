/**
 * Admin routes, for a session of an identity listed in ADMIN_IDENTITIES (401 without a session, 403
 * for anyone else): counts, the projection digest, and a rebuild of the projection from the object store.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireAdmin } from '../auth/request-session.js'
import { projectionDigest } from '../replay/digest.js'
import { rebuild } from '../replay/rebuild.js'

export async function adminRoutes(app: FastifyInstance): Promise<void> {
  const { db, store, sha256, openapi } = app.relay

  const StatsResponse = z.object({
    streams: z.record(z.string(), z.number()),
    receipts: z.number(),
    identities: z.number(),
    accounts: z.number(),
    pixbooks: z.number(),
    openAppendIntents: z.number(),
    activeSessions: z.number(),
  })
  openapi.add({
    method: 'GET',
    url: '/v1/admin/stats',
    summary: 'Counts: streams per type, receipts, identities, open append intents',
    tags: ['admin'],
    auth: 'admin',
    response: StatsResponse,
  })
  app.get('/v1/admin/stats', async (request) => {
    await requireAdmin(request)
    const count = async (sql: string, params?: unknown[]): Promise<number> => (await db.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0
    const perType = await db.query<{ stream_type: string; n: number }>(
      'SELECT stream_type, count(*)::int AS n FROM streams GROUP BY stream_type ORDER BY stream_type',
    )
    return {
      streams: Object.fromEntries(perType.rows.map((r) => [r.stream_type, r.n])),
      receipts: await count('SELECT count(*)::int AS n FROM receipts'),
      identities: await count('SELECT count(*)::int AS n FROM identities'),
      accounts: await count('SELECT count(*)::int AS n FROM accounts'),
      pixbooks: await count('SELECT count(*)::int AS n FROM pixbooks'),
      openAppendIntents: await count('SELECT count(*)::int AS n FROM append_intents'),
      activeSessions: await count('SELECT count(*)::int AS n FROM sessions WHERE expires_at > $1::timestamptz', [new Date().toISOString()]),
    }
  })

  const DigestResponse = z.object({ digest: z.string(), tables: z.record(z.string(), z.object({ rows: z.number(), digest: z.string() })) })
  openapi.add({
    method: 'GET',
    url: '/v1/admin/digest',
    summary: 'Digest of every projection table (equal before and after a rebuild)',
    tags: ['admin'],
    auth: 'admin',
    response: DigestResponse,
  })
  app.get('/v1/admin/digest', async (request) => {
    await requireAdmin(request)
    return projectionDigest(db)
  })

  const RebuildResponse = z.object({ receipts: z.number(), streams: z.number(), digest: z.string() })
  openapi.add({
    method: 'POST',
    url: '/v1/admin/rebuild',
    summary: 'Drop the projection and replay the object store in one transaction; returns the new digest. No body',
    tags: ['admin'],
    auth: 'admin',
    response: RebuildResponse,
  })
  app.post('/v1/admin/rebuild', async (request) => {
    const session = await requireAdmin(request)
    request.log.warn({ identityId: session.identityId }, 'admin rebuild requested')
    const done = await rebuild({ db, store, sha256, verifier: app.relay.verifier, policy: app.relay.policy })
    const { digest } = await projectionDigest(db)
    request.log.warn({ ...done, digest }, 'admin rebuild finished')
    return { ...done, digest }
  })
}
