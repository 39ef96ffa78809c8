/**
 * Drafts (docs/drafts.md): a pixbook's working copy as an automerge document, edited offline and synced
 * live through the relay, and **saved** — explicitly — as a signed receipt.
 *
 * - `createDraftRepo({storage, network})`: an automerge-repo `Repo`; inject the storage (NodeFS on Node,
 *   `nodeDraftStorage` from `@pixpax/client-sdk/node`; IndexedDB in browsers, `indexedDbDraftStorage`)
 *   and the network (`relayDraftNetwork`: the relay's authenticated WebSocket endpoint).
 * - `createDraft` registers a new draft with the relay (`POST /v1/drafts`: the relay creates the
 *   document, so every device starts from the same root) and opens it; `openDraft` opens one by URL.
 * - `saveDraft`: `Automerge.save(doc)` → SHA-256 → `PUT /v1/blobs/sha256/{hex}` → `append('PIXBOOK_SAVE',
 *   {documentUrl, heads, snapshotHash})`. `append` is injected: whatever builds, signs and queues the
 *   receipt (the client engine); saveDraft only decides the payload.
 * - **No hidden writes**: nothing is uploaded or signed unless the app calls `saveDraft`, or opts in to
 *   autosave (`openDraft({autosave: {...}})` / `startAutosave`), which is off by default. Syncing edits
 *   through the relay is not a save: it writes no receipt and no blob.
 */
import * as Automerge from '@automerge/automerge'
import {
  isValidAutomergeUrl,
  parseAutomergeUrl,
  Repo,
  stringifyAutomergeUrl,
  type AutomergeUrl,
  type DocHandle,
  type NetworkAdapterInterface,
  type PeerId,
  type StorageAdapterInterface,
} from '@automerge/automerge-repo'
import { bytesToHex, IdSchema, nobleSha256, PixbookSavePayload, PixpaxError, type ErrorCode, type Sha256 } from '@pixpax/shared'
import type { BookRef } from '../book-ref.js'
import { RelayWebSocketClientAdapter, type RelayAdapterOptions, type TokenSource } from './relay-adapter.js'

// ---- the repo --------------------------------------------------------------------------------------

export interface DraftRepoOptions {
  /** Where drafts live on this device: NodeFS (Node) or IndexedDB (browser). */
  storage: StorageAdapterInterface
  /** Usually `[relayDraftNetwork(...)]`; empty for an offline-only repo. */
  network?: NetworkAdapterInterface[]
  peerId?: string
}

export function createDraftRepo(options: DraftRepoOptions): Repo {
  return new Repo({
    storage: options.storage,
    network: options.network ?? [],
    ...(options.peerId ? { peerId: options.peerId as PeerId } : {}),
  })
}

/**
 * Disconnects a draft repo and writes every loaded draft to its storage. Use this rather than
 * `repo.shutdown()`, which throws when a handle is not ready (e.g. a draft the relay refused).
 */
export async function closeDraftRepo(repo: Repo): Promise<void> {
  for (const adapter of repo.networkSubsystem.adapters) adapter.disconnect()
  const ready = Object.values(repo.handles).filter((handle) => handle.isReady())
  await repo.flush(ready.map((handle) => handle.documentId))
}

/** The relay's HTTP API as drafts use it. */
export interface RelayHttp {
  /** `http(s)://host:port` of the relay. */
  url: string
  /** A session token (POST /v1/auth/session) or a function giving the current one. */
  token: TokenSource
  fetch?: typeof fetch
}

/** The network adapter for the relay's automerge endpoint, authenticated with the session token. */
export function relayDraftNetwork(relay: Pick<RelayHttp, 'url' | 'token'>, options?: RelayAdapterOptions): RelayWebSocketClientAdapter {
  return new RelayWebSocketClientAdapter(relay.url, relay.token, options)
}

// ---- errors and HTTP ------------------------------------------------------------------------------

async function relayRequest(
  relay: RelayHttp,
  method: string,
  path: string,
  body?: { json?: unknown; bytes?: Uint8Array },
): Promise<Response> {
  const token = typeof relay.token === 'function' ? relay.token() : relay.token
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  let payload: BodyInit | undefined
  if (body?.json !== undefined) {
    headers['content-type'] = 'application/json'
    payload = JSON.stringify(body.json)
  } else if (body?.bytes) {
    headers['content-type'] = 'application/octet-stream'
    payload = body.bytes as BodyInit
  }
  const res = await (relay.fetch ?? fetch)(new URL(path, relay.url), {
    method,
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
  })
  if (res.ok) return res
  let code: ErrorCode =
    res.status === 401
      ? 'UNAUTHENTICATED'
      : res.status === 403
        ? 'FORBIDDEN'
        : res.status === 404
          ? 'NOT_FOUND'
          : res.status >= 500
            ? 'UNAVAILABLE'
            : 'BAD_REQUEST'
  let message = `${method} ${path}: HTTP ${res.status}`
  let details: Record<string, unknown> | undefined
  try {
    const envelope = (await res.json()) as { error?: { code?: ErrorCode; message?: string; details?: Record<string, unknown> } }
    if (envelope.error?.code) code = envelope.error.code
    if (envelope.error?.message) message = `${method} ${path}: ${envelope.error.message}`
    details = envelope.error?.details
  } catch {
    // not our envelope
  }
  throw new PixpaxError(code, message, { status: res.status, ...details })
}

