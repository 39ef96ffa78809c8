/**
 * One receipt on its own: parse, check the envelope, compute canonical bytes and hash, build and sign.
 * Everything that needs other receipts (keys, chain, authority) is in chain.ts.
 */
import type { z } from 'zod'
import { canonicalBytes, canonicalJsonOmitting, canonicalJsonWithout } from './canonical-json.js'
import { parseSignature, formatSignature } from './crypto/signature.js'
import { nobleSha256 } from './crypto/noble.js'
import type { Sha256, Signer } from './crypto/types.js'
import { bytesToHex, utf8Encode } from './encoding.js'
import { PixpaxError } from './errors.js'
import { isReceiptEnvelope } from './receipt-envelope.js'
import { ReceiptSchema, type Receipt, type ReceiptBody, type StreamRef } from './schemas.js'
import { assertJsonValue, parseStrictJson } from './strict-json.js'
import { checkStreamRef, streamKey, type StreamTypeSpec } from './streams.js'
import { isUlid, nextUlid } from './ulid.js'

/** Largest canonical receipt, in bytes (ARCHITECTURE §2). */
export const MAX_RECEIPT_BYTES = 64 * 1024
/** Input text longer than this is refused before parsing: no canonical form of it can fit. */
export const MAX_RECEIPT_TEXT = 8 * MAX_RECEIPT_BYTES

/** A receipt that passed every check that needs nothing but itself. */
export interface CheckedReceipt {
  readonly receipt: Receipt
  readonly streamKey: string
  readonly spec: StreamTypeSpec
  /** RFC 8785 bytes of the receipt without `hash` and `signature`: what is hashed and signed. */
  readonly canonical: Uint8Array
  /** The decoded 64-byte low-S signature (not yet verified). */
  readonly signature: Uint8Array
  /**
   * RFC 8785 text of the whole receipt (`hash` and `signature` included): its object's bytes. Set by
   * checkReceipt, which gets it with the body's canonical bytes at the cost of one canonicalization.
   */
  readonly text?: string
}

/** `"sha256:" + hex` of some bytes. */
export function sha256Ref(data: Uint8Array, sha256: Sha256 = nobleSha256): string {
  return 'sha256:' + bytesToHex(sha256(data))
}

/** The members a receipt's hash and signature are not computed over. */
const SIGNED_OVER_OMITS: ReadonlySet<string> = new Set(['hash', 'signature'])

/** The receipt without `hash` and `signature`. */
export function receiptBody(receipt: Receipt | ReceiptBody): ReceiptBody {
  const { hash: _hash, signature: _signature, ...body } = receipt as Receipt
  return body
}

/** The canonical bytes of a receipt (its body: `hash` and `signature` removed). */
export function receiptCanonicalBytes(receipt: Receipt | ReceiptBody): Uint8Array {
  return canonicalBytes(receiptBody(receipt))
}

function zodIssueMessage(error: z.ZodError): { message: string; path: string } {
  const issue = error.issues[0]!
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)'
  if (issue.code === 'unrecognized_keys') {
    return { message: `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} at ${path}`, path }
  }
  return { message: `${path}: ${issue.message}`, path }
}

/** Validates a payload against its receipt type's schema (SCHEMA_INVALID). */
function checkPayload(spec: StreamTypeSpec, type: string, payload: Record<string, unknown>): void {
  const typeSpec = Object.hasOwn(spec.receipts, type) ? spec.receipts[type] : undefined
  if (!typeSpec) {
    throw new PixpaxError('SCHEMA_INVALID', `stream type ${spec.type} does not accept receipt type ${type}`, {
      path: 'type',
      accepted: Object.keys(spec.receipts),
    })
  }
  const result = typeSpec.payload.safeParse(payload)
  if (!result.success) {
    const { message, path } = zodIssueMessage(result.error)
    throw new PixpaxError('SCHEMA_INVALID', `payload of ${type}: ${message}`, { path: `payload.${path}` })
  }
}

export interface CheckReceiptOptions {
  /** Also give the receipt's whole canonical text (`CheckedReceipt.text`; default true). */
  text?: boolean
}

/**
 * Checks everything about one receipt that needs no other receipt, in this order: schemaVersion
 * (SCHEMA_VERSION_UNSUPPORTED), envelope shape and stream reference (SCHEMA_INVALID), JSON value rules
 * of the payload (SCHEMA_INVALID), canonical size (RECEIPT_TOO_LARGE), payload schema of the receipt
 * type (SCHEMA_INVALID), eventId format (EVENT_ID_ORDER), hash (HASH_MISMATCH), signature encoding
 * (SIGNATURE_NOT_CANONICAL). Throws PixpaxError with the first failing code.
 */
