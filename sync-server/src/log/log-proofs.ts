/**
 * Proofs from the stored log tiles, for the sync protocol (docs/sync-protocol.md) and the log routes:
 * the newest checkpoint, multi-leaf inclusion proofs of a delivery batch, and consistency proofs between
 * two checkpoint sizes. Full tiles never change, so one LRU in front of the store serves every session;
 * consistency proofs between the same two sizes are asked for by every connected client when the log
 * grows, so the last few are kept too.
 */
import {
  base64Encode,
  consistencyProof,
  hashAtFromTiles,
  multiInclusionProof,
  tileReaderFromStore,
  type Sha256,
  type TileReader,
} from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import { getMany, type ObjectStore } from '../stores/object-store.js'
import { cosignaturesOf, type CosignatureStore } from './cosignature-store.js'

/** A tile reader that keeps the last `capacity` full tiles (a partial one may be replaced by its full tile). */
export function cachedTileReader(get: (path: string) => Promise<Uint8Array | undefined>, capacity = 4096): TileReader {
  const cache = new Map<string, Uint8Array>()
  return tileReaderFromStore(async (path) => {
    const hit = cache.get(path)
    if (hit) return hit
    const bytes = await get(path)
    if (bytes && !path.includes('.p/')) {
      cache.set(path, bytes)
      if (cache.size > capacity) cache.delete(cache.keys().next().value!)
    }
    return bytes
  })
}

/** The newest signed checkpoint as the log_checkpoint row holds it (size 0 and no note before the first). */
export interface CheckpointRow {
  size: number
  note: string
}

export class LogProofs {
  readonly reader: TileReader
  readonly #consistency = new Map<string, Promise<string[]>>()
  readonly #cosignatures: CosignatureStore

  constructor(private readonly deps: { db: Queryable; store: ObjectStore; sha256: Sha256 }) {
    // getMany: the fs store reads a small file synchronously (~15 µs against four thread-pool round trips),
    // and every delivery's proof reads the partial tiles at the tree's right edge, which are never cached.
    this.reader = cachedTileReader(async (path) => (await getMany(deps.store, [path]))[0])
    this.#cosignatures = cosignaturesOf(deps.store)
  }

  /**
   * The stored checkpoint with the witness cosignatures it has: what `GET /v1/log/checkpoint` serves, byte
   * for byte. (Delivery batches carry the note as stored, without them: docs/sync-protocol.md.)
   */
  async latest(): Promise<CheckpointRow | undefined> {
    const { rows } = await this.deps.db.query<{ size: number; note: string }>('SELECT size, note FROM log_checkpoint')
    const row = rows[0]
    if (!row?.note) return undefined
    const size = Number(row.size)
    return { size, note: await this.#cosignatures.withCosignatures(size, row.note) }
  }

  /** Forgets the cosignatures read (a notice said another replica stored one). */
  forgetCosignatures(): void {
    this.#cosignatures.clear()
  }

  /** The multi-leaf inclusion proof of `positions` (increasing) in the tree of `size` leaves, as base64 hashes. */
  async inclusion(positions: readonly number[], size: number): Promise<string[]> {
    const { sha256 } = this.deps
    const hashes = await multiInclusionProof(sha256, positions, size, hashAtFromTiles(sha256, size, this.reader))
    return hashes.map(base64Encode)
  }

  /** The RFC 9162 consistency proof from `from` (≥ 1) to `to` leaves, as base64 hashes. */
  consistency(from: number, to: number): Promise<string[]> {
    const key = `${from}-${to}`
    let proof = this.#consistency.get(key)
    if (!proof) {
      const { sha256 } = this.deps
      proof = consistencyProof(sha256, from, to, hashAtFromTiles(sha256, to, this.reader)).then((hashes) => hashes.map(base64Encode))
      this.#consistency.set(key, proof)
      proof.catch(() => this.#consistency.delete(key))
      if (this.#consistency.size > 64) this.#consistency.delete(this.#consistency.keys().next().value!)
    }
    return proof
  }
}
