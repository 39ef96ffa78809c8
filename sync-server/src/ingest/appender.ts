/**
 * The group-commit appender: one per relay replica. Every append — HTTP and WebSocket pushes alike —
 * joins one queue; while a batch commits, the next one gathers, and when the commit ends the appender
 * takes everything queued (up to a cap) as the next batch. No timer: an idle relay commits a lone append
 * at once. A batch's results are released only after its checkpoint is stored (log-integrator.ts).
 */
import { PixpaxError, type Sha256, type Signer } from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import type { LogIntegrator } from '../log/log-integrator.js'
import { parseStreamKey, streamEventsPrefix } from '@pixpax/shared'
import { formatNotice, type ReceiptNotifier } from '../sync/notifier.js'
import { signAcks, type Ack } from './ack.js'
import { BatchLedger } from './batch-ledger.js'
import {
  evaluateBatch,
  lockStreams,
  projected,
  readLeftovers,
  recordIntents,
  recordSequenced,
  sequence,
  writeObjects,
  type AcceptedResult,
  type BatchDeps,
  type IngestResult,
  type Outcome,
  type Sequenced,
  type StreamGroup,
} from './commit-batch.js'

/** Caps per batch: a batch is one transaction, so it must stay short enough to hold its locks briefly. */
export const MAX_BATCH_RECEIPTS = 512
export const MAX_BATCH_STREAMS = 256

export interface AppenderDeps extends BatchDeps {
  relaySigner: Signer
  sha256: Sha256
  log: LogIntegrator
  notifier?: ReceiptNotifier
  /** Called once a batch's results are released (metrics, tests). */
  onBatch?: (stats: { groups: number; receipts: number; accepted: number }) => void
}

interface Pending {
  group: StreamGroup
  resolve: (results: IngestResult[]) => void
  reject: (error: unknown) => void
  /** Retried alone after its batch failed, so one bad group cannot fail the others again. */
  solo?: boolean
}

export class Appender {
  readonly #queue: Pending[] = []
  #running = false
  /**
   * PGlite only: streams whose batch failed after it may have written objects. Its intents were in its
   * own (rolled back) transaction, so the next batch there adopts what the store holds past the head. A
   * crash loses this set too: start-up repair walks the store (main.ts).
   */
  readonly #unsettled = new Set<string>()

  constructor(private readonly deps: AppenderDeps) {}

  /** Appends each group (one stream's receipts in chain order); one result per receipt. */
  append(groups: readonly StreamGroup[]): Promise<IngestResult[][]> {
    const done = groups.map(
      (group) =>
        new Promise<IngestResult[]>((resolve, reject) => {
          this.#queue.push({ group, resolve, reject })
        }),
    )
    this.#kick()
    return Promise.all(done)
  }

  /**
   * Settles streams a crash left behind: each joins a batch with no receipts of its own, which adopts
   * its leftovers (open intents; with `fromStore`, objects past its head) like any batch would.
   */
  async settle(streamKeys: readonly string[], options: { fromStore?: boolean } = {}): Promise<number> {
    if (options.fromStore) for (const s of streamKeys) this.#unsettled.add(s)
    const before = this.#adopted
    for (let i = 0; i < streamKeys.length; i += MAX_BATCH_STREAMS) {
      await this.append(streamKeys.slice(i, i + MAX_BATCH_STREAMS).map((streamKey) => ({ streamKey, receipts: [], early: new Map() })))
    }
    return this.#adopted - before
  }

  /** Leftover receipts adopted so far (settle's count). */
  #adopted = 0

