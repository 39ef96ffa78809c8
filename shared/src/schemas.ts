/**
 * zod schemas for the receipt v1 envelope and the identifiers it carries. The relay's route schemas and
 * the clients' checks import these same objects, so "valid" means one thing everywhere.
 */
import { z } from 'zod'

/** An id inside a stream key: safe as an object-store path segment. */
export const IdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an id: 1–64 of A–Z a–z 0–9 _ -')
export const Sha256RefSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, '"sha256:" + 64 lowercase hex digits')
export const UlidSchema = z.string().regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, 'a ULID (26 Crockford base32 characters, uppercase)')
export const PublicKeyIdSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an RFC 7638 SHA-256 thumbprint, base64url')
export const ReceiptTypeNameSchema = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'an UPPER_SNAKE receipt type')
export const IdempotencyKeySchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, '1–128 of A–Z a–z 0–9 _ . : -')

const RFC3339_MS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/

/** RFC 3339 UTC with exactly three fraction digits, a real calendar instant (no Feb 30, no leap second). */
export const CreatedAtSchema = z.string().refine((value) => {
  const m = RFC3339_MS.exec(value)
  if (!m) return false
  const ms = Date.parse(value)
  return Number.isFinite(ms) && new Date(ms).toISOString() === value
}, 'RFC 3339 UTC with milliseconds, e.g. 2026-02-24T12:34:56.000Z')

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
