import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { parseListPrefix } from './list-prefix.js'
import { assertObjectKey, OBJECT_KEY_PATTERN, type ObjectStore } from './object-store.js'

export interface S3ObjectStoreOptions {
  /** e.g. `https://fra1.digitaloceanspaces.com`; omitted for AWS. */
  endpoint?: string
  region: string
  bucket: string
  /** `true` for s3rver/MinIO; Spaces and AWS accept both. */
  forcePathStyle: boolean
  /** Omitted: the SDK's default chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** Namespace inside the bucket, e.g. `staging/` (a trailing `/` is added if missing). */
  prefix?: string
  /** Sockets per origin in the keep-alive pool (default 128): bounds concurrent requests. */
  maxSockets?: number
}

/**
 * The production object store: S3 (DigitalOcean Spaces) via @aws-sdk/client-s3 v3. S3 makes a PUT
 * visible atomically and durably when it answers 200, which is what the ObjectStore contract needs.
 */
export class S3ObjectStore implements ObjectStore {
  readonly name = 's3'
  readonly bucket: string
  readonly prefix: string
  readonly #client: S3Client

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket
    this.prefix = normalizePrefix(options.prefix ?? '')
    const maxSockets = options.maxSockets ?? 128
    this.#client = new S3Client({
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Since @aws-sdk/client-s3 3.729 the SDK adds CRC32 checksums (x-amz-checksum-crc32,
      // x-amz-sdk-checksum-algorithm, aws-chunked bodies) to every upload and validates them on
      // download. Spaces and s3rver reject or mangle those requests; only send/check checksums where an
      // operation requires them. Integrity of receipts does not depend on it: every receipt carries its
      // own SHA-256 hash, checked by whoever reads it.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // @smithy/node-http-handler is not a direct dependency, so pass its options rather than an
      // instance: the SDK builds keep-alive agents from them (its default is 50 sockets, which a relay
      // appending to many streams at once would queue behind). client.destroy() closes these agents.
      requestHandler: {
        httpAgent: { keepAlive: true, maxSockets },
        httpsAgent: { keepAlive: true, maxSockets },
        connectionTimeout: 5_000,
        requestTimeout: 30_000,
      },
    })
  }

  async putIfAbsent(key: string, bytes: Uint8Array, contentType?: string): Promise<'created' | 'exists'> {
    const Key = this.#key(key)
    for (let attempt = 0; ; attempt++) {
      // Some S3-compatible servers (s3rver, older MinIO/Spaces) ignore If-None-Match and would silently
      // overwrite, so look first. This leaves a HEAD→PUT race on such servers; it is harmless for the
      // relay, which serializes appends per stream with a Postgres advisory lock (ARCHITECTURE §4): this
      // check and If-None-Match are the second line of defense, not the first.
      if (await this.#exists(Key)) return 'exists'
      try {
        await this.#client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            Body: bytes,
            ContentType: contentType ?? 'application/octet-stream',
            IfNoneMatch: '*',
          }),
        )
        return 'created'
      } catch (err) {
        // 412: someone created it between our HEAD and PUT. (If the SDK retried a PUT whose first attempt
        // landed, this is our own object; the bytes are the same either way.)
        if (httpStatus(err) === 412 || errorName(err) === 'PreconditionFailed') return 'exists'
        // 409 ConditionalRequestConflict: AWS's answer to two conditional writes in flight; it asks
        // the client to retry, and the retry's HEAD or 412 settles the outcome.
        if ((httpStatus(err) === 409 || errorName(err) === 'ConditionalRequestConflict') && attempt < 5) {
          await new Promise((r) => setTimeout(r, 20 * 2 ** attempt))
          continue
        }
        throw err
      }
    }
  }

  async put(key: string, bytes: Uint8Array, contentType?: string): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.#key(key),
        Body: bytes,
        ContentType: contentType ?? 'application/octet-stream',
      }),
    )
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.#key(key) }))
      if (!res.Body) return new Uint8Array(0)
      return await res.Body.transformToByteArray()
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<string[]> {
    parseListPrefix(prefix)
    const limit = options.limit ?? 1000
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`invalid list limit ${limit}`)
    const out: string[] = []
    let continuationToken: string | undefined
    let first = true
    while (out.length < limit && (first || continuationToken !== undefined)) {
      const res = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          MaxKeys: Math.min(1000, limit - out.length),
          ...(continuationToken !== undefined
            ? { ContinuationToken: continuationToken }
            : options.startAfter !== undefined
              ? { StartAfter: this.prefix + options.startAfter }
              : {}),
        }),
      )
      first = false
      for (const object of res.Contents ?? []) {
        const key = object.Key?.slice(this.prefix.length)
        // Objects someone else put in the bucket under our prefix with names that are not keys are
        // skipped (as the filesystem store skips stray files), so every listed key can be read back.
        if (key !== undefined && OBJECT_KEY_PATTERN.test(key)) out.push(key)
      }
      continuationToken = res.IsTruncated ? res.NextContinuationToken : undefined
    }
    return out.slice(0, limit)
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#key(key) }))
  }

  async ping(): Promise<void> {
    await this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }))
  }

  async close(): Promise<void> {
    this.#client.destroy()
  }

  #key(key: string): string {
    assertObjectKey(key)
    return this.prefix + key
  }

  async #exists(Key: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }))
      return true
    } catch (err) {
      if (isNotFound(err)) return false
      throw err
    }
  }
}

function normalizePrefix(prefix: string): string {
  if (prefix === '') return ''
  const bare = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
  assertObjectKey(bare)
  return `${bare}/`
}

function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined
  const meta = err.$metadata
  return typeof meta === 'object' && meta !== null && 'httpStatusCode' in meta && typeof meta.httpStatusCode === 'number'
    ? meta.httpStatusCode
    : undefined
}

function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined
}

/** The object is absent. A missing bucket (NoSuchBucket) is a configuration error and still throws. */
function isNotFound(err: unknown): boolean {
  const name = errorName(err)
  if (name === 'NoSuchBucket') return false
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatus(err) === 404
}
