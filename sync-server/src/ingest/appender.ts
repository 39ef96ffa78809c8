/**
 * The group-commit appender: one per relay replica. Every append — HTTP and WebSocket pushes alike —
 * joins one queue; while a batch commits, the next one gathers, and when the commit ends the appender
 * takes everything queued (up to a cap) as the next batch. No timer: an idle relay commits a lone append
 * at once. A batch's results are released only after its checkpoint is stored (log-integrator.ts).
 */
import { parseStreamKey, streamEventsPrefix, type CheckedReceipt, type Sha256, type Signer } from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import type { LogIntegrator } from '../log/log-integrator.js'
import { lapTimer, type PhaseReport } from '../metrics.js'
import type { ProjectedReceipt } from '../projection/projector.js'
import { listKeys } from '../stores/object-store.js'
import { formatNotice, type ReceiptNotifier } from '../sync/notifier.js'
import { completeAcks, type Ack } from './ack.js'
import { firstReads } from './batch-facts.js'
import { BatchLedger } from './batch-ledger.js'
import {
  evaluateBatch,
  leavesOf,
  lockStreams,
  projected,
  readLeftovers,
  recordIntents,
  sequence,
  writeObjects,
  type AcceptedResult,
  type BatchDeps,
  type IngestResult,
  type Outcome,
  type StreamGroup,
} from './commit-batch.js'

/** Caps per batch: a batch is one transaction, so it must stay short enough to hold its locks briefly. */
export const MAX_BATCH_RECEIPTS = 512
export const MAX_BATCH_STREAMS = 256
/**
 * Batches committing at once on a pooled database: while one waits on its statements, objects and the
 * log's row lock (positions stay in commit order), the next locks, loads and evaluates.
 */
export const MAX_BATCHES_IN_FLIGHT = 1

/**
 * Streams whose receipts someone is waiting on interactively (a remote command to a player): where the
 * database has a pool, their groups may start a batch of their own beside the batches in flight instead
 * of queueing behind a batch of telemetry (1,000 players' heartbeats a second are ~30 receipts a batch,
 * and a command would wait for the batch committing plus its own). They still take positions in commit
 * order under the log's row lock.
 */
export const PRIORITY_STREAM_PREFIXES: readonly string[] = ['remote/']

const isPriority = (p: Pending): boolean =>
  p.group.receipts.length > 0 && PRIORITY_STREAM_PREFIXES.some((prefix) => p.group.streamKey.startsWith(prefix))

export interface AppenderDeps extends BatchDeps {
  relaySigner: Signer
  sha256: Sha256
  log: LogIntegrator
  notifier?: ReceiptNotifier
  /** Batches committing at once where the database has a pool (default MAX_BATCHES_IN_FLIGHT). */
  batchesInFlight?: number
  /** The duration of each step of a batch (metrics: pixpax_append_phase_seconds). */
  onPhase?: PhaseReport
  /** Called once a batch's results are released (metrics, tests). */
  onBatch?: (stats: { groups: number; receipts: number; accepted: number }) => void
}

interface Pending {
  group: StreamGroup
  /** The group's results, and how many leftovers of its stream the batch adopted first. */
  resolve: (done: { results: IngestResult[]; adopted: number }) => void
  reject: (error: unknown) => void
  /** Retried alone after its batch failed, so one bad group cannot fail the others again. */
  solo?: boolean
  /** Times it was retried after losing a deadlock or serialization race. */
  raced?: number
}

/** A transaction Postgres aborted to break a deadlock (fact locks of later rounds) or a serialization race. */
const lostRace = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  return code === '40P01' || code === '40001'
}
/** Retries of one group that lost races; past this the error is the request's. */
const MAX_RACES = 5

/** A committed batch, before its acks are released. */
interface Committed {
  outcomes: Outcome[][]
  adopted: number[]
  /** What the batch sequenced (leftovers included), in log order. */
  batch: ProjectedReceipt[]
  /** Their log leaf data. */
  leaves: Uint8Array[]
}

