/**
 * One group commit (ARCHITECTURE §1, §4): the appends of many requests, over many streams, in ONE
 * transaction — every stream lock in one statement, the ledger state in one query, the rules in memory,
 * the intents in one INSERT, the objects in parallel across streams (chain order within one), the log
 * positions under one row lock, and one multi-row statement per projection table. The steps are the
 * functions below, in the order commitBatch calls them.
 */
import {
  canonicalBytes,
  evaluateReceipt,
  leafData,
  parseReceipt,
  PixpaxError,
  reusingVerifier,
  utf8DecodeStrict,
  type Acceptance,
  type CheckedReceipt,
  type EarlyVerification,
  type SignatureVerifier,
  type TrustPolicy,
} from '@pixpax/shared'
import type { ProjectionDb, Queryable } from '../db/projection-db.js'
import type { ProjectedReceipt, Projector } from '../projection/projector.js'
import { receiptObjectKey } from '../projection/object-keys.js'
import type { ObjectStore } from '../stores/object-store.js'
import type { Ack } from './ack.js'
import { BatchLedger } from './batch-ledger.js'

export interface AcceptedResult {
  ok: true
  eventId: string
  seq: number
  position: number
  hash: string
  ack: Ack
}
export interface RejectedResult {
  ok: false
  eventId?: string
  error: { code: PixpaxError['code']; message: string; details?: Record<string, unknown> }
}
export type IngestResult = AcceptedResult | RejectedResult

/** An accepted receipt before its ack is signed. */
export interface Sequenced {
  receipt: CheckedReceipt['receipt']
  streamKey: string
  seq: number
  position: number
}

/** One request's receipts for one stream, in chain order, with their signature checks under way. */
export interface StreamGroup {
  readonly streamKey: string
  readonly receipts: readonly CheckedReceipt[]
  readonly early: ReadonlyMap<CheckedReceipt, EarlyVerification>
}

/** What a group gets back: per receipt, an accepted position, a rejection, or an earlier result to look up. */
export type Outcome =
  | { kind: 'accepted'; sequenced: Sequenced }
  | { kind: 'rejected'; result: RejectedResult }
  /** An exact retry of a receipt accepted before (or earlier in this batch): answered with its first result. */
  | { kind: 'retry'; identityId: string; idempotencyKey: string; eventId: string }

export interface BatchDeps {
  db: ProjectionDb
  store: ObjectStore
  verifier: SignatureVerifier
  policy: TrustPolicy
  projectors: readonly Projector[]
  /** pg only: channel for NOTIFY (sent after the checkpoint, by the appender). */
  maxParallelStreams?: number
}

export interface BatchCommit {
  outcomes: Outcome[][]
  /** Receipts sequenced by this batch (including adopted leftovers), in log order. */
  sequenced: Sequenced[]
  /** The log size after this batch (0 if nothing was sequenced). */
  logSize: number
  /** Streams whose objects this batch may have written without committing (PGlite only; see appender). */
  streams: string[]
}

export function rejected(error: unknown, eventId?: string): RejectedResult {
  if (!(error instanceof PixpaxError)) throw error
  return {
    ok: false,
    ...(eventId ? { eventId } : {}),
    error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) },
  }
}

const CHAIN_CODES = new Set<string>(['CHAIN_BROKEN', 'CHAIN_CONFLICT', 'EVENT_ID_ORDER', 'STREAM_RULE_VIOLATION', 'IDEMPOTENCY_CONFLICT'])

export function identityLock(identityId: string): string {
  return `identity/${identityId}`
}

/**
 * Every lock of the batch in one statement, in sorted key order (so two batches never wait on each
 * other in a cycle): each stream exclusively; each issuer's identity stream shared, so a KEY_REVOKED
 * (exclusive there) is wholly before or after every append signed by that identity.
 */
export async function lockStreams(tx: Queryable, groups: readonly StreamGroup[]): Promise<void> {
  const exclusive = new Set(groups.map((g) => g.streamKey))
  const shared = new Set<string>()
  for (const g of groups) for (const c of g.receipts) shared.add(identityLock(c.receipt.issuer.identityId))
  const keys = [...new Set([...exclusive, ...shared])].sort()
  await tx.query(
    `SELECT CASE WHEN x THEN pg_advisory_xact_lock(hashtextextended(k, 0)) ELSE pg_advisory_xact_lock_shared(hashtextextended(k, 0)) END
     FROM unnest($1::text[], $2::bool[]) WITH ORDINALITY AS t(k, x, n) ORDER BY n`,
    [keys, keys.map((k) => exclusive.has(k))],
  )
}

