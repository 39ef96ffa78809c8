/**
 * The object store: where canonical receipts live — the only source of truth (ARCHITECTURE §1, §4).
 * Implementations: filesystem (embedded default) and S3 (DigitalOcean Spaces in production). Every
 * implementation runs the same conformance suite (test/support/object-store-contract.ts).
 */
export interface ObjectStore {
  /** A short name for logs and metrics, e.g. `fs` or `s3`. */
  readonly name: string
  /**
   * Stores `bytes` at `key` unless an object is already there. Returns `created`, or `exists` with the
   * stored object untouched. A reader sees the whole object or none of it, never a torn write, and a
   * `created` object is durable (fsync'd / acknowledged by S3) when the promise resolves.
   */
  putIfAbsent(key: string, bytes: Uint8Array, contentType?: string): Promise<'created' | 'exists'>
  /**
   * Optional: putIfAbsent for each item, in order — a crash leaves a prefix of them stored, never an
   * item without every one before it — with all of them durable when the promise resolves. A store that
   * can make the items durable at once (fs: one fsync per file in parallel, then the names in order)
   * implements it; `putIfAbsentInOrder` below falls back to one putIfAbsent after the other.
   */
  putIfAbsentInOrder?(items: readonly ObjectToPut[]): Promise<Array<'created' | 'exists'>>
  /**
   * Optional: `put` of every item, and of `last` only once every item is stored (the log's tiles, then
   * the checkpoint that refers to them), all durable when the promise resolves. A store that can make
   * them durable at once (fs: one journal flush) implements it; `putAllThen` below falls back to the
   * items' puts at once, then `last`'s.
   */
  putAllThen?(items: readonly ObjectToPut[], last: ObjectToPut): Promise<void>
  /** Stores `bytes` at `key`, replacing what is there (derived objects only: snapshots). Same atomicity. */
  put(key: string, bytes: Uint8Array, contentType?: string): Promise<void>
  /** The object's bytes, or undefined if there is none. */
  get(key: string): Promise<Uint8Array | undefined>
  /**
   * Optional: `get` of many keys at once, in order, for stores where a batch is much cheaper than as
   * many separate reads (fs: a small file read synchronously costs a tenth of the CPU of fs.promises'
   * four thread-pool hops). `getMany` below falls back to parallel gets.
   */
  getMany?(keys: readonly string[]): Promise<Array<Uint8Array | undefined>>
  /**
   * Keys under `prefix`, ascending in byte order, at most `limit` (default 1000), starting after
   * `startAfter` when given. A page shorter than `limit` is the last one. `prefix` may end mid-segment
   * (`pixpax/pixbooks/acc` matches `pixpax/pixbooks/acc1/…`); one no valid key could start with
   * (`../`, `a//`, `/x`) throws a RangeError, as invalid keys do everywhere else.
   */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<string[]>
  /** Removes the object if present (derived objects only; receipts are never deleted). */
  delete(key: string): Promise<void>
  /** Cheap reachability check for /readyz. Throws if the store cannot be reached. */
  ping(): Promise<void>
  close(): Promise<void>
}

export interface ObjectToPut {
  key: string
  bytes: Uint8Array
  contentType?: string
}

/** `store.putIfAbsentInOrder(items)` where the store has it; otherwise one putIfAbsent after the other. */
export async function putIfAbsentInOrder(store: ObjectStore, items: readonly ObjectToPut[]): Promise<Array<'created' | 'exists'>> {
  if (store.putIfAbsentInOrder) return store.putIfAbsentInOrder(items)
  const out: Array<'created' | 'exists'> = []
  for (const { key, bytes, contentType } of items) out.push(await store.putIfAbsent(key, bytes, contentType))
  return out
}

/** `store.putAllThen(items, last)` where the store has it; otherwise the items at once, then `last`. */
export async function putAllThen(store: ObjectStore, items: readonly ObjectToPut[], last: ObjectToPut): Promise<void> {
  return store.putAllThen ? store.putAllThen(items, last) : putAllThenEach(store, items, last)
}

/** putAllThen by plain puts: the items at once, then `last` (each durable on its own). */
export async function putAllThenEach(store: ObjectStore, items: readonly ObjectToPut[], last: ObjectToPut): Promise<void> {
  await Promise.all(items.map((i) => store.put(i.key, i.bytes, i.contentType)))
  await store.put(last.key, last.bytes, last.contentType)
}

/** `store.getMany(keys)` where the store has it; otherwise `concurrency` gets in flight. */
export async function getMany(store: ObjectStore, keys: readonly string[], concurrency = 64): Promise<Array<Uint8Array | undefined>> {
  if (store.getMany) return store.getMany(keys)
  const out = new Array<Uint8Array | undefined>(keys.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < keys.length; i = next++) out[i] = await store.get(keys[i]!)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker))
  return out
}

/** Object keys are ASCII paths: segments of [A-Za-z0-9._-], no empty, `.` or `..` segment. */
export const OBJECT_KEY_PATTERN = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/

export function assertObjectKey(key: string): void {
  if (!OBJECT_KEY_PATTERN.test(key) || key.length > 512 || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new RangeError(`invalid object key ${JSON.stringify(key)}`)
  }
}

/** Every key under `prefix` (after `startAfter`), page by page, in key order. */
export async function* listKeys(store: ObjectStore, prefix: string, startAfter?: string): AsyncGenerator<string> {
  const limit = 1000
  let after = startAfter
  for (;;) {
    const page = await store.list(prefix, { limit, ...(after !== undefined ? { startAfter: after } : {}) })
    yield* page
    if (page.length < limit) return
    after = page[page.length - 1]
  }
}
