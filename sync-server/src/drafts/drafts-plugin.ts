/**
 * Draft routes (docs/drafts.md):
 *
 * - `POST /v1/drafts` `{accountId, bookId}` (session; the identity may read `pixbook/{accountId}/{bookId}`)
 *   → 201 `{documentId, documentUrl, stream, accountId, bookId, createdBy, createdAt}`: a new empty
 *   automerge document, stored on the relay and registered to that pixbook;
 * - `GET /v1/drafts?accountId&bookId` (session, same access) → `{drafts: [record…]}`;
 * - `GET /v1/drafts/:documentId` (session) → the record; 404 when unknown *or* not readable (the same
 *   answer, so ids of other people's drafts are not confirmed);
 * - `GET /v1/automerge`: WebSocket, automerge-repo's sync protocol behind the relay's sessions
 *   (relay-network-adapter.ts).
 *
 * The WebSocket upgrade is done here with this plugin's own `ws` server: @fastify/websocket is
 * registered inside the sync plugin (encapsulated, with the sync protocol's 1 MiB frame limit), while
 * automerge frames carry whole documents (up to DRAFT_MAX_BYTES). Its upgrade listener still routes the
 * upgrade request through Fastify (hooks, rate limits) to this handler, which hijacks the reply and
 * completes the handshake. Should @fastify/websocket ever be registered where this plugin sees it, the
 * route uses it instead (with its frame limit).
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { IdSchema } from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { WebSocketServer, type WebSocket } from 'ws'
import { z } from 'zod'
import { mayRead } from '../auth/read-access.js'
import { requireSession } from '../auth/request-session.js'
import { ApiError, upgradeRequired } from '../errors.js'
import { DraftService } from './draft-service.js'

declare module '../app.js' {
  interface RelayContext {
    /** The relay's drafts (automerge repo, registry, endpoint); set by the drafts plugin. */
    drafts?: DraftService
  }
}

const BookBody = z.strictObject({ accountId: IdSchema, bookId: IdSchema })
const DocumentIdParams = z.strictObject({ documentId: z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{1,64}$/) })
const DraftRecordSchema = z.object({
  documentId: z.string(),
  documentUrl: z.string(),
  stream: z.string(),
  accountId: z.string(),
  bookId: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
})

/** Frames may carry a whole draft plus protocol overhead. */
const FRAME_OVERHEAD = 1024 * 1024

function parse<T extends z.ZodType>(schema: T, value: unknown, where: 'body' | 'query' | 'params'): z.infer<T> {
  if (value === undefined && where === 'body') throw new ApiError('BAD_REQUEST', 'this route needs a JSON body')
  const parsed = schema.safeParse(value ?? {})
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const path = issue.path.map(String).join('.') || '(root)'
  if (where === 'params') throw new ApiError('NOT_FOUND', `no such draft: ${issue.message}`)
  throw new ApiError(where === 'body' ? 'SCHEMA_INVALID' : 'BAD_REQUEST', `${where}: ${path}: ${issue.message}`, { path })
}

/** The socket and head of an upgrade request, as @fastify/websocket's upgrade listener stored them. */
function upgradeParts(raw: IncomingMessage): { socket: Duplex; head: Buffer } {
  const bag = raw as unknown as Record<symbol, unknown>
  let socket: Duplex | undefined
  let head: Buffer | undefined
  for (const sym of Object.getOwnPropertySymbols(raw)) {
    if (sym.description === 'ws-socket') socket = bag[sym] as Duplex
    if (sym.description === 'ws-head') head = bag[sym] as Buffer
  }
  return { socket: socket ?? raw.socket, head: head ?? Buffer.alloc(0) }
}

