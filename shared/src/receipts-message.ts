/**
 * A hand-written fast accept for the `receipts` message of `ServerMessageSchema` (sync-protocol.ts): a
 * catch-up is hundreds of these, each with up to 500 delivered receipts, and zod's parse of the envelope
 * builds a copy of every `{seq, position, receipt}` on the client's main thread. `ServerMessageSchema`
 * stays the schema of record: this only ever answers "zod accepts this" or "ask zod", so any message it
 * does not recognise is parsed (and refused, with zod's first issue) exactly as before. Property-tested
 * against `ServerMessageSchema.safeParse` (shared/test/receipts-message.test.ts).
 */
import { hasOnlyOwnKeys, isPlainRecord } from './plain-record.js'
import { MAX_NOTE_LENGTH } from './log/checkpoint.js'
import { MAX_PROOF_HASHES } from './log/merkle.js'
import { MAX_DELIVERY_PROOF_HASHES, TREE_HASH_PATTERN as TREE_HASH, type ServerMessage } from './sync-protocol.js'

/** The `receipts` member of the server message union. */
export type ReceiptsMessage = Extract<ServerMessage, { type: 'receipts' }>

/** True only when `ServerMessageSchema.safeParse(value)` succeeds with a `receipts` message (false: ask zod). */
export function isReceiptsMessage(value: unknown): value is ReceiptsMessage {
  if (!isPlainRecord(value) || !hasOnlyOwnKeys(value, MESSAGE_KEYS)) return false
  const { type, stream, receipts, checkpoint, proof } = value
  if (type !== 'receipts' || typeof stream !== 'string' || stream.length < 1 || stream.length > 300) return false
  if (!Array.isArray(receipts) || receipts.length < 1) return false
  for (let i = 0; i < receipts.length; i++) {
    const d: unknown = receipts[i]
    if (!isPlainRecord(d) || !hasOnlyOwnKeys(d, DELIVERED_KEYS)) return false
    const { seq, position, receipt } = d
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) return false
    if (!Number.isSafeInteger(position) || (position as number) < 0) return false
    if (receipt === undefined) return false
  }
  if (!isPlainRecord(checkpoint)) return false
  const hasConsistency = Object.hasOwn(checkpoint, 'consistency')
  if (!hasOnlyOwnKeys(checkpoint, CHECKPOINT_KEYS, hasConsistency ? 2 : 1)) return false
  const { note, consistency } = checkpoint
  if (typeof note !== 'string' || note.length < 1 || note.length > MAX_NOTE_LENGTH) return false
  if (hasConsistency) {
    if (!isPlainRecord(consistency) || !hasOnlyOwnKeys(consistency, CONSISTENCY_KEYS)) return false
    const { from, hashes } = consistency
    if (!Number.isSafeInteger(from) || (from as number) < 1) return false
    if (!isTreeHashes(hashes, MAX_PROOF_HASHES)) return false
  }
  return isTreeHashes(proof, MAX_DELIVERY_PROOF_HASHES)
}

const MESSAGE_KEYS: ReadonlySet<string> = new Set(['type', 'stream', 'receipts', 'checkpoint', 'proof'])
const DELIVERED_KEYS: ReadonlySet<string> = new Set(['seq', 'position', 'receipt'])
const CHECKPOINT_KEYS: ReadonlySet<string> = new Set(['note', 'consistency'])
const CONSISTENCY_KEYS: ReadonlySet<string> = new Set(['from', 'hashes'])

function isTreeHashes(value: unknown, max: number): boolean {
  if (!Array.isArray(value) || value.length > max) return false
  for (let i = 0; i < value.length; i++) {
    const h: unknown = value[i]
    if (typeof h !== 'string' || !TREE_HASH.test(h)) return false
  }
  return true
}
