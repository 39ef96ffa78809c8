/**
 * Test harness for the relay over real sockets: an in-process relay (`startRelay`) for any combination
 * of {Postgres, PGlite} × {filesystem, S3 (s3rver)}, a relay child process (`startRelayProcess`, the real
 * `main.ts`), and client helpers that build and sign receipts the way a client does and post them with
 * real `fetch`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  buildReceipt,
  canonicalBytes,
  ChainVerifier,
  formatSignature,
  generatePrivateJwk,
  jwkThumbprint,
  parseSignature,
  parseStrictJson,
  receiptCanonicalBytes,
  sha256Ref,
  streamKey,
  type ChainHead,
  type IdentityKind,
  type PrivateJwk,
  type PublicJwk,
  type Receipt,
  type Signer,
  type StreamRef,
} from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { buildApp, type AppDeps } from '../../src/app.js'
import { loadConfig, type RelayConfig } from '../../src/config.js'
import { openDb, openSigner, openVerifier } from '../../src/context.js'
import type { ProjectionDb } from '../../src/db/projection-db.js'
import type { Ack } from '../../src/ingest/ack.js'
import type { AcceptedResult } from '../../src/ingest/ingest.js'
import { projectionDigest } from '../../src/replay/digest.js'
import { FsObjectStore } from '../../src/stores/fs-object-store.js'
import type { ObjectStore } from '../../src/stores/object-store.js'
import { S3ObjectStore } from '../../src/stores/s3-object-store.js'
import type { RunningS3rver } from './s3rver.js'

// ------------------------------------------------------------------------------------------------
// Postgres

/** Integration tier: a real Postgres. Tests using it fail (never skip) when it is unreachable. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh schema name `<prefix>_<random>` (lower case: the relay's DATABASE_SCHEMA rule). */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`
}

export async function adminQuery<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    return (await client.query<R>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** Drops every schema whose name starts with `prefix` (a test file's schemas). */
export async function dropSchemas(prefix: string): Promise<void> {
  const rows = await adminQuery<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [`${prefix}%`])
  for (const { nspname } of rows) await adminQuery(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`)
}

// ------------------------------------------------------------------------------------------------
// In-process relay on a real socket

export type DbKind = 'pg' | 'pglite'
export type StoreKind = 'fs' | 's3'

export interface RelayOptions {
  db: DbKind
  store: StoreKind
  /** Relay key file, PGlite files and the fs store live here; a fresh temp dir if omitted. Reuse it to restart. */
  dataDir?: string
  /** Postgres schema (pg) or PGlite schema; generated if omitted. Reuse it to restart. */
  schema?: string
  /** Required for store 's3'. */
  s3?: RunningS3rver
  /** Key prefix inside the s3rver bucket (so several relays can share one bucket); generated if omitted. */
  s3Prefix?: string
  /** Extra config variables (PLATFORM_ISSUERS, BODY_LIMIT_BYTES, …). */
  env?: Record<string, string>
  /** Wraps the projection database the relay uses (fault injection). */
  wrapDb?: (db: ProjectionDb) => ProjectionDb
  /** Wraps the object store the relay uses (fault injection). */
  wrapStore?: (store: ObjectStore) => ObjectStore
}

export interface RunningRelay {
  url: string
  app: FastifyInstance
  deps: AppDeps
  config: RelayConfig
  /** What to pass to startRelay again to restart on the same database and store. */
  options: Required<Pick<RelayOptions, 'db' | 'store' | 'dataDir' | 'schema' | 's3Prefix'>> & RelayOptions
  close(): Promise<void>
}

export function s3Store(s3: RunningS3rver, prefix = ''): S3ObjectStore {
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
export function openStoreFor(options: { store: StoreKind; dataDir: string; s3?: RunningS3rver; s3Prefix?: string }): ObjectStore {
  if (options.store === 's3') {
    if (!options.s3) throw new Error('store s3 needs a running s3rver')
    return s3Store(options.s3, options.s3Prefix)
  }
  return new FsObjectStore(join(options.dataDir, 'objects'))
}

/** The relay configuration a relay with these options runs with (the same variables main.ts reads). */
export function relayEnv(options: {
  db: DbKind
  store: StoreKind
  dataDir: string
  schema: string
  s3?: RunningS3rver
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

/** Starts a relay in this process, listening on 127.0.0.1 on a free port. */
export async function startRelay(opts: RelayOptions): Promise<RunningRelay> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'pixpax-relay-')))
  const schema = opts.schema ?? uniqueSchema('relay')
  const s3Prefix = opts.s3Prefix ?? (opts.store === 's3' ? `r-${randomBytes(4).toString('hex')}/` : '')
  const options = { ...opts, dataDir, schema, s3Prefix }
  const config = loadConfig(relayEnv(options))
  // The pieces of buildDeps, with the store built here so an s3 relay can live under a prefix.
  const store = opts.wrapStore ? opts.wrapStore(openStoreFor(options)) : openStoreFor(options)
  const db = opts.wrapDb ? opts.wrapDb(await openDb(config)) : await openDb(config)
  const deps: AppDeps = {
    config,
    db,
    store,
    relaySigner: await openSigner(config),
    verifier: openVerifier(),
    sha256: nodeSha256,
    logger: process.env.RELAY_TEST_LOG ? { level: process.env.RELAY_TEST_LOG } : false,
  }
  const app = await buildApp(deps)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  let closed = false
  return {
    url: address,
    app,
    deps,
    config,
    options,
    async close() {
      if (closed) return
      closed = true
      await app.close()
    },
  }
}

