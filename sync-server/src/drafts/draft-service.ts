/**
 * Drafts on the relay (docs/drafts.md): one automerge-repo `Repo` per relay process, stored in the
 * object store (ObjectStoreStorageAdapter), reachable only through RelayNetworkAdapter (authenticated,
 * per-document authorization), with a document size cap and handle eviction.
 *
 * - **Registration**: `create(stream, identityId)` makes an empty document on the relay, stores it, and
 *   records which pixbook it belongs to (DraftRegistry). Only registered drafts are ever synced.
 * - **Access**: the identity may read the draft's pixbook stream (`mayRead`: a member of the book's
 *   account or the book's owner) — the same people who can read its receipts.
 * - **Size cap**: a sync message carrying changes is refused once the document would exceed
 *   DRAFT_MAX_BYTES. The estimate is the bytes of the document's stored chunks plus the changes accepted
 *   since the last save; only near the cap is the document actually serialized to measure it (cached per
 *   heads). Messages without changes (a peer catching up) are always let through, so an over-cap draft
 *   stays readable.
 * - **Eviction**: a document handle unused (no message in or out) for DRAFT_IDLE_MS is flushed and
 *   unloaded; above DRAFT_MAX_HANDLES loaded handles the least recently used are unloaded first (never
 *   one used in the last few seconds). The next message for it reloads it from storage; peers that had
 *   asked for it are served again.
 */
import { randomBytes } from 'node:crypto'
import * as A from '@automerge/automerge'
import { Repo, stringifyAutomergeUrl, type DocHandle, type DocumentId, type PeerId } from '@automerge/automerge-repo'
import { mayRead } from '../auth/read-access.js'
import type { Queryable } from '../db/projection-db.js'
import type { ObjectStore } from '../stores/object-store.js'
import { DraftRegistry, type DraftRecord } from './registry.js'
import { RelayNetworkAdapter, type Refusal, type RelayNetworkLimits } from './relay-network-adapter.js'
import { ObjectStoreStorageAdapter } from './store-storage-adapter.js'

export interface DraftServiceOptions {
  store: ObjectStore
  db: Queryable
  /** The relay's identityId: part of the relay's automerge peerId. */
  relayIdentityId: string
  sessionForToken: (token: string) => Promise<{ identityId: string } | undefined>
  maxDraftBytes: number
  idleMs: number
  maxHandles: number
  network?: Partial<RelayNetworkLimits>
  log?: { warn: (obj: object, msg: string) => void; debug: (obj: object, msg: string) => void }
  now?: () => number
}

/** Handles used within this window are never evicted, even above DRAFT_MAX_HANDLES. */
const RECENT_MS = 5_000

export class DraftService {
  readonly repo: Repo
  readonly registry: DraftRegistry
  readonly network: RelayNetworkAdapter
  readonly storage: ObjectStoreStorageAdapter
  readonly #lastUsed = new Map<string, number>()
  /** Bytes of changes accepted since the document's last stored chunk. */
  readonly #pending = new Map<string, number>()
  /** The last exact size measurement of a document, for the heads it was taken at. */
  readonly #measured = new Map<string, { heads: string; bytes: number }>()
  readonly #now: () => number
  #sweeper: NodeJS.Timeout | undefined
  #sweeping: Promise<void> | undefined
  evictions = 0