// ---- opening ---------------------------------------------------------------------------------------

export interface Draft<T = Record<string, unknown>> {
  handle: DocHandle<T>
  /** `automerge:{documentId}` (no heads): what PIXBOOK_SAVE pins. */
  documentUrl: AutomergeUrl
  /** Running autosave, when the caller opted in; null otherwise (the default). */
  autosave: Autosave | null
  /** Stops autosave (after a last save if changes are pending). Does not close the repo. */
  close(): Promise<void>
}

export interface OpenDraftOptions {
  repo: Repo
  documentUrl: string
  /** Give up after this long (the relay may refuse the draft, or be unreachable). Default 30 s. */
  timeoutMs?: number
  /**
   * Opt-in autosave (off when omitted — "no hidden writes"): after edits stop for `debounceMs`, the draft
   * is saved like `saveDraft`, which uploads a blob and appends a receipt.
   */
  autosave?: AutosaveOptions
}

/** Opens a draft from local storage, or from the relay if this device does not have it yet. */
export async function openDraft<T = Record<string, unknown>>(options: OpenDraftOptions): Promise<Draft<T>> {
  if (!isValidAutomergeUrl(options.documentUrl))
    throw new PixpaxError('SCHEMA_INVALID', `not an automerge document URL: ${options.documentUrl}`)
  const { documentId } = parseAutomergeUrl(options.documentUrl)
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 30_000)
  let handle: DocHandle<T>
  try {
    handle = await options.repo.find<T>(documentId, { signal: controller.signal })
  } catch (error) {
    if (controller.signal.aborted)
      throw new PixpaxError('UNAVAILABLE', `draft ${documentId} did not load within ${options.timeoutMs ?? 30_000} ms`)
    throw new PixpaxError(
      'NOT_FOUND',
      `draft ${documentId} is unavailable: not on this device, and the relay does not have it or refuses this session (${(error as Error).message})`,
    )
  } finally {
    clearTimeout(timer)
  }
  const autosave = options.autosave ? startAutosave({ ...options.autosave, handle: handle }) : null
  return {
    handle,
    documentUrl: stringifyAutomergeUrl({ documentId }),
    autosave,
    close: async () => {
      await autosave?.stop()
    },
  }
}

export interface CreateDraftOptions extends Omit<OpenDraftOptions, 'documentUrl'> {
  relay: RelayHttp
  book: BookRef
}

export interface DraftRecord {
  documentId: string
  documentUrl: string
  stream: string
  accountId: string
  bookId: string
  createdBy: string
  createdAt: string
}

/** Registers a new draft for a pixbook with the relay (`POST /v1/drafts`) and opens it. */
export async function createDraft<T = Record<string, unknown>>(options: CreateDraftOptions): Promise<Draft<T> & { record: DraftRecord }> {
  IdSchema.parse(options.book.accountId)
  IdSchema.parse(options.book.bookId)
  const res = await relayRequest(options.relay, 'POST', '/v1/drafts', {
    json: { accountId: options.book.accountId, bookId: options.book.bookId },
  })
  const record = (await res.json()) as DraftRecord
  const draft = await openDraft<T>({ ...options, documentUrl: record.documentUrl })
  return { ...draft, record }
}

/** The drafts the relay has registered for a pixbook (`GET /v1/drafts`). */
export async function listDrafts(relay: RelayHttp, book: BookRef): Promise<DraftRecord[]> {
  const query = new URLSearchParams({ accountId: book.accountId, bookId: book.bookId })
  const res = await relayRequest(relay, 'GET', `/v1/drafts?${query.toString()}`)
  return ((await res.json()) as { drafts: DraftRecord[] }).drafts
}

// ---- saving ----------------------------------------------------------------------------------------

/** Stores a blob under its SHA-256 (lowercase hex). */
export type BlobUploader = (hex: string, bytes: Uint8Array) => Promise<void>

/** Uploads to the relay: `PUT /v1/blobs/sha256/{hex}` with the session. */
export function relayBlobUploader(relay: RelayHttp): BlobUploader {
  return async (hex, bytes) => {
    await relayRequest(relay, 'PUT', `/v1/blobs/sha256/${hex}`, { bytes })
  }
}

/** Builds, signs and queues a receipt of the book's stream (the client engine's job). */
export type AppendReceipt<R = unknown> = (type: 'PIXBOOK_SAVE', payload: PixbookSave) => Promise<R>

export interface PixbookSave {
  snapshotHash: string
  documentUrl: string
  heads: string[]
  note?: string
}

export interface SaveDraftOptions<R = unknown> {
  handle: DocHandle<unknown>
  /** The pixbook the receipt goes to; must be the book the draft is registered to. */
  stream: BookRef
  append: AppendReceipt<R>
  uploadBlob: BlobUploader
  note?: string
  sha256?: Sha256
}

