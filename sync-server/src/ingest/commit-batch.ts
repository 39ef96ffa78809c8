/**
 * One group commit (ARCHITECTURE §1, §4): the appends of many requests, over many streams, in ONE
 * transaction — every stream lock in one statement, the ledger state in one query, the rules in memory,
 * the intents in one INSERT, the objects in parallel across streams (chain order within one), the log
 * positions under one row lock, and one multi-row statement per projection table. The steps are the
 * functions below, in the order commitBatch calls them.
 */
import {
  canonicalJson,
  crossStreamRule,
  evaluateReceipt,
  leafData,
  parseReceipt,
  PixpaxError,
  reusingVerifier,
  utf8DecodeStrict,
  utf8Encode,
  type Acceptance,
  type CheckedReceipt,
  type EarlyVerification,
  type FactRef,
  type PushResult,
  type SignatureVerifier,
  type TrustPolicy,
} from '@pixpax/shared'
import type { ProjectionDb, Queryable } from '../db/projection-db.js'
import type { ProjectedReceipt, Projector } from '../projection/projector.js'
import { receiptObjectKey } from '../projection/object-keys.js'
import { putIfAbsentInOrder, type ObjectStore, type ObjectToPut } from '../stores/object-store.js'
import { factLock } from './batch-facts.js'
import type { BatchLedger } from './batch-ledger.js'

/** An accepted receipt's result: the sync protocol's push result (one shape for HTTP and WebSocket). */
export type AcceptedResult = Extract<PushResult, { ok: true }>
export interface RejectedResult {
  ok: false
  eventId?: string
  error: { code: PixpaxError['code']; message: string; details?: Record<string, unknown> }
}
export type IngestResult = AcceptedResult | RejectedResult

/** One request's receipts for one stream, in chain order, with their signature checks under way. */
export interface StreamGroup {
  readonly streamKey: string
  readonly receipts: readonly CheckedReceipt[]
  readonly early: ReadonlyMap<CheckedReceipt, EarlyVerification>
  /** Also adopt the stream's objects past its head (`relay repair`: objects no intent names). */
  readonly fromStore?: boolean
}

/** What a group gets back: per receipt, an accepted position, a rejection, or an earlier result to look up. */
export type Outcome =
  /** Accepted: the batch's `index`-th acceptance (its position is the batch's first position + index). */
  | { kind: 'accepted'; index: number }
  | { kind: 'rejected'; result: RejectedResult }
  /** An exact retry of a receipt accepted before (or earlier in this batch): answered with its first result. */
  | { kind: 'retry'; identityId: string; idempotencyKey: string; eventId: string }

export interface BatchDeps {
  db: ProjectionDb
  store: ObjectStore
  verifier: SignatureVerifier
  policy: TrustPolicy
  projectors: readonly Projector[]
  /** Streams whose objects are written at once (each stream's own objects one after the other). */
  maxParallelStreams?: number
}

