import type { FastifyInstance } from 'fastify'
import { ApiError } from '../errors.js'

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  const { db, store, metrics, openapi } = app.relay
  openapi.add({ method: 'GET', url: '/healthz', summary: 'Liveness: the process serves requests', tags: ['health'] })
  app.get('/healthz', async () => ({ ok: true }))

  openapi.add({ method: 'GET', url: '/readyz', summary: 'Readiness: the database and the object store answer', tags: ['health'] })
  app.get('/readyz', async () => {
    const checks = await Promise.allSettled([db.query('SELECT 1'), store.ping()])
    const [dbCheck, storeCheck] = checks
    if (dbCheck.status === 'rejected' || storeCheck.status === 'rejected') {
      throw new ApiError(
        'UNAVAILABLE',
        `not ready: database ${dbCheck.status === 'fulfilled' ? 'ok' : 'down'}, object store ${storeCheck.status === 'fulfilled' ? 'ok' : 'down'}`,
      )
    }
    return { ok: true, db: db.name, store: store.name }
  })

  openapi.add({ method: 'GET', url: '/metrics', summary: 'Prometheus metrics', tags: ['health'] })
  app.get('/metrics', async (_request, reply) => {
    const lag = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM append_intents')
    metrics.projectionLag.set(Number(lag.rows[0]?.n ?? 0))
    void reply.header('content-type', metrics.registry.contentType)
    return metrics.registry.metrics()
  })
}