// ------------------------------------------------------------------------------------------------
// Relay as a child process (main.ts)

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const MAIN_TS = join(REPO_ROOT, 'sync-server', 'src', 'main.ts')

export interface RelayProcess {
  url: string
  child: ChildProcess
  /** Everything the process wrote so far (for failure messages). */
  output(): string
  /** SIGTERM and wait for the exit (graceful shutdown). */
  stop(): Promise<number | null>
  /** SIGKILL and wait for the exit (a crash). */
  kill(): Promise<void>
}

/**
 * Spawns `node --import tsx sync-server/src/main.ts` with `env` on top of this process's environment and
 * resolves once it prints `PixPax relay listening on http://…`. PORT defaults to 0: the OS picks a free
 * port and main.ts prints it.
 */
export async function startRelayProcess(env: Record<string, string>, timeoutMs = 90_000): Promise<RelayProcess> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
  const child = spawn(process.execPath, ['--import', tsx, MAIN_TS], {
    cwd: REPO_ROOT,
    // UV_THREADPOOL_SIZE as `pnpm start` sets it (package.json).
    env: { UV_THREADPOOL_SIZE: '64', ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => (out += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`relay process did not start within ${timeoutMs} ms:\n${out}`))
    }, timeoutMs)
    child.stdout.on('data', (chunk: string) => {
      out += chunk
      const match = /PixPax relay listening on (http:\/\/[^\s]+) /.exec(out)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`relay process exited with ${code} before listening:\n${out}`))
    })
  })
  return {
    url,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      return exited
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGKILL')
      await exited
    },
  }
}

// ------------------------------------------------------------------------------------------------
// Clients: identities, streams, HTTP

export interface Identity {
  readonly identityId: string
  readonly accountId: string
  readonly kind: IdentityKind
  jwk: PrivateJwk
  signer: Signer
}

export function newIdentity(
  accountId: string,
  kind: IdentityKind = 'person',
  identityId = `id-${randomBytes(6).toString('hex')}`,
): Identity {
  const jwk = generatePrivateJwk()
  return { identityId, accountId, kind, jwk, signer: nodeSigner(jwk) }
}

/** A fresh key pair, for rotation (KEY_ADDED) or for a forger. */
export function newKey(): { jwk: PrivateJwk; signer: Signer } {
  const jwk = generatePrivateJwk()
  return { jwk, signer: nodeSigner(jwk) }
}

export const identityStream = (who: Identity): StreamRef => ({ type: 'identity', identityId: who.identityId })
export const accountStream = (accountId: string): StreamRef => ({ type: 'account', accountId })
export const pixbookStream = (accountId: string, bookId: string): StreamRef => ({ type: 'pixbook', accountId, bookId })

export interface BuildOptions {
  idempotencyKey?: string
  eventId?: string
  createdAt?: string
  signer?: Signer
  prev?: ChainHead | null
}

/** A client's view of one stream: builds receipts chained to the head it knows; `advance` moves it. */
export class StreamWriter {
  head: ChainHead | null = null
  seq = 0
  readonly key: string
  constructor(readonly stream: StreamRef) {
    this.key = streamKey(stream)
  }

  build(type: string, payload: Record<string, unknown>, by: Identity, options: BuildOptions = {}): Promise<Receipt> {
    return buildReceipt({
      stream: this.stream,
      type,
      payload,
      identityId: by.identityId,
      signer: options.signer ?? by.signer,
      prev: options.prev !== undefined ? options.prev : this.head,
      sha256: nodeSha256,
      ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      ...(options.eventId ? { eventId: options.eventId } : {}),
      ...(options.createdAt ? { createdAt: options.createdAt } : {}),
    })
  }