export class Appender {
  readonly #queue: Pending[] = []
  /** The streams of each batch between its start and its commit (or failure). */
  readonly #inFlight = new Set<Set<string>>()
  #starting = false
  #kickAgain = false
  /** A batch of priority groups started beside a full pipeline is in flight. */
  #priorityInFlight = false

  constructor(private readonly deps: AppenderDeps) {}

  /** Appends each group (one stream's receipts in chain order); one result per receipt. */
  async append(groups: readonly StreamGroup[]): Promise<IngestResult[][]> {
    return (await this.#enqueue(groups)).map((d) => d.results)
  }

  /**
   * Settles streams a crash left behind: each joins a batch with no receipts of its own, which adopts
   * its leftovers (open intents; with `fromStore`, objects past its head) like any batch would. Returns
   * how many receipts were adopted.
   */
  async settle(streamKeys: readonly string[], options: { fromStore?: boolean } = {}): Promise<number> {
    let adopted = 0
    for (let i = 0; i < streamKeys.length; i += MAX_BATCH_STREAMS) {
      const groups = streamKeys.slice(i, i + MAX_BATCH_STREAMS).map((streamKey) => ({
        streamKey,
        receipts: [],
        early: new Map(),
        ...(options.fromStore ? { fromStore: true } : {}),
      }))
      for (const done of await this.#enqueue(groups)) adopted += done.adopted
    }
    return adopted
  }

  #enqueue(groups: readonly StreamGroup[]): Promise<Array<{ results: IngestResult[]; adopted: number }>> {
    const done = groups.map(
      (group) =>
        new Promise<{ results: IngestResult[]; adopted: number }>((resolve, reject) => this.#queue.push({ group, resolve, reject })),
    )
    this.#kick()
    return Promise.all(done)
  }

  #kick(): void {
    if (this.#starting) {
      // Asked while starting (a batch finished meanwhile): look at the queue again once done.
      this.#kickAgain = true
      return
    }
    this.#starting = true
    void this.#startBatches().finally(() => {
      this.#starting = false
      if (this.#kickAgain) {
        this.#kickAgain = false
        this.#kick()
      }
    })
  }

  /**
   * Starts batches while the queue has work and a slot is free. A batch starts only once the one before
   * it holds its locks, so locks are taken in queue order (a receipt never overtakes an earlier request's
   * identity or stream), and it leaves out every stream a batch in flight holds (a stream's receipts stay
   * in queue order even when a batch fails and its groups are retried alone).
   */
  async #startBatches(): Promise<void> {
    const pooled = this.deps.db.queryOutsideTransaction !== undefined
    const slots = pooled ? Math.max(1, this.deps.batchesInFlight ?? MAX_BATCHES_IN_FLIGHT) : 1
    for (;;) {
      if (this.#queue.length === 0) return
      // A full pipeline still takes one batch of priority groups alone (one such batch at a time).
      const onlyPriority = this.#inFlight.size >= slots
      if (onlyPriority && (!pooled || this.#priorityInFlight || !this.#queue.some(isPriority))) return
      const busy = new Set([...this.#inFlight].flatMap((b) => [...b]))
      const batch = this.#take(busy, onlyPriority)
      if (batch.length === 0) return
      if (onlyPriority) this.#priorityInFlight = true
      const streams = new Set(batch.map((p) => p.group.streamKey))
      this.#inFlight.add(streams)
      let locked!: () => void
      const holdsLocks = new Promise<void>((resolve) => (locked = resolve))
      const run = this.#run(batch, locked).finally(() => {
        this.#inFlight.delete(streams)
        if (onlyPriority) this.#priorityInFlight = false
        if (this.#queue.length) this.#kick()
      })
      await Promise.race([holdsLocks, run])
    }
  }

  async #run(batch: Pending[], locked: () => void): Promise<void> {
    try {
      const commit = await this.#commit(
        batch.map((p) => p.group),
        locked,
      )
      // The next batch may commit now; this one's acks wait for the checkpoint that covers it. Not where the
      // database has one connection (PGlite): the integrator's statements would queue behind whole batch
      // transactions (object writes included), so there the next batch gathers until this one is released.
      const released = this.#release(batch, commit)
      if (!this.deps.db.queryOutsideTransaction) await released
    } catch (error) {
      if (batch.length > 1) {
        // Retry each group on its own: only the group that fails again fails.
        this.#queue.unshift(...batch.map((p) => ({ ...p, solo: true })))
      } else if (lostRace(error) && (batch[0]!.raced ?? 0) < MAX_RACES) {
        // The other transaction of the deadlock went on; this one is tried again, alone.
        this.#queue.unshift({ ...batch[0]!, solo: true, raced: (batch[0]!.raced ?? 0) + 1 })
      } else {
        batch[0]!.reject(error)
      }
    }
  }

  /**
   * The next batch from the queue, in queue order, within the caps. A key change (KEY_ADDED,
   * KEY_REVOKED) for an identity and other streams signed by that identity never share a batch, so the
   * key set every other stream of a batch sees is the one it had before the batch; and a stream skipped
   * once is skipped for the rest of this batch (its receipts stay in chain order).
   */
  #take(busy: ReadonlySet<string>, onlyPriority = false): Pending[] {
    const first = this.#queue[0]!
    // A group retried alone waits for its stream to be free; the groups behind it wait with it.
    if (first.solo) return busy.has(first.group.streamKey) || (onlyPriority && !isPriority(first)) ? [] : this.#queue.splice(0, 1)
    const taken: Pending[] = []
    const keep: Pending[] = []
    const skipped = new Set<string>()
    const keyChanges = new Set<string>()
    const signers = new Set<string>()
    const streams = new Set<string>()
    const passedIssuers = new Set<string>()
    let receipts = 0
    for (const p of this.#queue) {
      const { streamKey, receipts: rs } = p.group
      const changes =
        streamKey.startsWith('identity/') && rs.some((c) => c.receipt.type === 'KEY_ADDED' || c.receipt.type === 'KEY_REVOKED')
      const identityId = changes ? streamKey.slice('identity/'.length) : undefined
      const issuers = streamKey.startsWith('identity/') ? [] : rs.map((c) => c.receipt.issuer.identityId)
      const conflict =
        p.solo ||
        (onlyPriority && (!isPriority(p) || issuers.some((i) => passedIssuers.has(i)))) ||
        busy.has(streamKey) ||
        skipped.has(streamKey) ||
        (taken.length > 0 && receipts + rs.length > MAX_BATCH_RECEIPTS) ||
        (!streams.has(streamKey) && streams.size >= MAX_BATCH_STREAMS) ||
        (identityId !== undefined && signers.has(identityId)) ||
        issuers.some((i) => keyChanges.has(i))
      if (conflict) {
        skipped.add(streamKey)
        keep.push(p)
        if (onlyPriority) {
          // A priority group never overtakes an earlier group of its issuer (or of its issuer's identity stream).
          for (const c of rs) passedIssuers.add(c.receipt.issuer.identityId)
          if (streamKey.startsWith('identity/')) passedIssuers.add(streamKey.slice('identity/'.length))
        }
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

  /**
   * One transaction: lock, load, evaluate, intents, objects, sequence (+ leaves), project, commit. Intents are
   * committed on their own before any object is written: on pg through a second connection, under the
   * batch's locks (another replica's batch may be settling the same stream); where the database has a
   * single connection (PGlite: one process, one appender, nothing else in flight) as one statement
   * before the transaction, for every receipt the batch may write.
   */
  async #commit(groups: StreamGroup[], locked: () => void = () => {}): Promise<Committed> {
    const { db, store } = this.deps
    const streams = [...new Set(groups.map((g) => g.streamKey))]
    const receipts = groups.flatMap((g) => g.receipts)
    const outside = db.queryOutsideTransaction?.bind(db)
    const lap = lapTimer(this.deps.onPhase)
    if (!outside) {
      await recordIntents((sql, params) => db.query(sql, params), receipts)
      lap('intents')
    }
    const committed = await db.transaction(async (tx) => {
      const facts = firstReads(receipts)
      await lockStreams(tx, groups, facts)
      lap('lock')
      locked()
      let ledger = await BatchLedger.load(tx, receipts, streams, facts)
      const leftovers = await this.#leftovers(tx, groups, ledger, receipts)
      // Rare (after a crash): load again with the leftovers' own needs.
      const all = leftovers.size ? [...[...leftovers.values()].flat(), ...receipts] : receipts
      if (leftovers.size) ledger = await BatchLedger.load(tx, all, streams, facts)
      // Reads that depend on loaded facts, batch-wide (nothing to do for a batch with no such rule).
      await ledger.ensureFacts(tx, all)
      lap('load')
      const { outcomes, accepted, adopted } = await evaluateBatch(ledger, groups, leftovers, this.deps, tx)
      lap('evaluate')
      if (accepted.length === 0) {
        await tx.query('DELETE FROM append_intents WHERE stream_key = ANY($1::text[])', [streams])
        return { outcomes, adopted, batch: [], leaves: [] }
      }
      if (outside)
        await recordIntents(
          (sql, params) => outside(sql, params),
          accepted.map((a) => a.checked),
        )
      lap('intents')
      await writeObjects(store, accepted, this.deps.maxParallelStreams)
      lap('objects')
      const leaves = leavesOf(accepted)
      const start = await sequence(tx, accepted, this.deps.projectors, streams, leaves)
      lap('sequence')
      const batch = accepted.map((a, i) => projected(a, start + i))
      for (const projector of this.deps.projectors) await projector.apply(tx, batch)
      lap('project')
      return { outcomes, adopted, batch, leaves }
    })
    lap('commit')
    // Committed: the integrator may take these leaves from memory instead of reading them back.
    if (committed.batch.length) this.deps.log.sequenced(committed.batch[0]!.position, committed.leaves)
    return committed
  }

  /**
   * The receipts a crash left in the store for the batch's streams, read back in chain order: the
   * objects of open intents (other than the batch's own receipts), and for `fromStore` groups the
   * objects past the stream's head.
   */
  async #leftovers(
    tx: Queryable,
    groups: readonly StreamGroup[],
    ledger: BatchLedger,
    receipts: readonly CheckedReceipt[],
  ): Promise<Map<string, CheckedReceipt[]>> {
    const own = new Set(receipts.map((c) => `${c.streamKey} ${c.receipt.eventId}`))
    const keys = new Map<string, string[]>()
    for (const [stream, intents] of ledger.intents) {
      const theirs = intents.filter((i) => !own.has(`${stream} ${i.eventId}`)).map((i) => i.objectKey)
      if (theirs.length) keys.set(stream, theirs)
    }
    for (const g of groups) if (g.fromStore) keys.set(g.streamKey, await this.#objectsPastHead(tx, g.streamKey))
    const out = new Map<string, CheckedReceipt[]>()
    for (const [stream, objectKeys] of keys) {
      const found = await readLeftovers(this.deps.store, objectKeys, this.deps.sha256)
      if (found.length) out.set(stream, found)
    }
    return out
  }

  async #objectsPastHead(tx: Queryable, streamKey: string): Promise<string[]> {
    const head = await tx.query<{ head_event_id: string }>('SELECT head_event_id FROM streams WHERE stream_key = $1', [streamKey])
    const prefix = streamEventsPrefix(parseStreamKey(streamKey))
    const keys: string[] = []
    for await (const key of listKeys(this.deps.store, prefix, head.rows[0] ? `${prefix}${head.rows[0].head_event_id}.json` : undefined)) {
      keys.push(key)
    }
    return keys
  }

  /**
   * Signs and stores the batch's acks (outside every lock, while the next batch commits) and waits for
   * the checkpoint covering the batch — both at once — then announces it and answers every group. A
   * crash before the ack INSERT leaves acks nobody was given; they are signed again on demand.
   */
  async #release(pending: Pending[], committed: Committed): Promise<void> {
    try {
      const { batch, outcomes } = committed
      const { db, relaySigner, log } = this.deps
      const lap = lapTimer(this.deps.onPhase)
      // Delivery to subscribers needs the checkpoint, not the acks (a delivery carries the checkpoint and
      // inclusion proof, never an ack): the batch is announced as soon as a checkpoint covers it, while its
      // acks may still be signing.
      const covered = batch.length ? log.waitFor(batch[batch.length - 1]!.position + 1) : Promise.resolve()
      const announced = covered.then(() => this.#announce(batch))
      announced.catch(() => undefined) // awaited below; its failure must not go unhandled if the acks fail first
      const [acks] = await Promise.all([
        completeAcks(
          db,
          relaySigner,
          batch.map((p) => ({
            stream: p.streamKey,
            seq: p.seq,
            position: p.position,
            eventId: p.receipt.eventId,
            hash: p.receipt.hash,
            ack: null,
          })),
        ),
        covered,
      ])
      lap('release')
      const accepted = (index: number): AcceptedResult => {
        const p = batch[index]!
        return {
          ok: true,
          eventId: p.receipt.eventId,
          seq: p.seq,
          position: p.position,
          hash: p.receipt.hash,
          ack: JSON.parse(acks[index]!) as Ack,
        }
      }
      const retries = outcomes.flat().filter((o) => o.kind === 'retry')
      const earlier = retries.length ? await storedResults(db, relaySigner, retries) : new Map<string, AcceptedResult>()
      // A retry's first result may be in a batch that committed but is not in a checkpoint yet.
      if (earlier.size) await log.waitFor(Math.max(...[...earlier.values()].map((r) => r.position)) + 1)
      await announced
      pending.forEach((p, i) => {
        const results = outcomes[i]!.map((o): IngestResult => {
          if (o.kind === 'rejected') return o.result
          if (o.kind === 'accepted') return accepted(o.index)
          // An exact retry: the first result — earlier in this batch, or stored.
          const inBatch = batch.findIndex(
            (b) => b.receipt.issuer.identityId === o.identityId && b.receipt.idempotencyKey === o.idempotencyKey,
          )
          if (inBatch >= 0) return accepted(inBatch)
          return (
            earlier.get(`${o.identityId} ${o.idempotencyKey}`) ?? {
              ok: false,
              eventId: o.eventId,
              error: { code: 'UNAVAILABLE', message: 'the first result of this receipt is not available yet; retry' },
            }
          )
        })
        p.resolve({ results, adopted: committed.adopted[i]! })
      })
      this.deps.onBatch?.({
        groups: pending.length,
        receipts: pending.reduce((n, p) => n + p.group.receipts.length, 0),
        accepted: batch.length,
      })
    } catch (error) {
      for (const p of pending) p.reject(error)
    }
  }

  /** Live fan-out once the checkpoint covers the batch: one NOTIFY statement for every stream (pg). */
  async #announce(batch: readonly ProjectedReceipt[]): Promise<void> {
    const { notifier, db } = this.deps
    if (!notifier || batch.length === 0) return
    const heads = new Map<string, number>()
    for (const p of batch) heads.set(p.streamKey, p.seq)
    if (notifier.channel) {
      await db.query('SELECT pg_notify($1, n) FROM unnest($2::text[]) AS n', [
        notifier.channel,
        [...heads].map(([stream, seq]) => formatNotice({ stream, seq })),
      ])
    } else {
      for (const [stream, seq] of heads) notifier.publish({ stream, seq })
    }
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
  const { rows } = await db.query<{
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
  const acks = await completeAcks(
    db,
    signer,
    rows.map((r) => ({ stream: r.stream_key, seq: r.seq, position: r.position, eventId: r.event_id, hash: r.hash, ack: r.ack })),
  )
  return new Map(
    rows.map((r, i) => [
      `${r.issuer_identity_id} ${r.idempotency_key}`,
      { ok: true, eventId: r.event_id, seq: r.seq, position: r.position, hash: r.hash, ack: JSON.parse(acks[i]!) as Ack },
    ]),
  )
}