export function checkReceipt(value: unknown, sha256: Sha256 = nobleSha256, options: CheckReceiptOptions = {}): CheckedReceipt {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PixpaxError('SCHEMA_INVALID', 'a receipt must be a JSON object')
  }
  const record = value as Record<string, unknown>
  if ('schemaVersion' in record && record.schemaVersion !== 1) {
    throw new PixpaxError('SCHEMA_VERSION_UNSUPPORTED', `schemaVersion ${JSON.stringify(record.schemaVersion)} is not supported (only 1)`, {
      supported: [1],
    })
  }
  // The hand check accepts only what zod accepts; anything else is zod's to refuse (or accept) and name.
  if (!isReceiptEnvelope(value)) {
    const parsed = ReceiptSchema.safeParse(value)
    if (!parsed.success) {
      const { message, path } = zodIssueMessage(parsed.error)
      throw new PixpaxError('SCHEMA_INVALID', message, { path })
    }
  }
  // zod returns copies; keep the caller's object so nothing is normalized away behind our back.
  const receipt = value as Receipt
  const spec = checkStreamRef(receipt.stream)
  // The whole receipt, not just the payload: zod's z.string() lets lone surrogates through (eventId,
  // prevEventId), and canonicalization would then throw a plain Error instead of a PixpaxError.
  assertJsonValue(receipt, '$')
  const forms =
    options.text === false
      ? { without: canonicalJsonOmitting(receipt as unknown as Record<string, unknown>, SIGNED_OVER_OMITS), whole: undefined }
      : canonicalJsonWithout(receipt as unknown as Record<string, unknown>, SIGNED_OVER_OMITS)
  const canonical = utf8Encode(forms.without)
  if (canonical.length > MAX_RECEIPT_BYTES) {
    throw new PixpaxError('RECEIPT_TOO_LARGE', `canonical receipt is ${canonical.length} bytes; the limit is ${MAX_RECEIPT_BYTES}`, {
      size: canonical.length,
      limit: MAX_RECEIPT_BYTES,
    })
  }
  checkPayload(spec, receipt.type, receipt.payload)
  if (!isUlid(receipt.eventId)) {
    throw new PixpaxError('EVENT_ID_ORDER', 'eventId is not a ULID (26 uppercase Crockford base32 characters)')
  }
  const expected = sha256Ref(canonical, sha256)
  if (receipt.hash !== expected) {
    throw new PixpaxError('HASH_MISMATCH', `hash does not match the canonical bytes (expected ${expected})`, { expected })
  }
  const signature = parseSignature(receipt.signature)
  const checked: CheckedReceipt = { receipt, streamKey: streamKey(receipt.stream), spec, canonical, signature }
  return forms.whole === undefined ? checked : { ...checked, text: forms.whole }
}

/** Parses receipt JSON text strictly (DUPLICATE_KEY, JSON_INVALID, …) and checks it with `checkReceipt`. */
export function parseReceipt(text: string, sha256: Sha256 = nobleSha256): CheckedReceipt {
  if (text.length > MAX_RECEIPT_TEXT) {
    throw new PixpaxError(
      'RECEIPT_TOO_LARGE',
      `receipt text is ${text.length} characters; no receipt that long can fit ${MAX_RECEIPT_BYTES} canonical bytes`,
    )
  }
  return checkReceipt(parseStrictJson(text), sha256)
}

/** The predecessor a new receipt chains to: the stream head, or null for a stream's first receipt. */
export interface ChainHead {
  readonly eventId: string
  readonly hash: string
}

export interface BuildReceiptInput {
  stream: StreamRef
  type: string
  payload: Record<string, unknown>
  identityId: string
  signer: Signer
  prev: ChainHead | null
  /** Defaults to a fresh random UUID: pass your own to make a command safely retryable. */
  idempotencyKey?: string
  /** Defaults to now. */
  createdAt?: string
  /** Defaults to a ULID after `prev.eventId`. */
  eventId?: string
  now?: () => number
  sha256?: Sha256
}

/**
 * Builds, hashes and signs a receipt chained to `prev`, and checks the result with `checkReceipt` so a
 * bad payload fails here, at the author, not later at a verifier.
 */
export async function buildReceipt(input: BuildReceiptInput): Promise<Receipt> {
  const now = input.now ?? Date.now
  const sha256 = input.sha256 ?? nobleSha256
  assertJsonValue(input.payload, '$.payload')
  const body: ReceiptBody = {
    eventId: input.eventId ?? nextUlid(input.prev?.eventId, now()),
    stream: input.stream,
    type: input.type,
    payload: input.payload,
    createdAt: input.createdAt ?? new Date(now()).toISOString(),
    issuer: { identityId: input.identityId, publicKeyId: input.signer.publicKeyId },
    idempotencyKey: input.idempotencyKey ?? crypto.randomUUID(),
    prevEventId: input.prev?.eventId ?? null,
    prevHash: input.prev?.hash ?? null,
    schemaVersion: 1,
  }
  const canonical = canonicalBytes(body)
  const hash = sha256Ref(canonical, sha256)
  const signature = formatSignature(await input.signer.sign(canonical))
  const receipt: Receipt = { ...body, hash, signature }
  checkReceipt(receipt, sha256, { text: false })
  return receipt
}