/** An acceptance with the stream owner it leaves and its canonical JSON (computed once, for the object and the index row). */
export interface Accepted extends Acceptance {
  owner: string
  body: string
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
export async function lockStreams(tx: Queryable, groups: readonly StreamGroup[], facts: readonly FactRef[] = []): Promise<void> {
  // Facts are locked exclusively: a rule that reads one may be about to change it (a handle, a card's owner).
  const exclusive = new Set([...groups.map((g) => g.streamKey), ...facts.map(factLock)])
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
 * Leftovers of a crashed batch (append intents, or with `fromStore` objects past the head): each object that
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

/**
 * Evaluates every receipt in batch order against one in-memory ledger: the batch's log order. A stream's
 * leftovers are evaluated first, where its first group appears; `adopted[i]` counts those of group i.
 */
export async function evaluateBatch(
  ledger: BatchLedger,
  groups: readonly StreamGroup[],
  leftovers: ReadonlyMap<string, readonly CheckedReceipt[]>,
  deps: Pick<BatchDeps, 'verifier' | 'policy'>,
  tx?: Queryable,
): Promise<{ outcomes: Outcome[][]; accepted: Accepted[]; adopted: number[] }> {
  // A receipt's cross-stream reads can depend on facts an earlier receipt of the batch recorded (react
  // to a post published just before): those the batch-wide rounds did not load are loaded before it.
  const ensure = async (checked: CheckedReceipt): Promise<void> => {
    if (tx && crossStreamRule(checked)) await ledger.ensureFacts(tx, [checked])
  }
  const accepted: Accepted[] = []
  const seen = new Set<string>()
  const accept = (acceptance: Acceptance): number => {
    ledger.apply(acceptance)
    const { receipt, streamKey } = acceptance.checked
    accepted.push({
      ...acceptance,
      owner: ledger.ownerOf(streamKey) ?? receipt.issuer.identityId,
      body: acceptance.checked.text ?? canonicalJson(receipt),
    })
    return accepted.length - 1
  }
  const outcomes: Outcome[][] = []
  const adopted: number[] = []
  for (const group of groups) {
    let adoptedHere = 0
    if (!seen.has(group.streamKey)) {
      seen.add(group.streamKey)
      for (const checked of leftovers.get(group.streamKey) ?? []) {
        if (ledger.hasReceipt(checked.streamKey, checked.receipt.eventId, checked.receipt.hash)) continue
        try {
          await ensure(checked)
          accept(await evaluateReceipt(checked, ledger, deps.verifier, deps.policy))
          adoptedHere++
        } catch (error) {
          if (!(error instanceof PixpaxError)) throw error
          break // an orphan object: never acknowledged, never in the log
        }
      }
    }
    adopted.push(adoptedHere)
    const out: Outcome[] = []
    for (const checked of group.receipts) {
      const { receipt } = checked
      const previous = ledger.idempotency(receipt.issuer.identityId, receipt.idempotencyKey)
      if (previous === receipt.hash) {
        out.push({ kind: 'retry', identityId: receipt.issuer.identityId, idempotencyKey: receipt.idempotencyKey, eventId: receipt.eventId })
        continue
      }
      try {
        const verifier = reusingVerifier(deps.verifier, group.early.get(checked))
        await ensure(checked)
        out.push({ kind: 'accepted', index: accept(await evaluateReceipt(checked, ledger, verifier, deps.policy)) })
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
  return { outcomes, accepted, adopted }
}

/**
 * Records append intents: which objects a batch may write. They must be committed before the objects
 * are written and outlive the batch's transaction, so `run` is a statement committed on its own (see
 * Appender for where). A row already there (a retry of a crashed receipt) is kept.
 */
export async function recordIntents(
  run: (sql: string, params: unknown[]) => Promise<unknown>,
  receipts: ReadonlyArray<Pick<CheckedReceipt, 'streamKey' | 'receipt'>>,
): Promise<void> {
  if (receipts.length === 0) return
  await run(
    'INSERT INTO append_intents (stream_key, event_id, object_key) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING',
    [receipts.map((c) => c.streamKey), receipts.map((c) => c.receipt.eventId), receipts.map((c) => receiptObjectKey(c.receipt))],
  )
}

/**
 * Writes the accepted receipts' canonical objects: streams in parallel, each stream's objects in chain
 * order (putIfAbsentInOrder), so a crash leaves a prefix of a stream's batch in the store, never a hole.
 */
export async function writeObjects(store: ObjectStore, accepted: readonly Accepted[], parallel = 64): Promise<void> {
  const byStream = new Map<string, ObjectToPut[]>()
  for (const { checked, body } of accepted) {
    const list = byStream.get(checked.streamKey) ?? []
    list.push({ key: receiptObjectKey(checked.receipt), bytes: utf8Encode(body), contentType: 'application/json' })
    byStream.set(checked.streamKey, list)
  }
  const chains = [...byStream.values()]
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < chains.length; i = next++) {
      const chain = chains[i]!
      const outcomes = await putIfAbsentInOrder(store, chain)
      for (const [j, outcome] of outcomes.entries()) {
        if (outcome === 'created') continue
        const { key, bytes } = chain[j]!
        const existing = await store.get(key)
        if (!existing || Buffer.compare(Buffer.from(existing), Buffer.from(bytes)) !== 0) {
          throw new Error(`object ${key} exists with different bytes; refusing to continue`)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, chains.length) }, worker))
}

/**
 * Sequences the batch: takes the next `accepted.length` log positions under the log's row lock (held
 * until COMMIT, so batches from all replicas commit in position order and never share a position), and
 * in the same statement stores the log leaves, moves the inline projectors' offsets and clears the
 * batch's settled intents. Returns the first position.
 */
export async function sequence(
  tx: Queryable,
  accepted: readonly Accepted[],
  projectors: readonly Projector[],
  streams: readonly string[],
  leaves: readonly Uint8Array[],
): Promise<number> {
  const { rows } = await tx.query<{ start: number }>(
    `WITH seq AS (UPDATE log_sequence SET size = size + cardinality($1::bytea[]) RETURNING size - cardinality($1::bytea[]) AS start, size AS end_),
     leaves AS (INSERT INTO log_leaves (position, data) SELECT seq.start + l.n - 1, l.data FROM seq, unnest($1::bytea[]) WITH ORDINALITY AS l(data, n)),
     offsets AS (
       INSERT INTO projector_offsets (projector, applied_size) SELECT p, seq.end_ FROM seq, unnest($2::text[]) AS p
       ON CONFLICT (projector) DO UPDATE SET applied_size = EXCLUDED.applied_size
     ),
     settled AS (DELETE FROM append_intents WHERE stream_key = ANY($3::text[]))
     SELECT start FROM seq`,
    [leaves, projectors.map((p) => p.name), streams],
  )
  return rows[0]!.start
}

/** The log leaf data of each acceptance, in order (ARCHITECTURE §4). */
export function leavesOf(accepted: readonly Accepted[]): Uint8Array[] {
  return accepted.map((a) =>
    leafData({ eventId: a.checked.receipt.eventId, hash: a.checked.receipt.hash, seq: a.seq, stream: a.checked.streamKey }),
  )
}

export function projected(a: Accepted, position: number): ProjectedReceipt {
  const { receipt, streamKey } = a.checked
  return {
    receipt,
    body: a.body,
    streamKey,
    seq: a.seq,
    position,
    objectKey: receiptObjectKey(receipt),
    owner: a.owner,
  }
}
