/**
 * The append path (ARCHITECTURE §1, §4): check → verify signature (ahead, in parallel) → per stream,
 * under a Postgres advisory lock shared by every replica: settle leftovers, apply the shared ledger
 * rules → record append intents → write canonical objects → project + ack in one transaction → respond.
 */
import {
  canonicalBytes,
  checkReceipt,
  evaluateReceipt,
  jwkThumbprint,
  PixpaxError,
  type Acceptance,
  type CheckedReceipt,
  type PublicJwk,
  type Sha256,
  type SignatureVerifier,
  type Signer,
  type TrustPolicy,
  ulidTime,
} from '@pixpax/shared'
import type { ProjectionDb, Queryable } from '../db/projection-db.js'
import type { ObjectStore } from '../stores/object-store.js'
import { projectReceipt } from '../projection/project.js'
import { receiptObjectKey } from '../projection/object-keys.js'
import { signAck, type Ack } from './ack.js'
import { DbLedgerView } from './db-ledger.js'
import { settleFromStore, settleStream } from './settle.js'
import { formatNotice, type ReceiptNotifier } from '../sync/notifier.js'

export interface AcceptedResult {
  ok: true
  eventId: string
  seq: number
  hash: string
  ack: Ack
}
export interface RejectedResult {
  ok: false
  eventId?: string
  error: { code: PixpaxError['code']; message: string; details?: Record<string, unknown> }
}
export type IngestResult = AcceptedResult | RejectedResult

export interface IngestDeps {
  db: ProjectionDb
  store: ObjectStore
  relaySigner: Signer
  verifier: SignatureVerifier
  sha256: Sha256
  policy: TrustPolicy
  /** Announces committed appends to every replica's live subscribers. */
  notifier?: ReceiptNotifier
  /** The relay's clock (injected in tests). */
  now?: () => number
  /** Called after a group of receipts of one stream is committed (live fan-out, metrics). */
  onAccepted?: (streamKey: string, accepted: AcceptedResult[]) => void
}

function rejected(error: unknown, eventId?: string): RejectedResult {
  if (!(error instanceof PixpaxError)) throw error
  return {
    ok: false,
    ...(eventId ? { eventId } : {}),
    error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) },
  }
}

const CHAIN_CODES = new Set<string>(['CHAIN_BROKEN', 'CHAIN_CONFLICT', 'EVENT_ID_ORDER', 'STREAM_RULE_VIOLATION', 'IDEMPOTENCY_CONFLICT'])

function ownerOf(view: DbLedgerView): string | undefined {
  return [...(view.stream()?.owners ?? [])][0]
}

/** Projects an accepted receipt and signs and stores its ack, inside the stream's transaction. */
export async function commitAccepted(
  tx: Queryable,
  relaySigner: Signer,
  streamKey: string,
  acceptance: Acceptance,
  owner: string,
): Promise<AcceptedResult> {
  const { receipt } = acceptance.checked
  await projectReceipt(tx, { receipt, streamKey, seq: acceptance.seq, objectKey: receiptObjectKey(receipt), ownerIdentityId: owner })
  const ack = await signAck(relaySigner, { stream: streamKey, seq: acceptance.seq, eventId: receipt.eventId, hash: receipt.hash })
  await tx.query('INSERT INTO acks (stream_key, seq, ack) VALUES ($1, $2, $3)', [streamKey, acceptance.seq, JSON.stringify(ack)])
  return { ok: true, eventId: receipt.eventId, seq: acceptance.seq, hash: receipt.hash, ack }
}

/** How far in the future an eventId's time may be: clocks drift, but not by this much. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000

/**
 * A ULID from the far future would freeze its stream (every later eventId must be greater), so the relay
 * refuses eventIds whose time is more than MAX_CLOCK_SKEW_MS ahead of its own clock.
 */
function checkEventIdTime(checked: CheckedReceipt, now: number): void {
  const time = ulidTime(checked.receipt.eventId)
  if (time > now + MAX_CLOCK_SKEW_MS) {
    throw new PixpaxError(
      'EVENT_ID_ORDER',
      `eventId time ${new Date(time).toISOString()} is more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes ahead of the relay's clock`,
    )
  }
}

export function identityLock(identityId: string): string {
  return `identity/${identityId}`
}

export class Ingestor {
  /**
   * PGlite only: streams whose last append failed after it may have written objects. Its intents were in
   * its own (rolled back) transaction, so the next append there adopts what the store holds past the
   * head first (settleFromStore). A crash loses this set too: start-up repair walks the store (main.ts).
   */
  readonly #unsettled = new Set<string>()

  constructor(private readonly deps: IngestDeps) {}

