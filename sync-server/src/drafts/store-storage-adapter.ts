/**
 * An automerge-repo storage adapter over the relay's ObjectStore (docs/drafts.md, "Storage"): every
 * replica writes draft chunks to the same bucket (S3/Spaces in production, the filesystem embedded)
 * that holds the receipts, so drafts survive a replica and any replica can load any draft.
 *
 * automerge-repo's storage is built for this: chunks are content-named (`[documentId, "incremental",
 * sha256]`, `[documentId, "snapshot", headsHash]`), a load merges every chunk it finds, and compaction
 * deletes only the chunks the compacting process itself loaded or wrote. Two replicas writing one
 * document at once therefore lose nothing; at worst a chunk outlives its compaction.
 *
 * Key mapping: storage key `[a, b, c]` ↦ object key `pixpax/drafts/repo/a/b/c.bin`. A segment that is
 * not already a safe object-key segment (or starts with `_`) is written as `_` + base64url(UTF-8), so the
 * mapping is injective; no encoded segment contains a `.`, so a leaf (`….bin`) never collides with a
 * directory of longer keys (the filesystem store cannot have both `a` and `a/b`).
 *
 * It also keeps, per document, the sizes of the snapshot and incremental chunks it has seen (loaded,
 * saved, removed): the relay's size cap reads that (`storedBytes`) instead of re-serializing documents.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo'
import type { ObjectStore } from '../stores/object-store.js'

export const DRAFT_REPO_PREFIX = 'pixpax/drafts/repo/'
const LEAF_SUFFIX = '.bin'
const RAW_SEGMENT = /^[A-Za-z0-9-][A-Za-z0-9_-]{0,127}$/

export function encodeSegment(segment: string): string {
  return RAW_SEGMENT.test(segment) ? segment : `_${Buffer.from(segment, 'utf8').toString('base64url')}`
}

export function decodeSegment(segment: string): string {
  return segment.startsWith('_') ? Buffer.from(segment.slice(1), 'base64url').toString('utf8') : segment
}

/** The object key of a storage key. */
export function objectKeyOf(key: StorageKey, prefix = DRAFT_REPO_PREFIX): string {
  if (key.length === 0) throw new RangeError('an automerge storage key needs at least one segment')
  return `${prefix}${key.map(encodeSegment).join('/')}${LEAF_SUFFIX}`
}

/** The storage key of an object key written by `objectKeyOf`, or undefined for anything else. */
export function storageKeyOf(objectKey: string, prefix = DRAFT_REPO_PREFIX): StorageKey | undefined {
  if (!objectKey.startsWith(prefix) || !objectKey.endsWith(LEAF_SUFFIX)) return undefined
  return objectKey.slice(prefix.length, -LEAF_SUFFIX.length).split('/').map(decodeSegment)
}

type ChunkKind = 'snapshot' | 'incremental'
const chunkKind = (key: StorageKey): ChunkKind | undefined =>
  key.length === 3 && (key[1] === 'snapshot' || key[1] === 'incremental') ? key[1] : undefined

export class ObjectStoreStorageAdapter implements StorageAdapterInterface {
  /** documentId → (object key → bytes) of the document chunks this process knows about. */
  readonly #sizes = new Map<string, Map<string, number>>()

  constructor(
    private readonly store: ObjectStore,
    private readonly options: {
      prefix?: string
      /** Called after a document chunk (snapshot or incremental) was written. */
      onChunkSaved?: (documentId: string, kind: ChunkKind, bytes: number) => void
    } = {},
  ) {}

  get #prefix(): string {
    return this.options.prefix ?? DRAFT_REPO_PREFIX
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const objectKey = objectKeyOf(key, this.#prefix)
    const bytes = await this.store.get(objectKey)
    if (bytes && chunkKind(key)) this.#track(key, objectKey, bytes.byteLength)
    return bytes
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    const objectKey = objectKeyOf(key, this.#prefix)
    await this.store.put(objectKey, data, 'application/octet-stream')
    const kind = chunkKind(key)
    if (kind) {
      this.#track(key, objectKey, data.byteLength)
      this.options.onChunkSaved?.(key[0]!, kind, data.byteLength)
    }
  }

  async remove(key: StorageKey): Promise<void> {
    const objectKey = objectKeyOf(key, this.#prefix)
    await this.store.delete(objectKey)
    this.#sizes.get(key[0]!)?.delete(objectKey)
  }

  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const keys = await this.#keysUnder(keyPrefix)
    const chunks: Chunk[] = []
    // Modest parallelism: a document is a handful of chunks, a bucket round trip is the cost.
    for (let i = 0; i < keys.length; i += 16) {
      const page = keys.slice(i, i + 16)
      const datas = await Promise.all(page.map(([objectKey]) => this.store.get(objectKey)))
      page.forEach(([objectKey, key], j) => {
        const data = datas[j]
        if (data === undefined) return // deleted since the listing (a concurrent compaction)
        if (chunkKind(key)) this.#track(key, objectKey, data.byteLength)
        chunks.push({ key, data })
      })
    }
    return chunks
  }

  async removeRange(keyPrefix: StorageKey): Promise<void> {
    for (const [objectKey, key] of await this.#keysUnder(keyPrefix)) {
      await this.store.delete(objectKey)
      this.#sizes.get(key[0]!)?.delete(objectKey)
    }
  }

  /** Bytes of the snapshot and incremental chunks of `documentId` known to this process. */
  storedBytes(documentId: string): number {
    let total = 0
    for (const size of this.#sizes.get(documentId)?.values() ?? []) total += size
    return total
  }

  /** Forgets the size bookkeeping of an evicted document (it is rebuilt on the next load). */
  forget(documentId: string): void {
    this.#sizes.delete(documentId)
  }

  #track(key: StorageKey, objectKey: string, bytes: number): void {
    const documentId = key[0]!
    let sizes = this.#sizes.get(documentId)
    if (!sizes) this.#sizes.set(documentId, (sizes = new Map<string, number>()))
    sizes.set(objectKey, bytes)
  }

  /** Every stored key equal to or under `keyPrefix`, as [object key, storage key]. */
  async #keysUnder(keyPrefix: StorageKey): Promise<Array<[string, StorageKey]>> {
    const out: Array<[string, StorageKey]> = []
    if (keyPrefix.length > 0) {
      // The prefix may itself be a whole key.
      const exact = objectKeyOf(keyPrefix, this.#prefix)
      if ((await this.store.get(exact)) !== undefined) out.push([exact, [...keyPrefix]])
    }
    const dir = keyPrefix.length === 0 ? this.#prefix : `${this.#prefix}${keyPrefix.map(encodeSegment).join('/')}/`
    let startAfter: string | undefined
    for (;;) {
      const page = await this.store.list(dir, { ...(startAfter ? { startAfter } : {}), limit: 1000 })
      for (const objectKey of page) {
        const key = storageKeyOf(objectKey, this.#prefix)
        if (key) out.push([objectKey, key])
      }
      if (page.length < 1000) break
      startAfter = page[page.length - 1]
    }
    return out
  }
}