/**
 * Leftovers of a crashed batch (append intents, or on PGlite objects past the head): each object that
 * made it to the store is a receipt that passed every check when it was written, so it is evaluated
 * again, first in its stream. Stops at a stream's first missing object (objects are written in chain order).
 */
export async function readLeftovers(
  store: ObjectStore,
  objectKeys: readonly string[],
  sha256: (d: Uint8Array) => Uint8Array,
): Promise<CheckedReceipt[]> {
  const out: CheckedReceipt[] = []
  for (const key of objectKeys) {
    const bytes = await store.get(key)
    if (!bytes) break
    out.push(parseReceipt(utf8DecodeStrict(bytes), sha256))
  }
  return out
}

/** Evaluates every receipt in batch order against one in-memory ledger: the batch's log order. */
export async function evaluateBatch(
  ledger: BatchLedger,
  groups: readonly StreamGroup[],
  leftovers: ReadonlyMap<string, readonly CheckedReceipt[]>,
  deps: Pick<BatchDeps, 'verifier' | 'policy'>,
): Promise<{ outcomes: Outcome[][]; accepted: Array<Acceptance & { owner: string }> }> {
  const accepted: Array<Acceptance & { owner: string }> = []
  const adopted = new Set<string>()
  const accept = (acceptance: Acceptance): void => {
    ledger.apply(acceptance)
    accepted.push({ ...acceptance, owner: ledger.ownerOf(acceptance.checked.streamKey) ?? acceptance.checked.receipt.issuer.identityId })
  }
  const outcomes: Outcome[][] = []
  for (const group of groups) {
    if (!adopted.has(group.streamKey)) {
      adopted.add(group.streamKey)
      for (const checked of leftovers.get(group.streamKey) ?? []) {
        if (ledger.hasReceipt(checked.streamKey, checked.receipt.eventId, checked.receipt.hash)) continue
        try {
          accept(await evaluateReceipt(checked, ledger, deps.verifier, deps.policy))
        } catch (error) {
          if (!(error instanceof PixpaxError)) throw error
          break // an orphan object: never acknowledged, never in the log
        }
      }
    }
    const out: Outcome[] = []
    for (const checked of group.receipts) {
      const { receipt } = checked
      const previous = ledger.idempotency(receipt.issuer.identityId, receipt.idempotencyKey)
      if (previous === receipt.hash) {
        out.push({ kind: 'retry', identityId: receipt.issuer.identityId, idempotencyKey: receipt.idempotencyKey, eventId: receipt.eventId })
        continue
      }
      try {
        const early = group.early.get(checked)
        const verifier = early ? reusingVerifier(deps.verifier, early) : deps.verifier
        const acceptance = await evaluateReceipt(checked, ledger, verifier, deps.policy)
        accept(acceptance)
        out.push({ kind: 'accepted', sequenced: { receipt, streamKey: checked.streamKey, seq: acceptance.seq, position: -1 } })
      } catch (error) {
        // A used idempotency key with another body is IDEMPOTENCY_CONFLICT once the receipt is known to
        // come from its issuer, whatever the chain says: the retry of a command must not look like a fork.
        if (previous !== undefined && error instanceof PixpaxError && CHAIN_CODES.has(error.code)) {
          const conflict = new PixpaxError(
            'IDEMPOTENCY_CONFLICT',
            `idempotencyKey ${receipt.idempotencyKey} was already used by ${receipt.issuer.identityId} for another receipt`,
            { previousHash: previous },
          )
          out.push({ kind: 'rejected', result: rejected(conflict, receipt.eventId) })
        } else {
          out.push({ kind: 'rejected', result: rejected(error, receipt.eventId) })
        }
      }
    }
    outcomes.push(out)
  }
  return { outcomes, accepted }
}