  advance(receipt: { eventId: string; hash: string }, seq = this.seq + 1): void {
    this.head = { eventId: receipt.eventId, hash: receipt.hash }
    this.seq = seq
  }
}

export const identityCreated = (who: Identity, displayName?: string): Promise<Receipt> =>
  new StreamWriter(identityStream(who)).build(
    'IDENTITY_CREATED',
    { publicKey: who.signer.publicKey, accountId: who.accountId, kind: who.kind, ...(displayName ? { displayName } : {}) },
    who,
  )

export const artHash = (label: string): string => sha256Ref(new TextEncoder().encode(label), nodeSha256)

export interface HttpResult<T = PostReceiptsJson> {
  status: number
  headers: Headers
  text: string
  json: T
}

/** A request with real fetch; the body is parsed as JSON when it is JSON (typed as the relay's POST answer by default). */
export async function http<T = PostReceiptsJson>(url: string, init: RequestInit = {}): Promise<HttpResult<T>> {
  const res = await fetch(url, init)
  const text = await res.text()
  let json: T = undefined as T
  if ((res.headers.get('content-type') ?? '').includes('json') && text) json = JSON.parse(text) as T
  return { status: res.status, headers: res.headers, text, json }
}

/** An accepted result as the relay returns it (HTTP and WebSocket push results share the shape). */
export type AcceptedJson = AcceptedResult
export interface RejectedJson {
  ok: false
  eventId?: string
  error: { code: string; message: string; details?: Record<string, unknown> }
}
export type ResultJson = AcceptedJson | RejectedJson
export interface PostReceiptsJson {
  results?: ResultJson[]
  error?: { code: string; message: string; requestId: string; details?: Record<string, unknown> }
}

