/**
 * zod schemas for the receipt v1 envelope and the identifiers it carries. The relay's route schemas and
 * the clients' checks import these same objects, so "valid" means one thing everywhere.
 */
import { z } from 'zod'

/** An id inside a stream key: safe as an object-store path segment. */
/**
 * The patterns of the envelope's strings, named once: the zod schemas below and the hand-written fast
 * accept of the envelope (receipt-envelope.ts) test the very same expressions.
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
export const SHA256_REF_PATTERN = /^sha256:[0-9a-f]{64}$/
export const PUBLIC_KEY_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/
export const RECEIPT_TYPE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/

export const IdSchema = z.string().regex(ID_PATTERN, 'an id: 1–64 of A–Z a–z 0–9 _ -')
export const Sha256RefSchema = z.string().regex(SHA256_REF_PATTERN, '"sha256:" + 64 lowercase hex digits')
export const UlidSchema = z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, 'a ULID (26 Crockford base32 characters, uppercase)')
export const PublicKeyIdSchema = z.string().regex(PUBLIC_KEY_ID_PATTERN, 'an RFC 7638 SHA-256 thumbprint, base64url')
export const ReceiptTypeNameSchema = z.string().regex(RECEIPT_TYPE_PATTERN, 'an UPPER_SNAKE receipt type')
export const IdempotencyKeySchema = z.string().regex(IDEMPOTENCY_KEY_PATTERN, '1–128 of A–Z a–z 0–9 _ . : -')

const RFC3339_MS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * Whether `value` is RFC 3339 UTC with exactly three fraction digits and names a real calendar instant
 * (no Feb 30, no hour 24, no leap second): exactly the strings `new Date(ms).toISOString()` writes for
 * years 0000–9999. Arithmetic on the fields rather than a Date round trip: every receipt is checked.
 */
export function isCreatedAt(value: string): boolean {
  const m = RFC3339_MS.exec(value)
  if (!m) return false
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!
  return day <= days && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 60
}

/** RFC 3339 UTC with exactly three fraction digits, a real calendar instant (no Feb 30, no leap second). */
export const CreatedAtSchema = z.string().refine(isCreatedAt, 'RFC 3339 UTC with milliseconds, e.g. 2026-02-24T12:34:56.000Z')

export const IssuerSchema = z.strictObject({
  identityId: IdSchema,
  publicKeyId: PublicKeyIdSchema,
})

/** The stream reference inside a receipt: `{type, …ids}`; which ids is fixed per stream type (streams.ts). */
export const StreamRefSchema = z.looseObject({ type: z.string() })
export type StreamRef = { type: string } & Record<string, string>

/**
 * The receipt v1 envelope. Field formats that have their own error code are deliberately loose here and
 * checked right after (eventId → EVENT_ID_ORDER, prevEventId → CHAIN_BROKEN, signature →
 * SIGNATURE_NOT_CANONICAL, schemaVersion → SCHEMA_VERSION_UNSUPPORTED).
 */
export const ReceiptSchema = z.strictObject({
  eventId: z.string().max(64),
  stream: StreamRefSchema,
  type: ReceiptTypeNameSchema,
  payload: z.record(z.string(), z.unknown()),
  createdAt: CreatedAtSchema,
  issuer: IssuerSchema,
  idempotencyKey: IdempotencyKeySchema,
  prevEventId: z.string().max(64).nullable(),
  prevHash: Sha256RefSchema.nullable(),
  hash: Sha256RefSchema,
  signature: z.string().max(256),
  schemaVersion: z.literal(1),
})

/** A receipt v1 as it travels and is stored. */
export type Receipt = Omit<z.infer<typeof ReceiptSchema>, 'stream' | 'payload'> & {
  stream: StreamRef
  payload: Record<string, unknown>
}

/** A receipt before hashing and signing: what the canonical bytes are computed over. */
export type ReceiptBody = Omit<Receipt, 'hash' | 'signature'>
