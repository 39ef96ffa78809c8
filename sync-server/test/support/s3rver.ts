import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

/** The parts of s3rver (untyped CommonJS) this harness touches. */
interface S3rverObject {
  bucket: string
  key: string
  content: Buffer | AsyncIterable<Buffer>
  metadata: Record<string, string>
}
interface S3rverListedObject {
  key: string
  size: number
  lastModifiedDate: Date
  metadata: Record<string, string>
}
interface S3rverStore {
  listObjects(bucket: string, options: { prefix?: string; maxKeys?: number }): Promise<{ objects: S3rverListedObject[] }>
  getResourcePath(bucket: string, key: string, resource: string): string
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>
  existsObject(bucket: string, key: string): Promise<boolean>
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>
}
interface S3rverInstance {
  store: S3rverStore
  logger: { close(): void }
  configureBuckets(): Promise<void>
  callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance

export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  /** The client's port: requests with the same one shared a keep-alive connection. */
  remotePort: number | undefined
}

export interface RunningS3rver {
  /** `http://127.0.0.1:<port>`; use with `forcePathStyle: true`. */
  endpoint: string
  bucket: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  /** Every request received, in arrival order (for asserting on headers the SDK sends). */
  requests: RecordedRequest[]
  stop(): Promise<void>
}

export interface StartS3rverOptions {
  /**
   * Plain s3rver, which ignores `If-None-Match` on PUT and writes objects in place (a concurrent GET or
   * LIST can see a half-written object). By default the harness makes it behave like S3 and Spaces on
   * both counts; see below.
   */
  raw?: boolean
}

/**
 * Starts s3rver on 127.0.0.1 (a free port), storing into a fresh temp directory, with one bucket
 * (a valid DNS name). Rejects if it cannot start, so a test using it fails rather than skips.
 *
 * s3rver speaks the real S3 protocol, but two of its shortcuts would make the ObjectStore contract
 * fail for reasons that have nothing to do with our code, so unless `raw` is set:
 * - conditional PUTs: an HTTP front serializes PUTs per key and answers `If-None-Match: *` on an
 *   existing key with S3's `412 PreconditionFailed`, as AWS S3 does;
 * - atomic PUTs: its filesystem store's `putObject` is replaced by one that writes a temp file outside
 *   the bucket and renames it into place, so readers never see a torn object (S3 guarantees that).
 * - ListObjectsV2: s3rver lists in directory-walk order (not S3's byte order when a key is a prefix
 *   of a sibling: `a/a` vs `a/a-b`, `x-1` vs `x/1`), and its continuation tokens use DES, which
 *   OpenSSL 3 (Node ≥ 17) refuses, so every truncated listing is a 500. The front answers
 *   ListObjectsV2 itself from s3rver's store, in byte order, with plain base64url tokens.
 */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<RunningS3rver> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor
  const directory = await mkdtemp(join(tmpdir(), 'pixpax-s3rver-'))
  const staging = await mkdtemp(join(tmpdir(), 'pixpax-s3rver-staging-'))
  const bucket = `pixpax-test-${randomBytes(4).toString('hex')}`
  const s3rver = new S3rver({ silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] })
  await s3rver.configureBuckets()
  if (!options.raw) makePutsAtomic(s3rver.store, staging)

  const app = s3rver.callback()
  const requests: RecordedRequest[] = []
  const keyLocks = new KeyedMutex()
  const server = createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: { ...req.headers },
      remotePort: req.socket.remotePort,
    })
    const list = options.raw ? undefined : listObjectsV2Request(req.method, req.url)
    if (list) {
      listObjectsV2(s3rver.store, list.bucket, list.query)
        .then((xml) => res.writeHead(200, { 'content-type': 'application/xml' }).end(xml))
        .catch((err: unknown) => res.writeHead(500).end(String(err)))
      return
    }
    const target = options.raw ? undefined : objectPut(req.method, req.url, req.headers)
    if (!target) return app(req, res)
    void keyLocks
      .run(`${target.bucket}/${target.key}`, async () => {
        const finished = new Promise<void>((resolve) => {
          res.once('finish', resolve)
          res.once('close', resolve)
        })
        if (req.headers['if-none-match'] === '*' && (await s3rver.store.existsObject(target.bucket, target.key))) {
          req.resume()
          res.writeHead(412, { 'content-type': 'application/xml' })
          res.end(
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
              '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
              '<Condition>If-None-Match</Condition><RequestId>s3rver</RequestId></Error>',
          )
        } else {
          app(req, res)
        }
        await finished
      })
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err))
        else res.destroy()
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requests,
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      s3rver.logger.close()
      await rm(directory, { recursive: true, force: true })
      await rm(staging, { recursive: true, force: true })
    },
  }
}