  #kick(): void {
    if (this.#running) return
    this.#running = true
    void this.#drain().finally(() => {
      this.#running = false
      if (this.#queue.length) this.#kick()
    })
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const batch = this.#take()
      try {
        const commit = await this.#commit(batch.map((p) => p.group))
        // The next batch starts now; this one's acks wait for the checkpoint that covers it.
        void this.#release(batch, commit)
      } catch (error) {
        if (batch.length > 1) {
          // Retry each group on its own: only the group that fails again fails.
          this.#queue.unshift(...batch.map((p) => ({ ...p, solo: true })))
        } else {
          batch[0]!.reject(error)
        }
      }
    }
  }

  /**
   * The next batch from the queue, in queue order, within the caps. A key change (KEY_ADDED,
   * KEY_REVOKED) for an identity and other streams signed by that identity never share a batch, so the
   * key set every other stream of a batch sees is the one it had before the batch; and a stream skipped
   * once is skipped for the rest of this batch (its receipts stay in chain order).
   */
  #take(): Pending[] {
    const first = this.#queue[0]!
    if (first.solo) return this.#queue.splice(0, 1)
    const taken: Pending[] = []
    const keep: Pending[] = []
    const skipped = new Set<string>()
    const keyChanges = new Set<string>()
    const signers = new Set<string>()
    const streams = new Set<string>()
    let receipts = 0
    for (const p of this.#queue) {
      const { streamKey, receipts: rs } = p.group
      const changes =
        streamKey.startsWith('identity/') && rs.some((c) => c.receipt.type === 'KEY_ADDED' || c.receipt.type === 'KEY_REVOKED')
      const identityId = changes ? streamKey.slice('identity/'.length) : undefined
      const issuers = streamKey.startsWith('identity/') ? [] : rs.map((c) => c.receipt.issuer.identityId)
      const conflict =
        p.solo ||
        skipped.has(streamKey) ||
        (taken.length > 0 && receipts + rs.length > MAX_BATCH_RECEIPTS) ||
        (!streams.has(streamKey) && streams.size >= MAX_BATCH_STREAMS) ||
        (identityId !== undefined && signers.has(identityId)) ||
        issuers.some((i) => keyChanges.has(i))
      if (conflict) {
        skipped.add(streamKey)
        keep.push(p)
        continue
      }
      taken.push(p)
      streams.add(streamKey)
      receipts += rs.length
      if (identityId) keyChanges.add(identityId)
      for (const i of issuers) signers.add(i)
    }
    this.#queue.splice(0, this.#queue.length, ...keep)
    return taken
  }

  /** One transaction: lock, load, evaluate, intents, objects, sequence, project, commit. */
  async #commit(groups: StreamGroup[]): Promise<{ outcomes: Outcome[][]; sequenced: Sequenced[]; acks: Map<string, Ack> }> {
    const { db, store } = this.deps
    const streams = [...new Set(groups.map((g) => g.streamKey))]
    const pglite = db.name === 'pglite'
    let wrote = false
    try {
      const result = await db.transaction(async (tx) => {
        await lockStreams(tx, groups)
        let ledger = await BatchLedger.load(
          tx,
          groups.flatMap((g) => g.receipts),
          streams,
        )
        // Leftovers: open intents (pg), or on PGlite objects past the head of a stream whose batch failed.
        const leftoverKeys = new Map<string, string[]>()
        for (const [stream, intents] of ledger.intents)
          leftoverKeys.set(
            stream,
            intents.map((i) => i.objectKey),
          )
        for (const s of streams) if (this.#unsettled.has(s)) leftoverKeys.set(s, await this.#objectsPastHead(tx, s))
        const leftovers = new Map<string, Awaited<ReturnType<typeof readLeftovers>>>()
        for (const [stream, keys] of leftoverKeys) {
          if (keys.length) leftovers.set(stream, await readLeftovers(store, keys, this.deps.sha256))
        }
        if (leftovers.size) {
          // Rare (after a crash): load again with the leftovers' own needs.
          ledger = await BatchLedger.load(tx, [...[...leftovers.values()].flat(), ...groups.flatMap((g) => g.receipts)], streams)
        }
        const { outcomes, accepted } = await evaluateBatch(ledger, groups, leftovers, this.deps)
        if (accepted.length === 0) {
          if (ledger.intents.size) await tx.query('DELETE FROM append_intents WHERE stream_key = ANY($1::text[])', [streams])
          return { outcomes, sequenced: [] as Sequenced[] }
        }
        const leftoverIntents = new Set([...ledger.intents.values()].flat().map((i) => i.eventId))
        await recordIntents(db, tx, accepted, leftoverIntents)
        wrote = true
        await writeObjects(store, accepted, this.deps.maxParallelStreams)
        this.#adopted += accepted.length - outcomes.flat().filter((o) => o.kind === 'accepted').length
        const start = await sequence(tx, accepted.length)
        const batch = accepted.map((a, i) => projected(a, start + i))
        await recordSequenced(
          tx,
          batch.map((p) => ({ receipt: p.receipt, streamKey: p.streamKey, seq: p.seq, position: p.position })),
          this.deps.projectors,
          streams,
        )
        for (const projector of this.deps.projectors) await projector.apply(tx, batch)
        // Positions, in the outcomes' order.
        const byEvent = new Map(batch.map((p) => [`${p.streamKey} ${p.receipt.eventId}`, p]))
        for (const out of outcomes)
          for (const o of out)
            if (o.kind === 'accepted')
              o.sequenced.position = byEvent.get(`${o.sequenced.streamKey} ${o.sequenced.receipt.eventId}`)!.position
        return { outcomes, sequenced: batch.map((p) => ({ receipt: p.receipt, streamKey: p.streamKey, seq: p.seq, position: p.position })) }
      })
      for (const s of streams) this.#unsettled.delete(s)
      // Acks are signed after COMMIT, outside every lock, and stored in one INSERT before anyone sees
      // them; a crash before this INSERT leaves acks nobody was given, signed again on demand.
      const acks = await this.#storeAcks(result.sequenced)
      return { ...result, acks }
    } catch (error) {
      if (pglite && wrote) for (const s of streams) this.#unsettled.add(s)
      throw error
    }
  }

  async #objectsPastHead(tx: Queryable, streamKey: string): Promise<string[]> {
    const head = await tx.query<{ head_event_id: string }>('SELECT head_event_id FROM streams WHERE stream_key = $1', [streamKey])
    const prefix = streamEventsPrefix(parseStreamKey(streamKey))
    const keys: string[] = []
    let startAfter = head.rows[0] ? `${prefix}${head.rows[0].head_event_id}.json` : undefined
    for (;;) {
      const page = await this.deps.store.list(prefix, { limit: 1000, ...(startAfter ? { startAfter } : {}) })
      keys.push(...page)
      if (page.length < 1000) return keys
      startAfter = page[page.length - 1]
    }
  }

  async #storeAcks(sequenced: readonly Sequenced[]): Promise<Map<string, Ack>> {
    const acks = new Map<string, Ack>()
    if (sequenced.length === 0) return acks
    const signed = await signAcks(
      this.deps.relaySigner,
      sequenced.map((s) => ({ stream: s.streamKey, seq: s.seq, position: s.position, eventId: s.receipt.eventId, hash: s.receipt.hash })),
    )
    await this.deps.db.query(
      `INSERT INTO acks (stream_key, seq, position, ack) SELECT * FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[])
       ON CONFLICT DO NOTHING`,
      [
        sequenced.map((s) => s.streamKey),
        sequenced.map((s) => s.seq),
        sequenced.map((s) => s.position),
        signed.map((a) => JSON.stringify(a)),
      ],
    )
    signed.forEach((ack, i) => acks.set(`${sequenced[i]!.streamKey} ${sequenced[i]!.receipt.eventId}`, ack))
    return acks
  }

  /** Waits for the checkpoint covering the batch, announces it, answers every group. */
  async #release(batch: Pending[], commit: { outcomes: Outcome[][]; sequenced: Sequenced[]; acks: Map<string, Ack> }): Promise<void> {
    try {
      const { sequenced, acks } = commit
      if (sequenced.length) await this.deps.log.waitFor(sequenced[sequenced.length - 1]!.position + 1)
      const retries = commit.outcomes.flat().filter((o) => o.kind === 'retry')
      const earlier = retries.length ? await this.#storedResults(retries) : new Map<string, AcceptedResult>()
      // A retry's first result may be in a batch that committed but is not yet in a checkpoint.
      const newest = Math.max(-1, ...[...earlier.values()].map((r) => r.position))
      await this.deps.log.waitFor(newest + 1)
      for (const s of sequenced) {
        const ack = acks.get(`${s.streamKey} ${s.receipt.eventId}`)!
        earlier.set(`${s.receipt.issuer.identityId} ${s.receipt.idempotencyKey}`, {
          ok: true,
          eventId: s.receipt.eventId,
          seq: s.seq,
          position: s.position,
          hash: s.receipt.hash,
          ack,
        })
      }
      await this.#announce(sequenced)
      batch.forEach((p, i) =>
        p.resolve(
          commit.outcomes[i]!.map((o): IngestResult => {
            if (o.kind === 'rejected') return o.result
            if (o.kind === 'accepted') return earlier.get(`${o.sequenced.receipt.issuer.identityId} ${o.sequenced.receipt.idempotencyKey}`)!
            return (
              earlier.get(`${o.identityId} ${o.idempotencyKey}`) ?? {
                ok: false,
                eventId: o.eventId,
                error: { code: 'UNAVAILABLE', message: 'the first result of this receipt is not available yet; retry' },
              }
            )
          }),
        ),
      )
      this.deps.onBatch?.({
        groups: batch.length,
        receipts: batch.reduce((n, p) => n + p.group.receipts.length, 0),
        accepted: sequenced.length,
      })
    } catch (error) {
      for (const p of batch) p.reject(error)
    }
  }

  /** Live fan-out once the checkpoint covers the batch: one NOTIFY statement for every stream (pg). */
  async #announce(sequenced: readonly Sequenced[]): Promise<void> {
    const { notifier, db } = this.deps
    if (!notifier || sequenced.length === 0) return
    const heads = new Map<string, number>()
    for (const s of sequenced) heads.set(s.streamKey, s.seq)
    if (notifier.channel) {
      await db.query('SELECT pg_notify($1, n) FROM unnest($2::text[]) AS n', [
        notifier.channel,
        [...heads].map(([stream, seq]) => formatNotice({ stream, seq })),
      ])
    } else {
      for (const [stream, seq] of heads) notifier.publish({ stream, seq })
    }
  }

  async #storedResults(retries: ReadonlyArray<Extract<Outcome, { kind: 'retry' }>>): Promise<Map<string, AcceptedResult>> {
    return storedResults(this.deps.db, this.deps.relaySigner, retries)
  }
}

