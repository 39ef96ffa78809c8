/**
 * rebuild: replays the acceptance log from the object store alone, in log order, through the projectors —
 * the same `apply` the append path runs — into shadow tables, then swaps them in. Receipts are verified
 * on the way (schema, hash, signature on the worker pool, key validity at their log position, chain), so
 * a store that does not verify is reported, not projected. Appends go on meanwhile: the shadow catches up
 * with the log's tail while the swap holds the log's sequence row, then the live tables take its rows.
 */
import { canonicalJson, ChainVerifier, type PreparedReceipt, type Sha256, type SignatureVerifier, type TrustPolicy } from '@pixpax/shared'
import type { ProjectionDb, Queryable } from '../db/projection-db.js'
import { PROJECTORS } from '../domains/modules.js'
import type { ProjectedReceipt, Projector } from '../projection/projector.js'
import type { ObjectStore } from '../stores/object-store.js'
import { loggedReceipts, logEntries, readStoreCheckpoint, storeEntries, type LoggedReceipt } from './log-reader.js'

export interface ReplayProgress {
  (done: { receipts: number; total: number }): void
}

export interface RebuildDeps {
  db: ProjectionDb
  store: ObjectStore
  sha256: Sha256
  verifier: SignatureVerifier
  policy?: TrustPolicy
}

export interface RebuildOptions {
  /** Projector names to rebuild (default: all). */
  projectors?: readonly string[]
  progress?: ReplayProgress
  /** Receipts per projector batch (one transaction each). */
  batchSize?: number
}

export interface RebuildResult {
  receipts: number
  streams: number
  projectors: string[]
}

/** A store that does not verify: the first problem, with where it is. */
export class ReplayError extends Error {
  override name = 'ReplayError'
  constructor(
    readonly code: string,
    message: string,
    readonly position: number,
  ) {
    super(message)
  }
}

