/**
 * Test harness for the relay over real sockets: the in-process relay starter (`startTestRelay`, from
 * src/testing.ts) and the client kit (`@pixpax/shared/testing`) re-exported, a relay child process
 * (`startRelayProcess`, the real `main.ts`), and HTTP helpers that post receipts with real `fetch`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  canonicalBytes,
  ChainVerifier,
  formatSignature,
  jwkThumbprint,
  parseSignature,
  parseStrictJson,
  receiptCanonicalBytes,
  sha256Ref,
  type PublicJwk,
  type Receipt,
} from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import type { Identity, StreamWriter } from '@pixpax/shared/testing'
import pg from 'pg'
import type { AppDeps } from '../../src/app.js'
import type { Ack } from '../../src/ingest/ack.js'
import type { AcceptedResult } from '../../src/ingest/ingest.js'
import { projectionDigest } from '../../src/replay/digest.js'
import type { ObjectStore } from '../../src/stores/object-store.js'
import { DATABASE_URL } from '../../src/testing.js'

// ------------------------------------------------------------------------------------------------
// Postgres

export { DATABASE_URL, uniqueSchema } from '../../src/testing.js'

export async function adminQuery<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    return (await client.query<R>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** Test files drop their schemas one at a time, under this session advisory lock (any 64-bit key). */
const DROP_SCHEMAS_LOCK = 7_261_004

/**
 * Drops every schema whose name starts with `prefix` (a test file's schemas). Two `DROP SCHEMA … CASCADE`
 * running at once in other test files can deadlock on the catalog objects they share (Postgres picks one
 * as the victim: 40P01, seen in CI under load), so drops are serialised across processes and a victim
 * tries again.
 */
export async function dropSchemas(prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [DROP_SCHEMAS_LOCK])
    const rows = (await client.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname LIKE $1', [`${prefix}%`])).rows
    for (const { nspname } of rows) {
      for (let attempt = 1; ; attempt++) {
        try {
          await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`)
          break
        } catch (error) {
          if ((error as { code?: string }).code !== '40P01' || attempt === 5) throw error
        }
      }
    }
  } finally {
    await client.end() // ends the session, and with it the advisory lock
  }
}

// ------------------------------------------------------------------------------------------------
// In-process relay: one starter for every package, in src/testing.ts

export {
  openStoreFor,
  relayEnv,
  s3Store,
  startTestRelay,
  type DbKind,
  type StoreKind,
  type TestRelay,
  type TestRelayOptions,
} from '../../src/testing.js'

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

// The client side (identities, stream writers) is the shared test kit; re-exported for the relay tests.
export {
  accountStream,
  identityCreated,
  identityStream,
  newIdentity,
  newKey,
  pixbookStream,
  StreamWriter,
  type BuildOptions,
  type Identity,
} from '@pixpax/shared/testing'

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