  constructor(private readonly options: DraftServiceOptions) {
    this.#now = options.now ?? Date.now
    this.registry = new DraftRegistry(options.store)
    this.storage = new ObjectStoreStorageAdapter(options.store, { onChunkSaved: (documentId) => this.#pending.delete(documentId) })
    this.network = new RelayNetworkAdapter(
      {
        session: options.sessionForToken,
        mayAccess: (identityId, documentId) => this.mayAccess(identityId, documentId),
        admit: (documentId, data) => this.admit(documentId, data),
        touched: (documentId) => this.#lastUsed.set(documentId, this.#now()),
      },
      options.network,
      options.log,
    )
    this.repo = new Repo({
      storage: this.storage,
      network: [this.network],
      peerId: `relay-${options.relayIdentityId}-${randomBytes(6).toString('hex')}` as PeerId,
      isEphemeral: false,
      shareConfig: {
        // The relay never offers documents; it answers the ones a peer asks for and may access.
        announce: async () => false,
        access: async (peerId, documentId) => this.network.hasGrant(peerId, documentId),
      },
    })
    const every = Math.max(1_000, Math.min(60_000, Math.floor(options.idleMs / 2)))
    this.#sweeper = setInterval(() => void this.sweep(), every)
    this.#sweeper.unref()
  }

  /** Creates and stores an empty draft for `stream` (`pixbook/{accountId}/{bookId}`), registered to it. */
  async create(book: { accountId: string; bookId: string }, createdBy: string): Promise<DraftRecord & { documentUrl: string }> {
    const handle = this.repo.create<Record<string, unknown>>()
    const documentId = handle.documentId
    await this.repo.flush([documentId])
    const record: DraftRecord = {
      documentId,
      stream: `pixbook/${book.accountId}/${book.bookId}`,
      accountId: book.accountId,
      bookId: book.bookId,
      createdBy,
      createdAt: new Date(this.#now()).toISOString(),
    }
    await this.registry.register(record)
    this.#lastUsed.set(documentId, this.#now())
    return { ...record, documentUrl: stringifyAutomergeUrl({ documentId }) }
  }

  /** Whether `identityId` may open the draft: it is registered, and its pixbook readable by the identity. */
  async mayAccess(identityId: string, documentId: string): Promise<boolean> {
    const record = await this.registry.lookup(documentId)
    if (!record) return false
    return mayRead(this.options.db, identityId, record.stream)
  }

  /** The size cap (see the module comment): undefined to accept, else why not. */
  async admit(documentId: string, data: Uint8Array): Promise<Refusal | undefined> {
    let changes: number
    try {
      changes = A.decodeSyncMessage(data).changes.length
    } catch {
      return { code: 'PROTOCOL_ERROR', message: 'undecodable sync message' }
    }
    if (changes === 0) return undefined
    const max = this.options.maxDraftBytes
    const incoming = data.byteLength
    if (incoming > max)
      return {
        code: 'PAYLOAD_TOO_LARGE',
        message: `a sync message of ${incoming} bytes for draft ${documentId} is over DRAFT_MAX_BYTES (${max})`,
      }
    const handle = await this.#loaded(documentId)
    const estimate = this.storage.storedBytes(documentId) + (this.#pending.get(documentId) ?? 0)
    if (estimate + incoming > max && handle?.isReady()) {
      const doc = handle.doc()
      const heads = A.getHeads(doc).join(',')
      let measured = this.#measured.get(documentId)
      if (measured?.heads !== heads) {
        measured = { heads, bytes: A.save(doc).byteLength }
        this.#measured.set(documentId, measured)
      }
      if (measured.bytes + incoming > max) {
        return {
          code: 'PAYLOAD_TOO_LARGE',
          message: `draft ${documentId} would exceed DRAFT_MAX_BYTES (${max}): ${measured.bytes} bytes stored, ${incoming} incoming`,
        }
      }
    }
    this.#pending.set(documentId, (this.#pending.get(documentId) ?? 0) + incoming)
    return undefined
  }

  /** Loaded document handles. */
  get loadedCount(): number {
    return Object.keys(this.repo.handles).length
  }

  /** Unloads idle handles, then the least recently used above the cap. */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep().finally(() => (this.#sweeping = undefined))
    return this.#sweeping
  }

  async #sweep(): Promise<void> {
    const now = this.#now()
    const loaded = Object.entries(this.repo.handles)
      .filter(([, handle]) => handle.isReady())
      .map(([documentId]) => ({ documentId, used: this.#lastUsed.get(documentId) ?? 0 }))
      .sort((a, b) => a.used - b.used)
    let excess = Object.keys(this.repo.handles).length - this.options.maxHandles
    for (const { documentId, used } of loaded) {
      const idle = now - used >= this.options.idleMs
      if (!idle && (excess <= 0 || now - used < RECENT_MS)) break
      try {
        await this.evict(documentId)
        excess--
      } catch (error) {
        this.options.log?.warn({ err: error, documentId }, 'draft eviction failed')
      }
    }
  }

  /** Saves and unloads one document handle. */
  async evict(documentId: string): Promise<void> {
    const handle = this.repo.handles[documentId as DocumentId]
    if (!handle) return
    await this.repo.flush([documentId as DocumentId])
    // automerge-repo 2.5: unloading resets the handle's document to an empty one and emits
    // `heads-changed`, which the repo's save listener would store as a snapshot of nothing — compacting
    // the real snapshot away. Swap that listener for one that saves only real states (changes arriving
    // while the handle is being unloaded are still written).
    const storage = this.repo.storageSubsystem!
    handle.removeAllListeners('heads-changed')
    handle.on('heads-changed', ({ doc }) => {
      if (A.getHeads(doc).length > 0)
        storage
          .saveDoc(documentId as DocumentId, doc)
          .catch((error: unknown) => this.options.log?.warn({ err: error, documentId }, 'draft save failed'))
    })
    await this.repo.removeFromCache(documentId as DocumentId)
    this.storage.forget(documentId)
    this.#lastUsed.delete(documentId)
    this.#pending.delete(documentId)
    this.#measured.delete(documentId)
    this.evictions++
  }

  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#sweeper = undefined
    await this.#sweeping
    // Closes every socket, then writes every loaded document (not repo.shutdown(): its flush throws on a
    // handle that is not ready).
    this.network.disconnect()
    const ready = Object.values(this.repo.handles).filter((handle) => handle.isReady())
    await this.repo.flush(ready.map((handle) => handle.documentId))
  }

  async #loaded(documentId: string): Promise<DocHandle<unknown> | undefined> {
    const cached = this.repo.handles[documentId as DocumentId]
    if (cached?.isReady()) return cached
    try {
      return await this.repo.find(documentId as DocumentId, { allowableStates: ['ready', 'unavailable', 'requesting'] })
    } catch {
      return undefined
    }
  }
}
