/**
 * The log integrator (ARCHITECTURE §4, the Tessera/Sunlight pattern): Postgres has sequenced leaves
 * (log_leaves, committed by the append batches in position order); this turns them into C2SP tiles,
 * entry bundles and a signed checkpoint in the object store — tiles and bundles first, then the
 * checkpoint, then the log_checkpoint row — and releases the acks waiting for them. One integration runs
 * at a time across every replica (the log_checkpoint row lock); rounds coalesce, so under load one
 * checkpoint covers many batches.
 */
import {
  CHECKPOINT_PATH,
  EMPTY_TREE,
  integrate,
  rootFromState,
  signCheckpoint,
  tileReaderFromStore,
  TILE_WIDTH,
  treeStateFromTiles,
  bytesEqual,
  type Sha256,
  type Signer,
  type TreeState,
} from '@pixpax/shared'
import type { ProjectionDb, Queryable } from '../db/projection-db.js'
import { Mutex } from '../db/mutex.js'
import { lapTimer, type PhaseReport } from '../metrics.js'
import type { ObjectStore } from '../stores/object-store.js'

export interface LogIntegratorDeps {
  db: ProjectionDb
  store: ObjectStore
  signer: Signer
  sha256: Sha256
  /** The checkpoint's origin line, also the signature's key name (docs/log.md). */
  origin: string
  /** The duration of each step of a round (metrics: pixpax_append_phase_seconds, `integrate_*`). */
  onPhase?: PhaseReport
}

const CHECKPOINT_TYPE = 'text/plain; charset=utf-8'

/** Leaves held for the next rounds at most (a bound that only a stalled integrator would reach). */
const MAX_HELD_LEAVES = 65_536

export interface StoredCheckpoint {
  size: number
  root: Uint8Array
  note: string
}

export class LogIntegrator {
  /** The tree as of the last checkpoint this process wrote or read. */
  #state: TreeState | undefined
  #checkpoint: StoredCheckpoint | undefined
  #round: Promise<void> | undefined
  #ready: Promise<void> | undefined
  readonly #mutex = new Mutex()
  /**
   * Leaf data this process's appender committed (`sequenced`), by position, until a checkpoint covers
   * it: a round reads from log_leaves only the leaves it does not hold (another replica's, or all of
   * them after a restart). Reading them back cost the relay's main thread ~35 µs a leaf (a bytea[]
   * parsed from text) and the round one more large result.
   */
  readonly #leaves = new Map<number, Uint8Array>()

  constructor(private readonly deps: LogIntegratorDeps) {}

  /** The newest checkpoint this process knows of (undefined before the first one). */
  get checkpoint(): StoredCheckpoint | undefined {
    return this.#checkpoint
  }

