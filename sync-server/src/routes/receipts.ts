import { ReceiptSchema } from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { ApiError, envelope, HTTP_STATUS } from '../errors.js'

export async function receiptRoutes(app: FastifyInstance): Promise<void> {
  const { config, ingestor, metrics, openapi } = app.relay
  // Each receipt is validated by the shared checks (same schema, same codes as every verifier), so the
  // body schema only fixes the wrapper; a bad receipt gets its own result, not a whole-request 400.
  const PostReceiptsBody = z.strictObject({ receipts: z.array(z.unknown()).min(1).max(config.MAX_RECEIPTS_PER_REQUEST) })
  const AckSchema = z.object({
    stream: z.string(),
    seq: z.number(),
    position: z.number(),
    eventId: z.string(),
    hash: z.string(),
    relayKeyId: z.string(),
    signature: z.string(),
  })
  const ResultSchema = z.union([
    z.object({ ok: z.literal(true), eventId: z.string(), seq: z.number(), position: z.number(), hash: z.string(), ack: AckSchema }),
    z.object({
      ok: z.literal(false),
      eventId: z.string().optional(),
      error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
    }),
  ])
  openapi.add({
    method: 'POST',
    url: '/v1/receipts',
    summary: 'Append client-signed receipts (any streams, each stream in chain order). No session needed: the signature authenticates.',
    tags: ['receipts'],
    body: z.object({ receipts: z.array(ReceiptSchema) }),
    response: z.object({ results: z.array(ResultSchema) }),
  })
  app.post('/v1/receipts', async (request, reply) => {
    const parsed = PostReceiptsBody.safeParse(request.body)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new ApiError('SCHEMA_INVALID', `body: ${issue.path.join('.') || '(root)'}: ${issue.message}`, { path: issue.path.join('.') })
    }
    const results = await ingestor.ingest(parsed.data.receipts)
    const firstError = results.find((r) => !r.ok)
    for (const r of results) if (!r.ok) metrics.receiptsRejected.inc({ code: r.error.code })
    if (!firstError || firstError.ok) return { results }
    // A rejection answers with its own status and envelope (409 CHAIN_CONFLICT carries the head), and
    // still lists every receipt's outcome: the ones before it may have been accepted.
    const error = new ApiError(firstError.error.code, firstError.error.message, firstError.error.details)
    return reply.status(HTTP_STATUS[firstError.error.code]).send({ ...envelope(error, request.id), results })
  })
}
