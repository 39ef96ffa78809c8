/**
 * Fetching and verifying a book's counterpart receipts (`GET /v1/pixbooks/:accountId/:bookId/counterparts`,
 * docs/economy.md "Offline book view"): the receipts of other books that decide this book's trades. Each
 * is kept only once verified, exactly as far as a client can without the other book's stream:
 *
 * 1. the receipt itself: canonical form, hash, schema (`checkReceipt`), a pixbook receipt of another
 *    book of a type that concerns trades or packs, or a collection's catalog (COLLECTION_CREATED,
 *    COLLECTION_VERSION_PUBLISHED), and naming this book where its payload names one;
 * 2. the relay's ack: it names this receipt at this seq and position and verifies under the pinned relay
 *    key (the same `verifyAck` the sync engine uses for our own pushes) — the relay's signed word that it
 *    accepted the receipt there, after deciding every rule (ownership, open offer) with both books;
 * 3. the issuer's signature under its key as the issuer's identity stream in the local log has it at
 *    that position (known, not revoked before it), verified with the client's SignatureVerifier;
 * 4. the issuer's authority as far as it shows without the other stream: a trade receipt's issuer
 *    belongs to the book's account, a pack's or a collection's is a platform issuer.
 *
 * A receipt that fails is not kept; it is quarantined in the local log and reported.
 */
import {
  AckSchema,
  checkReceipt,
  nextIdentityState,
  nobleSha256,
  parseStreamKey,
  PixpaxError,
  webCryptoVerifier,
  type IdentityState,
  type Receipt,
  type Sha256,
  type SignatureVerifier,
  type TrustPolicy,
} from '@pixpax/shared'
import type { LocalLog } from '../storage/local-log.js'
import { verifyAck } from '../sync/delivery.js'
import { META_RELAY_PIN, type RelayPin } from '../sync/relay-trust.js'
import { bookStreamKey, type BookRef } from '../book-ref.js'
import { EconomyCommandError } from './commands.js'
import { CounterpartStore, type CounterpartReceipt } from './counterpart-store.js'

/** What may be served, by stream type: the trade receipts and packs of other books, and the catalog. */
const COUNTERPART_TYPES: Record<string, ReadonlySet<string>> = {
  pixbook: new Set(['PACK_ISSUED', 'CARD_TRADE_OFFERED', 'CARD_TRADE_ACCEPTED', 'CARD_TRADE_DECLINED', 'CARD_TRADE_CANCELLED']),
  collection: new Set(['COLLECTION_CREATED', 'COLLECTION_VERSION_PUBLISHED']),
}
/** Receipt types only a platform issuer signs (the others here: a member of the book's account). */
const ISSUER_TYPES = new Set(['PACK_ISSUED', 'COLLECTION_CREATED', 'COLLECTION_VERSION_PUBLISHED'])

export interface FetchCounterpartsOptions {
  relayUrl: string
  /** A session token that may read the book. */
  token: string
  book: BookRef
  /** The client's local log: the pinned relay key, issuers' identity streams, and where they are kept. */
  log: LocalLog
  verifier?: SignatureVerifier
  sha256?: Sha256
  /** Which identities hold the platform issuer role (as given to the SyncClient). */
  trust?: TrustPolicy
  /**
   * Brings the identity streams of these issuers into the local log, when it holds none of them yet —
   * e.g. `(ids) => { ids.forEach((id) => client.follow(`identity/${id}`)); return client.whenSynced() }`.
   */
  identities?: (identityIds: string[]) => Promise<void>
  fetch?: typeof fetch
  now?: () => number
}

export interface RefusedCounterpart {
  streamKey?: string
  eventId?: string
  code: string
  message: string
}

export interface FetchCounterpartsResult {
  /** Verified and kept (new or already kept before). */
  kept: CounterpartReceipt[]
  /** Served but not verified: not kept, quarantined. */
  refused: RefusedCounterpart[]
}

/** Fetches the book's counterpart receipts from the relay, verifies each, keeps the verified ones. */
export async function fetchCounterparts(options: FetchCounterpartsOptions): Promise<FetchCounterpartsResult> {
  const { book, log } = options
  const fetchImpl = options.fetch ?? fetch
  const url = `${options.relayUrl.replace(/\/$/, '')}/v1/pixbooks/${encodeURIComponent(book.accountId)}/${encodeURIComponent(book.bookId)}/counterparts`
  const res = await fetchImpl(url, { headers: { authorization: `Bearer ${options.token}` } })
  const body = (await res.json()) as { receipts?: unknown; error?: { code: string; message: string; details?: Record<string, unknown> } }
  if (!res.ok || body.error || !Array.isArray(body.receipts))
    throw new EconomyCommandError(res.status, body.error?.code ?? 'INTERNAL', body.error?.message ?? `counterparts failed (${res.status})`)
  const served = body.receipts as unknown[]

  const issuers = [...new Set(served.map((e) => (e as { receipt?: Partial<Receipt> })?.receipt?.issuer?.identityId).filter(isString))]
  const missing: string[] = []
  for (const id of issuers) if (!(await log.head(`identity/${id}`))) missing.push(id)
  if (missing.length && options.identities) await options.identities(missing)

  const ctx: VerifyContext = {
    book,
    log,
    verifier: options.verifier ?? webCryptoVerifier(),
    sha256: options.sha256 ?? nobleSha256,
    trust: options.trust ?? {},
    pin: (await log.getMeta(META_RELAY_PIN)) as RelayPin | undefined,
    identities: new Map(),
  }
  const kept: CounterpartReceipt[] = []
  const refused: RefusedCounterpart[] = []
  const now = options.now ?? Date.now
  for (const entry of served) {
    try {
      kept.push(await verifyCounterpart(ctx, entry))
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      const e = entry as { streamKey?: unknown; receipt?: { eventId?: unknown } }
      const streamKey = isString(e?.streamKey) ? e.streamKey : undefined
      const eventId = isString(e?.receipt?.eventId) ? e.receipt.eventId : undefined
      refused.push({ ...(streamKey ? { streamKey } : {}), ...(eventId ? { eventId } : {}), code: error.code, message: error.message })
      await log.addQuarantine({
        id: `counterpart ${streamKey ?? '?'} ${eventId ?? '?'}`,
        ...(streamKey ? { streamKey } : {}),
        ...(eventId ? { eventId } : {}),
        raw: JSON.stringify(entry),
        code: error.code,
        message: error.message,
        at: now(),
      })
    }
  }
  await new CounterpartStore(log).add(book, kept)
  return { kept, refused }
}

