/**
 * Witness cosignatures of the relay's checkpoints (docs/log.md §11), kept in the object store beside the
 * log — `pixpax/log/cosignature/{size}/{identityId}.{keyIdHex}`, each object one cosignature line — since
 * they are not derived from receipts and Postgres holds only what is. The first cosignature of a witness
 * key for a size is kept (putIfAbsent): a resend is a no-op.
 *
 * The newest checkpoint is read with its cosignatures on every `GET /v1/log/checkpoint` and every growth
 * of the log, so the lines of a size are cached briefly (a cosignature added on this replica clears the
 * cache at once; one added on another replica shows within `ttlMs`).
 */
import { keyHashHex, LOG_PREFIX, withSignatureLines, utf8DecodeStrict, utf8Encode } from '@pixpax/shared'
import { listKeys, type ObjectStore } from '../stores/object-store.js'

export const COSIGNATURE_PREFIX = `${LOG_PREFIX}cosignature/`
/** At most this many cosignatures are served with a checkpoint (signed-note verifiers cap lines too). */
export const MAX_SERVED_COSIGNATURES = 64

/** The commit notice that tells every replica a cosignature arrived (a pseudo-stream no one subscribes to). */
export const COSIGNED_NOTICE = { stream: 'log/cosigned', seq: 1 }

export function cosignaturePath(size: number, identityId: string, keyHash: number): string {
  return `${COSIGNATURE_PREFIX}${size}/${identityId}.${keyHashHex(keyHash)}`
}

export class CosignatureStore {
  readonly #cache = new Map<number, { lines: Promise<string[]>; at: number }>()

  constructor(
    private readonly store: ObjectStore,
    private readonly ttlMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores a verified cosignature line; `exists` when that witness key already cosigned that size. */
  async add(size: number, identityId: string, keyHash: number, line: string): Promise<'created' | 'exists'> {
    const result = await this.store.putIfAbsent(cosignaturePath(size, identityId, keyHash), utf8Encode(line), 'text/plain; charset=utf-8')
    this.#cache.delete(size)
    return result
  }

  /** Forgets what was read (another replica stored a cosignature). */
  clear(): void {
    this.#cache.clear()
  }

  /** The cosignature lines of the checkpoint of `size`, in key order. */
  lines(size: number): Promise<string[]> {
    const hit = this.#cache.get(size)
    if (hit && this.now() - hit.at < this.ttlMs) return hit.lines
    const lines = this.#read(size)
    this.#cache.set(size, { lines, at: this.now() })
    lines.catch(() => this.#cache.delete(size))
    // Only the newest sizes are asked for: keep a few.
    if (this.#cache.size > 8) this.#cache.delete(this.#cache.keys().next().value!)
    return lines
  }

  /** The signed note with the cosignatures of its size appended. */
  async withCosignatures(size: number, note: string): Promise<string> {
    const lines = await this.lines(size)
    return lines.length ? withSignatureLines(note, lines) : note
  }

  async #read(size: number): Promise<string[]> {
    const lines: string[] = []
    for await (const key of listKeys(this.store, `${COSIGNATURE_PREFIX}${size}/`)) {
      const bytes = await this.store.get(key)
      if (bytes) lines.push(utf8DecodeStrict(bytes))
      if (lines.length >= MAX_SERVED_COSIGNATURES) break
    }
    return lines
  }
}

/** One CosignatureStore per object store, shared by the log routes and the sync sessions of an app. */
const stores = new WeakMap<ObjectStore, CosignatureStore>()
export function cosignaturesOf(store: ObjectStore): CosignatureStore {
  let cosignatures = stores.get(store)
  if (!cosignatures) {
    cosignatures = new CosignatureStore(store)
    stores.set(store, cosignatures)
  }
  return cosignatures
}