export interface SavedDraft<R = unknown> {
  /** `sha256:{hex}` of the snapshot bytes, the blob's address. */
  snapshotHash: string
  documentUrl: string
  /** Automerge heads the snapshot contains (64 hex digits each). */
  heads: string[]
  bytes: number
  /** What `append` returned. */
  receipt: R
}

/** PIXBOOK_SAVE allows at most this many heads. */
export const MAX_SAVE_HEADS = 256

/**
 * Saves the draft's current state: the Automerge snapshot goes to the relay as a content-addressed blob,
 * then a PIXBOOK_SAVE receipt pins `{documentUrl, heads, snapshotHash}` in the book's stream. The blob
 * is uploaded first, so a receipt never names a snapshot the relay does not have.
 */
export async function saveDraft<R = unknown>(options: SaveDraftOptions<R>): Promise<SavedDraft<R>> {
  const { handle } = options
  IdSchema.parse(options.stream.accountId)
  IdSchema.parse(options.stream.bookId)
  await handle.whenReady()
  const doc = handle.doc()
  if (!doc) throw new PixpaxError('NOT_FOUND', `draft ${handle.documentId} has no loaded document`)
  const bytes = Automerge.save(doc)
  const heads = Automerge.getHeads(doc)
  if (heads.length > MAX_SAVE_HEADS) {
    throw new PixpaxError(
      'SCHEMA_INVALID',
      `draft ${handle.documentId} has ${heads.length} concurrent heads; PIXBOOK_SAVE pins at most ${MAX_SAVE_HEADS}`,
    )
  }
  const hex = bytesToHex((options.sha256 ?? nobleSha256)(bytes))
  const payload: PixbookSave = {
    snapshotHash: `sha256:${hex}`,
    documentUrl: stringifyAutomergeUrl({ documentId: handle.documentId }),
    heads: [...heads],
    ...(options.note !== undefined ? { note: options.note } : {}),
  }
  // Fail here, not at the relay, if Automerge ever changes its URL or heads format.
  const checked = PixbookSavePayload.safeParse(payload)
  if (!checked.success) throw new PixpaxError('SCHEMA_INVALID', `PIXBOOK_SAVE payload: ${checked.error.issues[0]?.message ?? 'invalid'}`)
  await options.uploadBlob(hex, bytes)
  const receipt = await options.append('PIXBOOK_SAVE', payload)
  return { snapshotHash: payload.snapshotHash, documentUrl: payload.documentUrl, heads: payload.heads, bytes: bytes.byteLength, receipt }
}

/**
 * A loaded draft's Automerge heads (64 hex digits each, what PIXBOOK_SAVE pins — not automerge-repo's
 * base58 `handle.heads()`), so an app can tell whether the draft changed since a save.
 */
export function draftHeads(handle: DocHandle<unknown>): string[] {
  const doc = handle.doc()
  return doc ? [...Automerge.getHeads(doc)] : []
}

// ---- autosave (opt-in) ------------------------------------------------------------------------------

export interface AutosaveOptions<R = unknown> extends Omit<SaveDraftOptions<R>, 'handle'> {
  /** Save this long after the last change. Default 10 s. */
  debounceMs?: number
  onSaved?: (saved: SavedDraft<R>) => void
  onError?: (error: unknown) => void
}

export interface Autosave {
  /** Saves now if the draft changed since the last save. */
  flush(): Promise<void>
  /** Stops listening, after a last save of pending changes. */
  stop(): Promise<void>
  /** How many saves autosave made. */
  readonly saves: number
}

/**
 * Saves the draft after each burst of changes (local or synced in), never when nothing changed since the
 * last save. Only runs when started: autosave is a policy the app opts in to.
 */
export function startAutosave<R = unknown>(options: AutosaveOptions<R> & { handle: DocHandle<unknown> }): Autosave {
  const { handle } = options
  const debounceMs = options.debounceMs ?? 10_000
  const headsOf = (): string => {
    const doc = handle.doc()
    return doc ? Automerge.getHeads(doc).join(',') : ''
  }
  let lastSaved = headsOf()
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> = Promise.resolve()
  let stopped = false
  let saves = 0

  const save = (): Promise<void> => {
    running = running.then(async () => {
      const heads = headsOf()
      if (heads === lastSaved) return
      try {
        const saved = await saveDraft({ ...options, handle })
        lastSaved = saved.heads.join(',')
        saves++
        options.onSaved?.(saved)
      } catch (error) {
        options.onError?.(error)
      }
    })
    return running
  }
  const onChange = (): void => {
    if (stopped) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = undefined
      void save()
    }, debounceMs)
  }
  handle.on('change', onChange)
  return {
    flush: () => {
      if (timer) clearTimeout(timer)
      timer = undefined
      return save()
    },
    stop: async () => {
      if (stopped) return running
      stopped = true
      handle.off('change', onChange)
      const pending = timer !== undefined
      if (timer) clearTimeout(timer)
      timer = undefined
      if (pending) await save()
      await running
    },
    get saves() {
      return saves
    },
  }
}