  /** Appends receipts (any streams; each stream's receipts in chain order). One result per input. */
  async ingest(values: readonly unknown[]): Promise<IngestResult[]> {
    const results: IngestResult[] = new Array<IngestResult>(values.length)
    const groups = new Map<string, Array<{ index: number; checked: CheckedReceipt }>>()
    values.forEach((value, index) => {
      try {
        const checked = checkReceipt(value, this.deps.sha256)
        checkEventIdTime(checked, this.deps.now?.() ?? Date.now())
        const group = groups.get(checked.streamKey) ?? []
        group.push({ index, checked })
        groups.set(checked.streamKey, group)
      } catch (error) {
        const eventId =
          typeof (value as { eventId?: unknown })?.eventId === 'string'
            ? String((value as { eventId: string }).eventId).slice(0, 64)
            : undefined
        results[index] = rejected(error, eventId)
      }
    })
    const all = [...groups.values()].flat()
    const signatures = await this.verifyAhead(all.map((g) => g.checked))
    await Promise.all(
      [...groups].map(async ([streamKey, group]) => {
        const out = await this.appendGroup(
          streamKey,
          group.map((g) => g.checked),
          signatures,
        )
        group.forEach((g, i) => (results[g.index] = out[i]!))
      }),
    )
    return results
  }

  /**
   * Starts every signature verification before taking any lock. A publicKeyId is a thumbprint, so the
   * key it names is fixed; whether that key is still valid is decided later, under the lock.
   */
  private async verifyAhead(checked: CheckedReceipt[]): Promise<Map<CheckedReceipt, { publicKey: PublicJwk; result: Promise<boolean> }>> {
    const wanted = checked.filter((c) => !(c.receipt.type === 'IDENTITY_CREATED' || c.receipt.type === 'KEY_ADDED'))
    const known = new Map<string, PublicJwk>()
    for (const c of checked) {
      if (c.receipt.type === 'IDENTITY_CREATED' || c.receipt.type === 'KEY_ADDED') {
        const key = c.receipt.payload.publicKey as PublicJwk
        known.set(jwkThumbprint(key), key)
      }
    }
    if (wanted.length) {
      const rows = await this.deps.db.query<{ public_key_id: string; public_key: PublicJwk | string }>(
        'SELECT DISTINCT public_key_id, public_key FROM identity_keys WHERE public_key_id = ANY($1::text[])',
        [[...new Set(wanted.map((c) => c.receipt.issuer.publicKeyId))]],
      )
      for (const r of rows.rows)
        known.set(r.public_key_id, typeof r.public_key === 'string' ? (JSON.parse(r.public_key) as PublicJwk) : r.public_key)
    }
    const out = new Map<CheckedReceipt, { publicKey: PublicJwk; result: Promise<boolean> }>()
    for (const c of checked) {
      const publicKey = known.get(c.receipt.issuer.publicKeyId)
      if (!publicKey) continue
      const result = Promise.resolve(this.deps.verifier.verify(publicKey, c.canonical, c.signature))
      result.catch(() => undefined)
      out.set(c, { publicKey, result })
    }
    return out
  }