const isString = (x: unknown): x is string => typeof x === 'string'

interface VerifyContext {
  book: BookRef
  log: LocalLog
  verifier: SignatureVerifier
  sha256: Sha256
  trust: TrustPolicy
  pin: RelayPin | undefined
  /** Identity streams read from the local log, once per fetch. */
  identities: Map<string, Array<{ position: number; receipt: unknown }>>
}

/** Verifies one served entry (steps 1–4 above); throws PixpaxError. */
async function verifyCounterpart(ctx: VerifyContext, entry: unknown): Promise<CounterpartReceipt> {
  const e = entry as Partial<CounterpartReceipt> | null
  if (typeof e !== 'object' || e === null || !isString(e.streamKey) || !Number.isInteger(e.seq) || !Number.isInteger(e.position))
    throw new PixpaxError('SCHEMA_INVALID', 'a counterpart entry is {streamKey, seq, position, receipt, ack}')
  const ackParsed = AckSchema.safeParse(e.ack)
  if (!ackParsed.success) throw new PixpaxError('SCHEMA_INVALID', 'the entry has no well-formed relay ack')
  const checked = checkReceipt(e.receipt, ctx.sha256)
  const { receipt } = checked
  const { streamKey } = e
  const seq = e.seq!
  const position = e.position!
  if (checked.streamKey !== streamKey) throw new PixpaxError('SCHEMA_INVALID', `a receipt of ${checked.streamKey} served as ${streamKey}`)
  const mine = bookStreamKey(ctx.book)
  if (streamKey === mine || !COUNTERPART_TYPES[receipt.stream.type]?.has(receipt.type))
    throw new PixpaxError('SCHEMA_INVALID', `${receipt.type} of ${streamKey} is not a counterpart receipt of ${mine}`)
  const named =
    receipt.type === 'CARD_TRADE_OFFERED'
      ? receipt.payload.to
      : receipt.type === 'CARD_TRADE_ACCEPTED' || receipt.type === 'CARD_TRADE_DECLINED'
        ? receipt.payload.from
        : undefined
  if (named !== undefined) {
    const ref = named as BookRef
    if (ref.accountId !== ctx.book.accountId || ref.bookId !== ctx.book.bookId)
      throw new PixpaxError('SCHEMA_INVALID', `${receipt.type} ${receipt.eventId} does not name book ${mine}`)
  }
  await verifyAck(ctx.pin, ctx.verifier, ackParsed.data, streamKey, seq, receipt, position)

  const issuer = await identityAt(ctx, receipt.issuer.identityId, position)
  const key = issuer?.keys.get(receipt.issuer.publicKeyId)
  if (!issuer || !key)
    throw new PixpaxError(
      'KEY_UNKNOWN',
      `key ${receipt.issuer.publicKeyId} of ${receipt.issuer.identityId} is not known at position ${position}`,
    )
  if (key.revoked)
    throw new PixpaxError('KEY_REVOKED', `key ${receipt.issuer.publicKeyId} of ${receipt.issuer.identityId} was revoked before it`)
  if (!(await ctx.verifier.verify(key.publicKey, checked.canonical, checked.signature)))
    throw new PixpaxError('SIGNATURE_INVALID', `signature does not verify under key ${receipt.issuer.publicKeyId}`)
  const stream = parseStreamKey(streamKey)
  const allowed = ISSUER_TYPES.has(receipt.type)
    ? issuer.kind === 'issuer' && (!ctx.trust.platformIssuers || ctx.trust.platformIssuers.has(issuer.identityId))
    : issuer.accountId === stream.accountId
  if (!allowed) throw new PixpaxError('NOT_AUTHORIZED', `${issuer.identityId} may not issue ${receipt.type} into ${streamKey}`)
  return { streamKey, seq, position, receipt, ack: ackParsed.data }
}

/** An identity's keys as its stream in the local log has them before `position` (revocations included). */
async function identityAt(ctx: VerifyContext, identityId: string, position: number): Promise<IdentityState | undefined> {
  let logged = ctx.identities.get(identityId)
  if (!logged) {
    logged = (await ctx.log.read(`identity/${identityId}`)).map((l) => ({
      position: l.position ?? l.ack?.position ?? Number.MAX_SAFE_INTEGER,
      receipt: l.receipt,
    }))
    ctx.identities.set(identityId, logged)
  }
  let state: IdentityState | undefined
  for (const l of logged) {
    if (l.position >= position) break
    state = nextIdentityState(checkReceipt(l.receipt, ctx.sha256), state)
  }
  return state
}