/**
 * Intents must be durable before the objects are written, independently of the batch's transaction, so
 * on pg they go through another connection; PGlite has one connection and one process (a crash takes
 * the relay down, and the store walk at start-up settles it). A leftover intent being adopted is still
 * there until this transaction commits (only it deletes it), so it is not written again — from another
 * connection that would wait for this transaction forever.
 */
export async function recordIntents(
  db: ProjectionDb,
  tx: Queryable,
  accepted: readonly Acceptance[],
  leftoverIntents: ReadonlySet<string>,
): Promise<void> {
  const fresh =
    db.name !== 'pglite' && db.queryOutsideTransaction ? accepted.filter((a) => !leftoverIntents.has(a.checked.receipt.eventId)) : accepted
  if (fresh.length === 0) return
  const sql =
    'INSERT INTO append_intents (stream_key, event_id, object_key) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING'
  const params = [
    fresh.map((a) => a.checked.streamKey),
    fresh.map((a) => a.checked.receipt.eventId),
    fresh.map((a) => receiptObjectKey(a.checked.receipt)),
  ]
  if (db.name === 'pglite' || !db.queryOutsideTransaction) await tx.query(sql, params)
  else await db.queryOutsideTransaction(sql, params)
}

/**
 * Writes the accepted receipts' canonical objects: streams in parallel, each stream's objects one after
 * the other in chain order, so a crash leaves a prefix of a stream's batch in the store, never a hole.
 */
export async function writeObjects(store: ObjectStore, accepted: readonly Acceptance[], parallel = 64): Promise<void> {
  const byStream = new Map<string, Acceptance[]>()
  for (const a of accepted) {
    const list = byStream.get(a.checked.streamKey) ?? []
    list.push(a)
    byStream.set(a.checked.streamKey, list)
  }
  const chains = [...byStream.values()]
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < chains.length; i = next++) {
      for (const { checked } of chains[i]!) {
        const key = receiptObjectKey(checked.receipt)
        const bytes = canonicalBytes(checked.receipt)
        if ((await store.putIfAbsent(key, bytes, 'application/json')) === 'exists') {
          const existing = await store.get(key)
          if (!existing || Buffer.compare(Buffer.from(existing), Buffer.from(bytes)) !== 0) {
            throw new Error(`object ${key} exists with different bytes; refusing to continue`)
          }
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, chains.length) }, worker))
}

/**
 * Takes the next `count` log positions under the log's row lock (held until COMMIT, so batches from all
 * replicas commit in position order and never share a position). Returns the first position.
 */
export async function sequence(tx: Queryable, count: number): Promise<number> {
  const { rows } = await tx.query<{ start: number }>('UPDATE log_sequence SET size = size + $1 RETURNING size - $1 AS start', [count])
  return rows[0]!.start
}

/** The log leaves, the inline projectors' offsets and the settled intents: one statement. */
export async function recordSequenced(
  tx: Queryable,
  sequenced: readonly Sequenced[],
  projectors: readonly Projector[],
  streams: readonly string[],
): Promise<void> {
  const end = sequenced[sequenced.length - 1]!.position + 1
  await tx.query(
    `WITH leaves AS (INSERT INTO log_leaves (position, data) SELECT * FROM unnest($1::int8[], $2::bytea[])),
     offsets AS (
       INSERT INTO projector_offsets (projector, applied_size) SELECT p, $3 FROM unnest($4::text[]) AS p
       ON CONFLICT (projector) DO UPDATE SET applied_size = EXCLUDED.applied_size
     )
     DELETE FROM append_intents WHERE stream_key = ANY($5::text[])`,
    [
      sequenced.map((s) => s.position),
      sequenced.map((s) => leafData({ eventId: s.receipt.eventId, hash: s.receipt.hash, seq: s.seq, stream: s.streamKey })),
      end,
      projectors.map((p) => p.name),
      streams,
    ],
  )
}

export function projected(a: Acceptance & { owner: string }, position: number): ProjectedReceipt {
  const { receipt, streamKey } = a.checked
  return {
    receipt,
    body: utf8DecodeStrict(canonicalBytes(receipt)),
    streamKey,
    seq: a.seq,
    position,
    objectKey: receiptObjectKey(receipt),
    owner: a.owner,
  }
}