  /**
   * Integrates whatever a crashed process sequenced but never integrated; appends wait for it once, so
   * no ack can be released ahead of an older, unintegrated batch.
   */
  ready(): Promise<void> {
    this.#ready ??= this.integrate().catch((error: unknown) => {
      this.#ready = undefined
      throw error
    })
    return this.#ready
  }

  /**
   * The leaves of a batch that committed (called only after its COMMIT succeeded: a batch rolled back
   * gives its positions to the next one), from `start` on.
   */
  sequenced(start: number, leaves: readonly Uint8Array[]): void {
    const covered = this.#checkpoint?.size ?? 0
    if (this.#leaves.size + leaves.length > MAX_HELD_LEAVES) return // far behind: read from log_leaves
    leaves.forEach((leaf, i) => {
      if (start + i >= covered) this.#leaves.set(start + i, leaf)
    })
  }

  /** Resolves once a checkpoint of at least `size` is stored. */
  async waitFor(size: number): Promise<void> {
    while ((this.#checkpoint?.size ?? 0) < size) await this.integrate()
  }

  /** Runs an integration round; calls during a round share the next one. */
  integrate(): Promise<void> {
    if (this.#round) {
      return this.#round.then(() => this.integrate())
    }
    const round = this.#integrateOnce().finally(() => {
      this.#round = undefined
    })
    this.#round = round
    return round
  }

  async #integrateOnce(): Promise<void> {
    const lap = lapTimer(this.deps.onPhase)
    await this.#withLogLock(async (q) => {
      // The leaves held in memory: the run of consecutive positions from the lowest one held.
      let heldFrom = Infinity
      for (const position of this.#leaves.keys()) heldFrom = Math.min(heldFrom, position)
      let heldTo = heldFrom
      while (this.#leaves.has(heldTo)) heldTo++
      if (heldFrom === Infinity) heldFrom = heldTo = 0
      // One statement: the checkpoint row (locked on pg: one integrator at a time), the sequenced size, and
      // the leaves in between that are not held.
      const { rows } = await q.query<{ size: number; root: Uint8Array; note: string; target: number; leaves: Uint8Array[] }>(
        `SELECT cp.size, cp.root, cp.note, s.size AS target,
           (SELECT coalesce(array_agg(l.data ORDER BY l.position), '{}') FROM log_leaves l
            WHERE l.position >= cp.size AND l.position < s.size AND (l.position < $1 OR l.position >= $2)) AS leaves
         FROM log_checkpoint cp JOIN log_sequence s ON s.id WHERE cp.id FOR UPDATE OF cp`,
        [heldFrom, heldTo],
      )
      lap('integrate_read')
      const row = rows[0]!
      const current: StoredCheckpoint | undefined = row.note ? { size: row.size, root: row.root, note: row.note } : undefined // '' = none yet
      const from = row.size
      const target = row.target
      if (current) this.#checkpoint = current
      for (const position of this.#leaves.keys()) if (position < from) this.#leaves.delete(position)
      if (target <= from && current) return
      const state = await this.#stateAt(from, current?.root)
      const leaves: Uint8Array[] = []
      let read = 0
      for (let position = from; position < target; position++) {
        leaves.push(position >= heldFrom && position < heldTo ? this.#leaves.get(position)! : row.leaves[read++]!)
      }
      if (read !== row.leaves.length || leaves.length !== target - from || leaves.some((l) => l === undefined)) {
        throw new Error(`log leaves ${from}..${target} are not all in log_leaves: the log cannot be integrated`)
      }
      const { store, sha256, signer, origin } = this.deps
      const result = integrate(sha256, state, leaves)
      // Full tiles are immutable and partial ones are determined by the size, so rewriting one a crashed
      // integrator already wrote puts the same bytes. The note is signed while they are written (a
      // Vault Transit signature is an HTTP round trip): a signature makes nothing visible, the
      // checkpoint object does, and it is stored only once every tile is.
      const tiles = [...result.tiles, ...result.entryBundles].map((o) => ({
        key: o.path,
        bytes: o.bytes,
        contentType: 'application/octet-stream',
      }))
      let note: string
      if (store.putAllThen) {
        // Tiles and checkpoint durable at once (the fs store's journal: one flush), the checkpoint visible last.
        note = await signCheckpoint({ origin, size: target, root: result.root }, origin, signer)
        lap('integrate_tiles')
        await store.putAllThen(tiles, { key: CHECKPOINT_PATH, bytes: new TextEncoder().encode(note), contentType: CHECKPOINT_TYPE })
      } else {
        ;[note] = await Promise.all([
          signCheckpoint({ origin, size: target, root: result.root }, origin, signer),
          Promise.all(tiles.map((o) => store.put(o.key, o.bytes, o.contentType))),
        ])
        lap('integrate_tiles')
        await store.put(CHECKPOINT_PATH, new TextEncoder().encode(note), CHECKPOINT_TYPE)
      }
      lap('integrate_checkpoint')
      // The round's last statement: on pg it goes out with the COMMIT (one round trip, not two).
      const record = (q.queryThenCommit ?? q.query).bind(q)
      await record(
        `WITH cp AS (UPDATE log_checkpoint SET size = $1, root = $2, note = $3)
         DELETE FROM log_leaves WHERE position < $4`,
        [target, result.root, note, Math.floor(target / TILE_WIDTH) * TILE_WIDTH],
      )
      this.#state = result.state
      this.#checkpoint = { size: target, root: result.root, note }
      for (const position of this.#leaves.keys()) if (position < target) this.#leaves.delete(position)
    })
    lap('integrate_record')
  }

  /** The tree at the stored checkpoint: this process's copy, or read back from the store's tiles. */
  async #stateAt(size: number, root: Uint8Array | undefined): Promise<TreeState> {
    if (this.#state?.size === size) return this.#state
    if (size === 0) return EMPTY_TREE
    const state = await treeStateFromTiles(
      this.deps.sha256,
      size,
      tileReaderFromStore((path) => this.deps.store.get(path)),
    )
    if (root && !bytesEqual(rootFromState(this.deps.sha256, state), root)) {
      throw new Error(`the store's log tiles at size ${size} do not match the last checkpoint's root`)
    }
    return state
  }

  /**
   * Integrations never overlap: across replicas on pg, a transaction holds the log_checkpoint row (FOR
   * UPDATE in the first read) for the whole round — it blocks only other integrators, never appends. A
   * database with one connection (PGlite, one process) would be blocked entirely by a transaction held
   * during the store writes, so there a mutex does it and each statement commits on its own.
   */
  async #withLogLock(fn: (q: Queryable) => Promise<void>): Promise<void> {
    const { db } = this.deps
    if (!db.queryOutsideTransaction) return this.#mutex.run(() => fn(db))
    await db.transaction(fn)
  }
}