export async function draftRoutes(app: FastifyInstance): Promise<void> {
  const { config, db, store, openapi } = app.relay
  const service = new DraftService({
    store,
    db,
    relayIdentityId: config.RELAY_IDENTITY_ID,
    sessionForToken: async (token) => (app.relay.sessionForToken ? app.relay.sessionForToken(token) : undefined),
    maxDraftBytes: config.DRAFT_MAX_BYTES,
    idleMs: config.DRAFT_IDLE_MS,
    maxHandles: config.DRAFT_MAX_HANDLES,
    network: { accessRecheckMs: config.DRAFT_ACCESS_RECHECK_MS },
    log: app.log,
  })
  app.relay.drafts = service

  const assertBookAccess = async (request: FastifyRequest, accountId: string, bookId: string): Promise<string> => {
    const session = await requireSession(request)
    if (!(await mayRead(db, session.identityId, `pixbook/${accountId}/${bookId}`))) {
      throw new ApiError(
        'FORBIDDEN',
        `identity ${session.identityId} may not read pixbook/${accountId}/${bookId}, so it may not use its drafts`,
      )
    }
    return session.identityId
  }

  openapi.add({
    method: 'POST',
    url: '/v1/drafts',
    summary: 'Create an automerge draft document for a pixbook (docs/drafts.md)',
    tags: ['drafts'],
    auth: 'session',
    body: BookBody,
    response: DraftRecordSchema,
  })
  app.post('/v1/drafts', async (request, reply) => {
    const { accountId, bookId } = parse(BookBody, request.body, 'body')
    const identityId = await assertBookAccess(request, accountId, bookId)
    const record = await service.create({ accountId, bookId }, identityId)
    return reply.status(201).send(record)
  })

  const ListQuery = z.strictObject({ accountId: IdSchema, bookId: IdSchema })
  openapi.add({
    method: 'GET',
    url: '/v1/drafts',
    summary: "A pixbook's drafts",
    tags: ['drafts'],
    auth: 'session',
    query: ListQuery,
    response: z.object({ drafts: z.array(DraftRecordSchema) }),
  })
  app.get('/v1/drafts', async (request) => {
    const { accountId, bookId } = parse(ListQuery, request.query, 'query')
    await assertBookAccess(request, accountId, bookId)
    const drafts = await service.registry.list(accountId, bookId)
    return { drafts: drafts.map((d) => ({ ...d, documentUrl: `automerge:${d.documentId}` })) }
  })

  openapi.add({
    method: 'GET',
    url: '/v1/drafts/:documentId',
    summary: 'A draft registration',
    tags: ['drafts'],
    auth: 'session',
    response: DraftRecordSchema,
  })
  app.get('/v1/drafts/:documentId', async (request) => {
    const { documentId } = parse(DocumentIdParams, request.params, 'params')
    const session = await requireSession(request)
    if (!(await service.mayAccess(session.identityId, documentId)))
      throw new ApiError('NOT_FOUND', `no draft ${documentId} that this session may read`)
    const record = (await service.registry.lookup(documentId))!
    return { ...record, documentUrl: `automerge:${record.documentId}` }
  })

  // ---- GET /v1/automerge ---------------------------------------------------------------------------

  openapi.add({
    method: 'GET',
    url: '/v1/automerge',
    summary: 'WebSocket upgrade: automerge-repo sync. First frame: text {"type":"auth","token":…} (docs/drafts.md)',
    tags: ['drafts'],
    auth: 'session',
  })
  const accept = (ws: WebSocket): void => service.network.accept(ws)
  const hasFastifyWebsocket = (app as unknown as { websocketServer?: unknown }).websocketServer !== undefined
  let wss: WebSocketServer | undefined
  if (hasFastifyWebsocket) {
    app.route({
      method: 'GET',
      url: '/v1/automerge',
      handler: async () => {
        throw upgradeRequired('/v1/automerge')
      },
      wsHandler: (socket: WebSocket) => accept(socket),
    } as never)
  } else {
    wss = new WebSocketServer({ noServer: true, maxPayload: config.DRAFT_MAX_BYTES + FRAME_OVERHEAD, perMessageDeflate: false })
    const server = wss
    app.get('/v1/automerge', (request, reply) => {
      const raw = request.raw
      if (raw.headers.upgrade?.toLowerCase() !== 'websocket') {
        throw upgradeRequired('/v1/automerge')
      }
      const { socket, head } = upgradeParts(raw)
      void reply.hijack()
      server.handleUpgrade(raw, socket, head, accept)
    })
  }

  // preClose: before the server and the store/database (closed in the root onClose) go away.
  app.addHook('preClose', async () => {
    await service.close()
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()))
  })
}