/** A plain PutObject (not a bucket, multipart part or copy): `{bucket, key}` from a path-style URL. */
function objectPut(
  method: string | undefined,
  url: string | undefined,
  headers: IncomingHttpHeaders,
): { bucket: string; key: string } | undefined {
  if (method !== 'PUT' || url === undefined || headers['x-amz-copy-source'] !== undefined) return undefined
  const parsed = new URL(url, 'http://localhost')
  if (parsed.searchParams.has('uploadId') || parsed.searchParams.has('partNumber')) return undefined
  const [, bucket, ...rest] = parsed.pathname.split('/')
  if (bucket === undefined || rest.length === 0 || rest.join('') === '') return undefined
  return { bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join('/') }
}

function listObjectsV2Request(method: string | undefined, url: string | undefined): { bucket: string; query: URLSearchParams } | undefined {
  if (method !== 'GET' || url === undefined) return undefined
  const parsed = new URL(url, 'http://localhost')
  const [, bucket, rest] = parsed.pathname.split('/')
  if (bucket === undefined || bucket === '' || (rest !== undefined && rest !== '')) return undefined
  const q = parsed.searchParams
  if (q.get('list-type') !== '2' || q.has('delimiter')) return undefined
  return { bucket: decodeURIComponent(bucket), query: q }
}

async function listObjectsV2(store: S3rverStore, bucket: string, query: URLSearchParams): Promise<string> {
  const prefix = query.get('prefix') ?? ''
  const token = query.get('continuation-token')
  const startAfter = token !== null ? Buffer.from(token, 'base64url').toString('utf8') : (query.get('start-after') ?? '')
  const maxKeys = Math.min(1000, Number(query.get('max-keys') ?? '1000'))
  const { objects } = await store.listObjects(bucket, { prefix, maxKeys: Infinity })
  const after = objects
    .filter((o) => o.key > startAfter)
    .sort((a, b) => Buffer.compare(Buffer.from(a.key, 'utf8'), Buffer.from(b.key, 'utf8')))
  const page = after.slice(0, maxKeys)
  const truncated = after.length > page.length
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
  const el = (name: string, value: string | number | boolean): string => `<${name}>${esc(String(value))}</${name}>`
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    el('Name', bucket) +
    el('Prefix', prefix) +
    (token !== null ? el('ContinuationToken', token) : query.has('start-after') ? el('StartAfter', startAfter) : '') +
    el('KeyCount', page.length) +
    el('MaxKeys', maxKeys) +
    el('IsTruncated', truncated) +
    (truncated ? el('NextContinuationToken', Buffer.from(page.at(-1)!.key, 'utf8').toString('base64url')) : '') +
    page
      .map(
        (o) =>
          '<Contents>' +
          el('Key', o.key) +
          el('LastModified', o.lastModifiedDate.toISOString()) +
          el('ETag', o.metadata['etag'] ?? '') +
          el('Size', o.size) +
          el('StorageClass', 'STANDARD') +
          '</Contents>',
      )
      .join('') +
    '</ListBucketResult>'
  )
}

function makePutsAtomic(store: S3rverStore, staging: string): void {
  store.putObject = async (object) => {
    const chunks: Buffer[] = []
    if (Buffer.isBuffer(object.content)) chunks.push(object.content)
    else for await (const chunk of object.content) chunks.push(chunk)
    const body = Buffer.concat(chunks)
    const md5 = createHash('md5').update(body).digest('hex')
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object')
    await mkdir(dirname(objectPath), { recursive: true })
    // Outside the bucket directory: s3rver's LIST walks it with readdirSync+statSync and would fail on
    // a temp file that is renamed away between the two.
    const tmp = join(staging, randomBytes(8).toString('hex'))
    await writeFile(tmp, body)
    await store.putMetadata(object.bucket, object.key, object.metadata, md5)
    await rename(tmp, objectPath)
    return { size: body.length, md5 }
  }
}

class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>()

  async run(key: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => (release = resolve))
    const tail = previous.then(() => mine)
    this.#tails.set(key, tail)
    await previous
    try {
      await fn()
    } finally {
      release()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }
}