/**
 * The first results of (identity, idempotencyKey) pairs: receipt row + stored ack (signed again when
 * missing: a crash between COMMIT and the ack INSERT, or a rebuilt database). Only receipts covered by
 * Callers wait for the checkpoint covering them (LogIntegrator.waitFor) before handing an ack out.
 */
export async function storedResults(
  db: Queryable,
  signer: Signer,
  keys: ReadonlyArray<{ identityId: string; idempotencyKey: string }>,
): Promise<Map<string, AcceptedResult>> {
  const rows = await db.query<{
    stream_key: string
    event_id: string
    seq: number
    position: number
    hash: string
    issuer_identity_id: string
    idempotency_key: string
    ack: string | null
  }>(
    `SELECT r.stream_key, r.event_id, r.seq, r.position, r.hash, r.issuer_identity_id, r.idempotency_key, a.ack
     FROM receipts r LEFT JOIN acks a ON a.stream_key = r.stream_key AND a.seq = r.seq
     WHERE (r.issuer_identity_id, r.idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [keys.map((k) => k.identityId), keys.map((k) => k.idempotencyKey)],
  )
  const out = new Map<string, AcceptedResult>()
  const missing = rows.rows.filter((r) => r.ack === null)
  const fresh = missing.length
    ? await signAcks(
        signer,
        missing.map((r) => ({ stream: r.stream_key, seq: r.seq, position: r.position, eventId: r.event_id, hash: r.hash })),
      )
    : []
  if (missing.length) {
    await db.query(
      `INSERT INTO acks (stream_key, seq, position, ack) SELECT * FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[]) ON CONFLICT DO NOTHING`,
      [missing.map((r) => r.stream_key), missing.map((r) => r.seq), missing.map((r) => r.position), fresh.map((a) => JSON.stringify(a))],
    )
  }
  const freshByEvent = new Map(fresh.map((a) => [`${a.stream} ${a.eventId}`, a]))
  for (const r of rows.rows) {
    const ack = r.ack !== null ? (JSON.parse(r.ack) as Ack) : freshByEvent.get(`${r.stream_key} ${r.event_id}`)!
    out.set(`${r.issuer_identity_id} ${r.idempotency_key}`, {
      ok: true,
      eventId: r.event_id,
      seq: r.seq,
      position: r.position,
      hash: r.hash,
      ack,
    })
  }
  return out
}

export { PixpaxError }
