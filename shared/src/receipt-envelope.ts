/**
 * A hand-written fast accept for `ReceiptSchema` (schemas.ts), the receipt v1 envelope. Every delivered
 * and every posted receipt is checked against the envelope, and zod's parse of it cost ≈ 8 µs a receipt
 * on the catch-up's main thread (`pnpm bench sync` profile) — more than the rest of checkReceipt but the
 * hashing. `ReceiptSchema` stays the schema of record: this function only ever says "zod accepts this"
 * or "ask zod", so a receipt it does not recognise is parsed by zod and refused with zod's first issue,
 * exactly as before. It is stricter than zod where that is cheaper (plain objects only, own properties
 * only); property-tested against `ReceiptSchema.safeParse` (shared/test/receipt-envelope.test.ts).
 */
import { hasOnlyOwnKeys, isPlainRecord } from './plain-record.js'
import {
  ID_PATTERN as ID,
  IDEMPOTENCY_KEY_PATTERN as IDEMPOTENCY_KEY,
  isCreatedAt,
  PUBLIC_KEY_ID_PATTERN as PUBLIC_KEY_ID,
  RECEIPT_TYPE_PATTERN as RECEIPT_TYPE,
  SHA256_REF_PATTERN as SHA256_REF,
} from './schemas.js'

/** The members of a receipt v1, each exactly once. */
const RECEIPT_KEYS: ReadonlySet<string> = new Set([
  'eventId',
  'stream',
  'type',
  'payload',
  'createdAt',
  'issuer',
  'idempotencyKey',
  'prevEventId',
  'prevHash',
  'hash',
  'signature',
  'schemaVersion',
])

/**
 * True only when `ReceiptSchema.safeParse(value)` succeeds (a false answer means "not known here": let
 * zod decide and name the issue). `isCreatedAt` is the very refinement `CreatedAtSchema` runs.
 */
export function isReceiptEnvelope(value: unknown): boolean {
  if (!isPlainRecord(value) || !hasOnlyOwnKeys(value, RECEIPT_KEYS)) return false
  const { eventId, stream, type, payload, createdAt, issuer, idempotencyKey, prevEventId, prevHash, hash, signature, schemaVersion } = value
  return (
    typeof eventId === 'string' &&
    eventId.length <= 64 &&
    // StreamRefSchema is a loose object: `type` a string, any other members.
    isPlainRecord(stream) &&
    Object.hasOwn(stream, 'type') &&
    typeof stream.type === 'string' &&
    typeof type === 'string' &&
    RECEIPT_TYPE.test(type) &&
    // z.record(z.string(), z.unknown()): a plain object with string keys.
    isPlainRecord(payload) &&
    Object.getOwnPropertySymbols(payload).length === 0 &&
    typeof createdAt === 'string' &&
    isCreatedAt(createdAt) &&
    isPlainRecord(issuer) &&
    hasOnlyOwnKeys(issuer, ISSUER_KEYS) &&
    typeof issuer.identityId === 'string' &&
    ID.test(issuer.identityId) &&
    typeof issuer.publicKeyId === 'string' &&
    PUBLIC_KEY_ID.test(issuer.publicKeyId) &&
    typeof idempotencyKey === 'string' &&
    IDEMPOTENCY_KEY.test(idempotencyKey) &&
    (prevEventId === null || (typeof prevEventId === 'string' && prevEventId.length <= 64)) &&
    (prevHash === null || (typeof prevHash === 'string' && SHA256_REF.test(prevHash))) &&
    typeof hash === 'string' &&
    SHA256_REF.test(hash) &&
    typeof signature === 'string' &&
    signature.length <= 256 &&
    schemaVersion === 1
  )
}

const ISSUER_KEYS: ReadonlySet<string> = new Set(['identityId', 'publicKeyId'])
