import { generateKeyPairSync } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readFile, writeFile } from 'node:fs/promises'
import {
  buildReceipt,
  jwkThumbprint,
  parseStreamKey,
  parseStrictJson,
  PixpaxError,
  PrivateJwkSchema,
  IdentityKindSchema,
  publicJwk,
  IdSchema,
  streamKey as streamKeyOf,
  type ChainHead,
  type PrivateJwk,
  type Receipt,
} from '../index.js'
import { nodeSha256, nodeSigner } from '../node/node-crypto.js'
import { readLines } from '../node/lines.js'
import { CliError } from './cli-error.js'

export async function runKeygen(options: { out?: string | undefined }): Promise<number> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = privateKey.export({ format: 'jwk' })
  const text = JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }) + '\n'
  if (options.out) {
    // wx: never overwrite a key; 0600: a private key is readable by its owner only.
    await writeFile(options.out, text, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      throw new CliError(`cannot create ${options.out}: ${e.code === 'EEXIST' ? 'file exists (refusing to overwrite a key)' : e.message}`)
    })
  } else {
    process.stdout.write(text)
  }
  return 0
}

async function loadKey(path: string | undefined): Promise<PrivateJwk> {
  if (!path) throw new CliError('--key FILE is required')
  const text = await readFile(path, 'utf8').catch((e: Error) => {
    throw new CliError(`cannot read key ${path}: ${e.message}`)
  })
  const parsed = PrivateJwkSchema.safeParse(parseJsonOrFail(text, `key ${path}`))
  if (!parsed.success) throw new CliError(`key ${path} is not a P-256 private JWK`)
  return parsed.data
}

function parseJsonOrFail(text: string, what: string): unknown {
  try {
    return parseStrictJson(text)
  } catch (e) {
    if (e instanceof PixpaxError) throw new CliError(`${what}: ${e.code}: ${e.message}`)
    throw e
  }
}

/** The head of `streamKey` in an NDJSON file: its last receipt there (null if none or no file). */
async function headInFile(file: string, key: string): Promise<ChainHead | null> {
  let head: ChainHead | null = null
  let stream
  try {
    stream = createReadStream(file)
    for await (const line of readLines(stream, 1 << 20)) {
      if (!line.bytes || line.bytes.length === 0) continue
      const value = parseJsonOrFail(line.bytes.toString('utf8'), `${file} line ${line.number}`) as Partial<Receipt>
      if (value.stream && typeof value.eventId === 'string' && typeof value.hash === 'string') {
        let k: string | undefined
        try {
          k = streamKeyOf(value.stream)
        } catch {
          k = undefined
        }
        if (k === key) head = { eventId: value.eventId, hash: value.hash }
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e instanceof CliError ? e : new CliError(`cannot read ${file}: ${(e as Error).message}`)
  }
  return head
}

async function emit(receipt: Receipt, file: string | undefined): Promise<void> {
  const line = JSON.stringify(receipt) + '\n'
  if (file) {
    const handle = await open(file, 'a', 0o644)
    try {
      await handle.writeFile(line)
      await handle.sync() // an acknowledged append survives a crash
    } finally {
      await handle.close()
    }
  }
  process.stdout.write(line)
}

function buildOrFail(promise: Promise<Receipt>): Promise<Receipt> {
  return promise.catch((e: unknown) => {
    if (e instanceof PixpaxError) throw new CliError(`${e.code}: ${e.message}`)
    throw e
  })
}

export async function runIdentity(options: {
  key?: string | undefined
  account?: string | undefined
  name?: string | undefined
  kind?: string | undefined
  id?: string | undefined
  file?: string | undefined
}): Promise<number> {
  const jwk = await loadKey(options.key)
  if (!options.account || !IdSchema.safeParse(options.account).success)
    throw new CliError('--account ID is required (1–64 of A–Z a–z 0–9 _ -)')
  const kind = IdentityKindSchema.safeParse(options.kind ?? 'person')
  if (!kind.success) throw new CliError('--kind must be person, device, issuer or moderator')
  const pub = publicJwk(jwk)
  // Default identity id: the first key's thumbprint, so the same key always names the same identity.
  const identityId = options.id ?? jwkThumbprint(pub)
  if (!IdSchema.safeParse(identityId).success) throw new CliError('--id must be 1–64 of A–Z a–z 0–9 _ -')
  const receipt = await buildOrFail(
    buildReceipt({
      stream: { type: 'identity', identityId },
      type: 'IDENTITY_CREATED',
      payload: { publicKey: pub, accountId: options.account, kind: kind.data, ...(options.name ? { displayName: options.name } : {}) },
      identityId,
      signer: nodeSigner(jwk),
      prev: null,
      sha256: nodeSha256,
    }),
  )
  await emit(receipt, options.file)
  return 0
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

export async function runSign(options: {
  key?: string | undefined
  identity?: string | undefined
  stream?: string | undefined
  type?: string | undefined
  file?: string | undefined
  'idempotency-key'?: string | undefined
}): Promise<number> {
  const jwk = await loadKey(options.key)
  if (!options.identity) throw new CliError('--identity ID is required')
  if (!options.stream) throw new CliError('--stream KEY is required, e.g. pixbook/ACCOUNT/BOOK')
  if (!options.type) throw new CliError('--type TYPE is required, e.g. PIXBOOK_CREATED')
  let stream
  try {
    stream = parseStreamKey(options.stream)
  } catch (e) {
    throw new CliError(`--stream: ${(e as Error).message}`)
  }
  const payload = parseJsonOrFail(await readStdin(), 'payload on stdin')
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new CliError('payload on stdin must be a JSON object')
  const prev = options.file ? await headInFile(options.file, options.stream) : null
  const receipt = await buildOrFail(
    buildReceipt({
      stream,
      type: options.type,
      payload: payload as Record<string, unknown>,
      identityId: options.identity,
      signer: nodeSigner(jwk),
      prev,
      sha256: nodeSha256,
      ...(options['idempotency-key'] ? { idempotencyKey: options['idempotency-key'] } : {}),
    }),
  )
  await emit(receipt, options.file)
  return 0
}