export function postJson(
  baseUrl: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<HttpResult<PostReceiptsJson>> {
  return http<PostReceiptsJson>(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
}

export function postReceipts(
  baseUrl: string,
  receipts: unknown[],
  headers: Record<string, string> = {},
): Promise<HttpResult<PostReceiptsJson>> {
  return postJson(baseUrl, '/v1/receipts', JSON.stringify({ receipts }), headers)
}

/** Posts receipts that must all be accepted; returns their results (throws with the relay's answer otherwise). */
export async function appendOk(baseUrl: string, receipts: Receipt[]): Promise<AcceptedJson[]> {
  const res = await postReceipts(baseUrl, receipts)
  const results = res.json?.results ?? []
  if (res.status !== 200 || results.length !== receipts.length || results.some((r) => !r.ok)) {
    throw new Error(`append refused (${res.status}): ${res.text.slice(0, 2000)}`)
  }
  return results as AcceptedJson[]
}

/** Appends through a StreamWriter, advancing it. */
export async function appendVia(baseUrl: string, writer: StreamWriter, receipt: Receipt): Promise<AcceptedJson> {
  const [result] = await appendOk(baseUrl, [receipt])
  writer.advance(receipt, result!.seq)
  return result!
}

export interface RelayInfo {
  identityId: string
  publicKey: PublicJwk
  publicKeyId: string
}

/** Verifies an ack against the relay key published at GET /v1/relay; returns why not, or undefined. */
export async function ackProblem(ack: Ack, relay: RelayInfo): Promise<string | undefined> {
  if (jwkThumbprint(relay.publicKey) !== relay.publicKeyId) return 'relay publicKeyId is not the thumbprint of its key'
  if (ack.relayKeyId !== relay.publicKeyId) return `ack relayKeyId ${ack.relayKeyId} is not the relay's ${relay.publicKeyId}`
  const { signature, ...body } = ack
  if (Object.keys(body).sort().join(',') !== 'eventId,hash,position,relayKeyId,seq,stream')
    return `unexpected ack fields ${Object.keys(ack).join(',')}`
  const ok = await nodeVerifier().verify(relay.publicKey, canonicalBytes(body), parseSignature(signature))
  return ok ? undefined : 'ack signature does not verify'
}

/** Opens a session for `who` by signing the relay's challenge (docs/auth.md); returns the bearer token. */
export async function openSession(baseUrl: string, who: Identity): Promise<string> {
  const challenge = await http<{ nonce: string; relay: string }>(`${baseUrl}/v1/auth/challenge`, { method: 'POST' })
  if (challenge.status !== 200) throw new Error(`POST /v1/auth/challenge ${challenge.status}: ${challenge.text}`)
  const message = canonicalBytes({
    purpose: 'pixpax-session',
    nonce: challenge.json.nonce,
    identityId: who.identityId,
    relay: challenge.json.relay,
  })
  const body = JSON.stringify({
    identityId: who.identityId,
    publicKeyId: who.signer.publicKeyId,
    nonce: challenge.json.nonce,
    signature: formatSignature(await who.signer.sign(message)),
  })
  const session = await http<{ token: string }>(`${baseUrl}/v1/auth/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  })
  if (session.status !== 200) throw new Error(`POST /v1/auth/session ${session.status}: ${session.text}`)
  return session.json.token
}

const bearer = (token?: string): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {})

/** Every receipt of a stream as the relay serves it (NDJSON, paged with x-next-after): the raw lines. */
export async function fetchStreamLines(baseUrl: string, key: string, pageSize = 1000, token?: string): Promise<string[]> {
  const lines: string[] = []
  let after: string | null = null
  for (;;) {
    const q: URLSearchParams = new URLSearchParams({ stream: key, limit: String(pageSize), ...(after ? { after } : {}) })
    const res: Response = await fetch(`${baseUrl}/v1/receipts?${q}`, { headers: { accept: 'application/x-ndjson', ...bearer(token) } })
    const text: string = await res.text()
    if (res.status !== 200) throw new Error(`GET /v1/receipts ${res.status}: ${text}`)
    const page = text.split('\n').filter((l: string) => l !== '')
    lines.push(...page)
    after = res.headers.get('x-next-after')
    if (!after) return lines
  }
}

/** Same, through the JSON form (`{stream, receipts, next}`), paged with `next`. */
export async function fetchStreamJson(baseUrl: string, key: string, pageSize = 1000, token?: string): Promise<Receipt[]> {
  const out: Receipt[] = []
  let after: string | null = null
  for (;;) {
    const q: URLSearchParams = new URLSearchParams({ stream: key, limit: String(pageSize), ...(after ? { after } : {}) })
    const res: HttpResult<{ stream: string; receipts: Receipt[]; next: string | null }> = await http<{
      stream: string
      receipts: Receipt[]
      next: string | null
    }>(`${baseUrl}/v1/receipts?${q}`, { headers: bearer(token) })
    if (res.status !== 200) throw new Error(`GET /v1/receipts ${res.status}: ${res.text}`)
    out.push(...res.json.receipts)
    after = res.json.next
    if (!after) return out
  }
}

/**
 * Checks served receipt lines the way `pixpax verify` would: each line is the canonical JSON of the
 * receipt (stored bytes are JCS), its body hashes to `hash`, and the whole sequence (identities first)
 * verifies with the shared ChainVerifier. Returns the verifier's summary and any rejections.
 */
export async function verifyLines(
  lines: string[],
  policy: { platformIssuers?: string[] } = {},
): Promise<{
  problems: string[]
  summary: ReturnType<ChainVerifier['summary']>
}> {
  const problems: string[] = []
  const chain = new ChainVerifier({
    verifier: nodeVerifier(),
    sha256: nodeSha256,
    ...(policy.platformIssuers ? { platformIssuers: new Set(policy.platformIssuers) } : {}),
  })
  for (const [i, line] of lines.entries()) {
    const receipt = parseStrictJson(line) as Receipt
    if (Buffer.from(canonicalBytes(receipt)).toString('utf8') !== line) problems.push(`line ${i}: not canonical JSON`)
    if (sha256Ref(receiptCanonicalBytes(receipt), nodeSha256) !== receipt.hash) problems.push(`line ${i}: hash mismatch`)
    const verdict = await chain.add(line)
    if (!verdict.ok) problems.push(`line ${i}: ${verdict.code} ${verdict.message}`)
  }
  return { problems, summary: chain.summary() }
}

// ------------------------------------------------------------------------------------------------
// Stored state

/** Every key under `prefix`, paging through the store. */
export async function listAll(store: ObjectStore, prefix = 'pixpax/'): Promise<string[]> {
  const keys: string[] = []
  let startAfter: string | undefined
  for (;;) {
    const page = await store.list(prefix, { limit: 1000, ...(startAfter ? { startAfter } : {}) })
    keys.push(...page)
    if (page.length < 1000) return keys
    startAfter = page.at(-1)
  }
}

/** A fingerprint of everything stored: projection digest, relay-state row counts, and object keys. */
export async function storedState(
  deps: Pick<AppDeps, 'db' | 'store'>,
): Promise<{ digest: string; acks: number; intents: number; objects: string[] }> {
  const { digest } = await projectionDigest(deps.db)
  const acks = (await deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM acks')).rows[0]!.n
  const intents = (await deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM append_intents')).rows[0]!.n
  return { digest, acks, intents, objects: await listAll(deps.store) }
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}
