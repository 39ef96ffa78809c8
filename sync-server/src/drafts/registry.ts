/**
 * The draft registry: which pixbook a draft document belongs to (docs/drafts.md, "Authorization").
 * automerge-repo alone treats knowing a document URL as access; the relay instead serves a document only
 * to sessions that may read the pixbook stream it was registered under (`mayRead`, the same rule as
 * `GET /v1/receipts`).
 *
 * Registrations live in the object store next to the drafts, so every replica sees them and they survive
 * the database (they are not a projection of receipts, so they are not in Postgres):
 *
 * - `pixpax/drafts/meta/{documentId}.json` — `{documentId, stream, accountId, bookId, createdBy, createdAt}`,
 *   written once (`putIfAbsent`); a registration never changes, so lookups are cached forever (LRU);
 * - `pixpax/drafts/books/{accountId}/{bookId}/{documentId}.json` — the same record, the per-book index
 *   that `GET /v1/drafts?accountId&bookId` lists.
 */
import { isValidDocumentId } from '@automerge/automerge-repo'
import type { ObjectStore } from '../stores/object-store.js'

export interface DraftRecord {
  documentId: string
  /** `pixbook/{accountId}/{bookId}` */
  stream: string
  accountId: string
  bookId: string
  /** The identity whose session registered the draft. */
  createdBy: string
  createdAt: string
}

export const draftMetaKey = (documentId: string): string => `pixpax/drafts/meta/${documentId}.json`
export const draftBookPrefix = (accountId: string, bookId: string): string => `pixpax/drafts/books/${accountId}/${bookId}/`

const CACHE_LIMIT = 10_000
const NEGATIVE_TTL_MS = 5_000

export class DraftRegistry {
  /** documentId → record (or null: known absent, until `at` + NEGATIVE_TTL_MS). Insertion order = LRU. */
  readonly #cache = new Map<string, { record: DraftRecord | null; at: number }>()

  constructor(
    private readonly store: ObjectStore,
    private readonly now: () => number = Date.now,
  ) {}

  async register(record: DraftRecord): Promise<'created' | 'exists'> {
    const bytes = Buffer.from(JSON.stringify(record), 'utf8')
    const outcome = await this.store.putIfAbsent(draftMetaKey(record.documentId), bytes, 'application/json')
    if (outcome === 'exists') return outcome
    await this.store.putIfAbsent(`${draftBookPrefix(record.accountId, record.bookId)}${record.documentId}.json`, bytes, 'application/json')
    this.#remember(record.documentId, record)
    return outcome
  }

  async lookup(documentId: string): Promise<DraftRecord | undefined> {
    if (!isValidDocumentId(documentId)) return undefined
    const cached = this.#cache.get(documentId)
    if (cached && (cached.record || this.now() - cached.at < NEGATIVE_TTL_MS)) {
      this.#cache.delete(documentId)
      this.#cache.set(documentId, cached)
      return cached.record ?? undefined
    }
    const bytes = await this.store.get(draftMetaKey(documentId))
    const record = bytes ? (JSON.parse(Buffer.from(bytes).toString('utf8')) as DraftRecord) : null
    this.#remember(documentId, record)
    return record ?? undefined
  }

  /** The drafts of one pixbook, in documentId order. */
  async list(accountId: string, bookId: string, limit = 1000): Promise<DraftRecord[]> {
    const keys = await this.store.list(draftBookPrefix(accountId, bookId), { limit })
    const records = await Promise.all(keys.map((k) => this.store.get(k)))
    return records.flatMap((b) => (b ? [JSON.parse(Buffer.from(b).toString('utf8')) as DraftRecord] : []))
  }

  #remember(documentId: string, record: DraftRecord | null): void {
    this.#cache.delete(documentId)
    this.#cache.set(documentId, { record, at: this.now() })
    if (this.#cache.size > CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value!)
  }
}