  private async appendGroup(
    streamKey: string,
    group: CheckedReceipt[],
    signatures: Map<CheckedReceipt, { publicKey: PublicJwk; result: Promise<boolean> }>,
  ): Promise<IngestResult[]> {
    const { db, store, relaySigner, policy } = this.deps
    const accepted: AcceptedResult[] = []
    const results = await db.withLock(streamKey, async (tx) => {
      // Every issuer's identity stream is locked shared, so a KEY_REVOKED (exclusive on that stream)
      // is either fully before or fully after this append: acceptance order stays a total order.
      // (One statement for all of them, in sorted order so that two appends never wait on each other in a cycle.)
      const identityLocks = [...new Set(group.map((c) => identityLock(c.receipt.issuer.identityId)))].filter((k) => k !== streamKey).sort()
      if (identityLocks.length) {
        await tx.query(
          'SELECT pg_advisory_xact_lock_shared(hashtextextended(k, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY n',
          [identityLocks],
        )
      }
      const leftover = new Set<string>()
      await settleStream(tx, store, streamKey, this.deps, leftover)
      if (this.#unsettled.has(streamKey)) await settleFromStore(tx, store, streamKey, this.deps)
      const view = await DbLedgerView.load(tx, streamKey, group)
      const out: IngestResult[] = []
      const toWrite: Array<{ acceptance: Acceptance; index: number; owner: string }> = []
      for (const [index, checked] of group.entries()) {
        const { receipt } = checked
        const previous = view.idempotency(receipt.issuer.identityId, receipt.idempotencyKey)
        if (previous === receipt.hash) {
          // An exact retry: answer with the first result, never a second receipt.
          const first = await this.storedResult(tx, receipt.issuer.identityId, receipt.idempotencyKey)
          out[index] =
            first ?? rejected(new PixpaxError('IDEMPOTENCY_CONFLICT', 'receipt already submitted in this request'), receipt.eventId)
          continue
        }
        try {
          const early = signatures.get(checked)
          const verifier: SignatureVerifier = early
            ? {
                name: this.deps.verifier.name,
                verify: (pk, data, sig) =>
                  pk.x === early.publicKey.x && pk.y === early.publicKey.y ? early.result : this.deps.verifier.verify(pk, data, sig),
              }
            : this.deps.verifier
          const acceptance = await evaluateReceipt(checked, view, verifier, policy)
          view.apply(acceptance)
          toWrite.push({ acceptance, index, owner: ownerOf(view) ?? receipt.issuer.identityId })
        } catch (error) {
          // A used idempotency key with another body is IDEMPOTENCY_CONFLICT once the receipt is known to
          // come from its issuer, whatever the chain says: the retry of a command must not look like a fork.
          if (previous !== undefined && error instanceof PixpaxError && CHAIN_CODES.has(error.code)) {
            out[index] = rejected(
              new PixpaxError(
                'IDEMPOTENCY_CONFLICT',
                `idempotencyKey ${receipt.idempotencyKey} was already used by ${receipt.issuer.identityId} for another receipt`,
                {
                  previousHash: previous,
                },
              ),
              receipt.eventId,
            )
          } else {
            out[index] = rejected(error, receipt.eventId)
          }
        }
      }
      if (toWrite.length === 0) {
        this.#unsettled.delete(streamKey) // settled (the COMMIT that follows is on the same connection)
        return out
      }
      if (db.name === 'pglite') this.#unsettled.add(streamKey) // until this transaction commits
      await this.recordIntents(
        tx,
        streamKey,
        toWrite.map((w) => w.acceptance.checked),
        leftover,
      )
      // In chain order, one at a time: a crash leaves a prefix of the group in the store, never a hole.
      for (const { acceptance } of toWrite) {
        const { receipt } = acceptance.checked
        const key = receiptObjectKey(receipt)
        const bytes = canonicalBytes(receipt)
        const outcome = await store.putIfAbsent(key, bytes, 'application/json')
        if (outcome === 'exists') {
          const existing = await store.get(key)
          if (!existing || Buffer.compare(Buffer.from(existing), Buffer.from(bytes)) !== 0) {
            throw new Error(`object ${key} exists with different bytes; refusing to continue`)
          }
        }
      }
      for (const { acceptance, index, owner } of toWrite) {
        const result = await commitAccepted(tx, relaySigner, streamKey, acceptance, owner)
        accepted.push(result)
        out[index] = result
      }
      // The NOTIFY is delivered by Postgres to every replica's LISTEN exactly when this transaction commits.
      const channel = this.deps.notifier?.channel
      if (channel) {
        await tx.query('WITH done AS (DELETE FROM append_intents WHERE stream_key = $1) SELECT pg_notify($2, $3)', [
          streamKey,
          channel,
          formatNotice({ stream: streamKey, seq: accepted[accepted.length - 1]!.seq }),
        ])
      } else {
        await tx.query('DELETE FROM append_intents WHERE stream_key = $1', [streamKey])
      }
      this.#unsettled.delete(streamKey)
      return out
    })
    if (accepted.length) {
      this.deps.notifier?.publish({ stream: streamKey, seq: accepted[accepted.length - 1]!.seq })
      this.deps.onAccepted?.(streamKey, accepted)
    }
    return results
  }

  /**
   * Intents must be durable before the objects are written, independently of the transaction that will
   * project them, so they go through another connection — except on PGlite, which has one connection and
   * one process: a crash there takes the whole relay down and start-up repair settles the store.
   */
  private async recordIntents(tx: Queryable, streamKey: string, checked: CheckedReceipt[], leftover: ReadonlySet<string>): Promise<void> {
    const sql =
      'INSERT INTO append_intents (stream_key, event_id, object_key) SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT DO NOTHING'
    const { db } = this.deps
    if (db.name === 'pglite' || !db.queryOutsideTransaction) {
      await tx.query(sql, [streamKey, checked.map((c) => c.receipt.eventId), checked.map((c) => receiptObjectKey(c.receipt))])
      return
    }
    // A leftover intent (a retry of a receipt whose object never made it) is still there for any crash
    // from here on: only this transaction deleted it, and a rollback restores it. Writing it again from
    // another connection would wait for this transaction forever.
    const fresh = checked.filter((c) => !leftover.has(c.receipt.eventId))
    if (fresh.length === 0) return
    await db.queryOutsideTransaction(sql, [streamKey, fresh.map((c) => c.receipt.eventId), fresh.map((c) => receiptObjectKey(c.receipt))])
  }

  private async storedResult(tx: Queryable, identityId: string, idempotencyKey: string): Promise<AcceptedResult | undefined> {
    const rows = await tx.query<{ event_id: string; seq: number; hash: string; ack: Ack | string }>(
      `SELECT r.event_id, r.seq, r.hash, a.ack FROM receipts r JOIN acks a ON a.stream_key = r.stream_key AND a.seq = r.seq
       WHERE r.issuer_identity_id = $1 AND r.idempotency_key = $2`,
      [identityId, idempotencyKey],
    )
    const row = rows.rows[0]
    if (!row) return undefined
    const ack = typeof row.ack === 'string' ? (JSON.parse(row.ack) as Ack) : row.ack
    return { ok: true, eventId: row.event_id, seq: row.seq, hash: row.hash, ack }
  }

  /** Looks up the first result for (identity, idempotencyKey) outside any lock: the fast path for retries. */
  async lookupIdempotent(identityId: string, idempotencyKey: string): Promise<AcceptedResult | undefined> {
    return this.storedResult(this.deps.db, identityId, idempotencyKey)
  }
}