function shadowSchemaOf(schema: string): string {
  return `${schema}_rebuild`.slice(0, 63)
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`

/**
 * Feeds log entries [from, to) — verified in order by one ChainVerifier — to the projectors in batches,
 * each batch in a transaction whose search_path puts the shadow schema first.
 */
class Replayer {
  readonly chain: ChainVerifier
  readonly streams = new Set<string>()
  receipts = 0

  constructor(
    private readonly deps: RebuildDeps,
    private readonly projectors: readonly Projector[],
    private readonly searchPath: string,
    private readonly batchSize: number,
  ) {
    // Replay starts at position 0 and goes in log order, so the rules across streams are decided again.
    this.chain = new ChainVerifier({ verifier: deps.verifier, sha256: deps.sha256, ...deps.policy, crossStream: true })
  }

  async replay(entries: AsyncIterable<{ position: number; data: Uint8Array }>, tx?: Queryable, onBatch?: () => void): Promise<void> {
    let batch: ProjectedReceipt[] = []
    // One batch is written while the next is read and verified (outside the swap's transaction): the
    // writes overlap the CPU work.
    let writing: Promise<void> = Promise.resolve()
    const flush = async (): Promise<void> => {
      await writing // in order, one transaction at a time (and one at a time on `tx`)
      if (batch.length === 0) return
      const rows = batch
      batch = []
      const run = async (q: Queryable): Promise<void> => {
        await q.query(`SET LOCAL search_path TO ${this.searchPath}`)
        for (const p of this.projectors) await p.apply(q, rows)
      }
      if (tx) {
        // One connection: its statements must not overlap the reads of the log's tail.
        await run(tx)
        onBatch?.()
        return
      }
      writing = this.deps.db.transaction(run).then(() => onBatch?.())
      writing.catch(() => undefined) // awaited by the next flush; never an unhandled rejection meanwhile
    }
    // Signatures are verified ahead on the pool (prepare, a window of receipts), committed in log order.
    const window: Array<{ logged: LoggedReceipt; prepared: PreparedReceipt }> = []
    const commitOne = async (): Promise<void> => {
      const { logged, prepared } = window.shift()!
      const verdict = await this.chain.commit(prepared)
      if (!verdict.ok)
        throw new ReplayError(verdict.code, `log entry ${logged.position} (${logged.objectKey}): ${verdict.message}`, logged.position)
      if (verdict.seq !== logged.entry.seq) {
        throw new ReplayError(
          'LOG_INCONSISTENT',
          `log entry ${logged.position} says seq ${logged.entry.seq}, the chain says ${verdict.seq}`,
          logged.position,
        )
      }
      const { receipt } = logged.checked!
      this.streams.add(logged.entry.stream)
      batch.push({
        receipt,
        body: logged.checked!.text ?? canonicalJson(receipt),
        streamKey: logged.entry.stream,
        seq: verdict.seq,
        position: logged.position,
        objectKey: logged.objectKey,
        owner: [...this.chain.ledger.stream(logged.entry.stream)!.owners][0] ?? receipt.issuer.identityId,
      })
      this.receipts++
      if (batch.length >= this.batchSize) await flush()
    }
    for await (const logged of loggedReceipts(entries, this.deps.store, this.deps.sha256)) {
      if (logged.problem || !logged.checked) throw new ReplayError(logged.problem!.code, logged.problem!.message, logged.position)
      window.push({ logged, prepared: this.chain.prepareChecked(logged.checked) })
      if (window.length >= 512) await commitOne()
    }
    while (window.length) await commitOne()
    await flush()
    await writing
  }
}

export async function rebuild(deps: RebuildDeps, options: RebuildOptions = {}): Promise<RebuildResult> {
  const { db, store } = deps
  const wanted = options.projectors
  const projectors = wanted ? PROJECTORS.filter((p) => wanted.includes(p.name)) : PROJECTORS
  if (wanted && projectors.length !== wanted.length) {
    throw new Error(`unknown projector(s): ${wanted.filter((n) => !PROJECTORS.some((p) => p.name === n)).join(', ')}`)
  }
  // A projector's rules may read another's tables (the chain reads streams): rebuilding one alone
  // replays the whole log through it, reading nothing but its own tables.
  const schema = (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s
  const shadow = shadowSchemaOf(schema)
  const tables = projectors.flatMap((p) => p.tables.map((t) => t.name))
  await db.transaction(async (tx) => {
    await tx.query(`DROP SCHEMA IF EXISTS ${quote(shadow)} CASCADE`)
    await tx.query(`CREATE SCHEMA ${quote(shadow)}`)
    for (const t of tables) await tx.query(`CREATE TABLE ${quote(shadow)}.${quote(t)} (LIKE ${quote(schema)}.${quote(t)} INCLUDING ALL)`)
  })
  const replayer = new Replayer(deps, projectors, `${quote(shadow)}, ${quote(schema)}`, options.batchSize ?? 2000)
  const stored = await readStoreCheckpoint(store)
  const storeSize = stored?.checkpoint.size ?? 0
  const report = (): void => options.progress?.({ receipts: replayer.receipts, total: storeSize })
  // 1. Everything the store's checkpoint covers, with appends going on.
  await replayer.replay(storeEntries(store, storeSize), undefined, report)
  // 2. The tail, with the log's sequence held: no batch sequences until the swap commits.
  await db.transaction(async (tx) => {
    const seq = await tx.query<{ size: number }>('SELECT size FROM log_sequence FOR UPDATE')
    // A tail projector's runner (tail-runner.ts) locks its offset row before its tables: taken here in
    // the same order, before the swap touches the tables, so a batch is wholly before or after the swap.
    await tx.query('SELECT applied_size FROM projector_offsets WHERE projector = ANY($1::text[]) FOR UPDATE', [
      projectors.filter((p) => p.mode === 'tail').map((p) => p.name),
    ])
    let size = seq.rows[0]!.size
    if (size < storeSize) {
      // A database restored or created empty beside a store with a log: the log continues where the store is.
      await tx.query('UPDATE log_sequence SET size = $1', [storeSize])
      await tx.query('UPDATE log_checkpoint SET size = $1, root = $2, note = $3 WHERE size < $1', [
        storeSize,
        stored!.checkpoint.root,
        stored!.note,
      ])
      size = storeSize
    }
    await replayer.replay(logEntries(tx, store, storeSize, size), tx, report)
    await tx.query(`SET LOCAL search_path TO ${quote(schema)}`)
    for (const t of tables) {
      await tx.query(`TRUNCATE ${quote(schema)}.${quote(t)}`)
      await tx.query(`INSERT INTO ${quote(schema)}.${quote(t)} SELECT * FROM ${quote(shadow)}.${quote(t)}`)
    }
    await tx.query(
      `INSERT INTO projector_offsets (projector, applied_size) SELECT p, $1 FROM unnest($2::text[]) AS p
       ON CONFLICT (projector) DO UPDATE SET applied_size = EXCLUDED.applied_size`,
      // Inline and tail alike: the swapped-in tables hold every position below `size`.
      [size, projectors.map((p) => p.name)],
    )
    await tx.query(`DROP SCHEMA ${quote(shadow)} CASCADE`)
  })
  report()
  return { receipts: replayer.receipts, streams: replayer.streams.size, projectors: projectors.map((p) => p.name) }
}
