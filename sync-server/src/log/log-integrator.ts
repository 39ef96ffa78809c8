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
  LOG_PREFIX,
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
import type { ObjectStore } from '../stores/object-store.js'

export interface LogIntegratorDeps {
  db: ProjectionDb
  store: ObjectStore
  signer: Signer
  sha256: Sha256
  /** The checkpoint's origin line, also the signature's key name (docs/log.md). */
  origin: string
}

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
    await this.#withLogLock(async (q) => {
      const [cp, seq] = await Promise.all([
        q.query<{ size: number; root: Uint8Array; note: string }>('SELECT size, root, note FROM log_checkpoint'),
        q.query<{ size: number }>('SELECT size FROM log_sequence'),
      ])
      const current: StoredCheckpoint | undefined = cp.rows[0]?.note ? cp.rows[0] : undefined // '' = none yet
      const from = current?.size ?? 0
      const target = seq.rows[0]!.size
      if (current) this.#checkpoint = current
      if (target <= from && current) return
      const state = await this.#stateAt(from, current?.root)
      const leaves = await q.query<{ position: number; data: Uint8Array }>(
        'SELECT position, data FROM log_leaves WHERE position >= $1 AND position < $2 ORDER BY position',
        [from, target],
      )
      if (leaves.rows.length !== target - from || leaves.rows.some((l, i) => l.position !== from + i)) {
        throw new Error(`log leaves ${from}..${target} are not all in log_leaves: the log cannot be integrated`)
      }
      const { store, sha256, signer, origin } = this.deps
      const result = integrate(
        sha256,
        state,
        leaves.rows.map((l) => l.data),
      )
      // Full tiles are immutable and partial ones are determined by the size, so rewriting one a crashed
      // integrator already wrote puts the same bytes.
      await Promise.all([...result.tiles, ...result.entryBundles].map((o) => store.put(o.path, o.bytes, 'application/octet-stream')))
      const note = await signCheckpoint({ origin, size: target, root: result.root }, origin, signer)
      await store.put(CHECKPOINT_PATH, new TextEncoder().encode(note), 'text/plain; charset=utf-8')
      await q.query(
        `WITH cp AS (UPDATE log_checkpoint SET size = $1, root = $2, note = $3)
         DELETE FROM log_leaves WHERE position < $4`,
        [target, result.root, note, Math.floor(target / TILE_WIDTH) * TILE_WIDTH],
      )
      this.#state = result.state
      this.#checkpoint = { size: target, root: result.root, note }
    })
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
   * Integrations never overlap: across replicas on pg, a transaction holds the log_checkpoint row for the
   * whole round (it blocks only other integrators, never appends); on PGlite there is one process, and a
   * transaction would hold its only connection during the store writes, so a mutex does it.
   */
  async #withLogLock(fn: (q: Queryable) => Promise<void>): Promise<void> {
    const { db } = this.deps
    if (db.name === 'pglite') return this.#mutex.run(() => fn(db))
    await db.transaction(async (tx) => {
      await tx.query('SELECT 1 FROM log_checkpoint FOR UPDATE')
      await fn(tx)
    })
  }
}

export { LOG_PREFIX }
