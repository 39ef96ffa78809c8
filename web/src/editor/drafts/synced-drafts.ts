/**
 * The editor's drafts in Automerge, synced live through the relay to this identity's other browsers
 * (client-sdk's drafts: automerge-repo on IndexedDB + the relay's authenticated automerge endpoint).
 * This module is imported dynamically by the editor, so Automerge and its wasm stay out of the shell.
 *
 * - Drafts belong to the identity's pixbook (`pixbook/{accountId}/main`): the relay registers each draft
 *   to a book and syncs it only to sessions that may read that book (docs/drafts.md).
 * - Drawing writes into the draft (synced at once) — that is **not** a save. **Save** is explicit:
 *   client-sdk's `saveDraft` uploads the Automerge snapshot as a blob and signs `PIXBOOK_SAVE`
 *   `{snapshotHash, documentUrl, heads}` into the book's stream through the sync client's outbox. The
 *   book is created first (`PIXBOOK_CREATED`, queued ahead of it) if this identity has none yet.
 * - Autosave is off unless the user turns it on (client-sdk's `startAutosave`).
 */
import {
  closeDraftRepo,
  createDraft,
  createDraftRepo,
  draftHeads,
  indexedDbDraftStorage,
  initDraftsWasm,
  listDrafts,
  openDraft,
  relayBlobUploader,
  relayDraftNetwork,
  saveDraft,
  startAutosave,
  type Autosave,
  type Draft,
  type RelayHttp,
  type SavedDraft,
} from '@pixpax/client-sdk'
import type { Receipt } from '@pixpax/shared'
import wasmUrl from 'pixpax:automerge-wasm'
import type { PixelDocument } from '../model/document.js'
import { bookStream, identityState, localReceipts, queued, syncClient, token } from '../../identity/identity-session.js'
import { readPiece, writePiece, type PieceDoc } from './piece-doc.js'

export interface DraftSummary {
  documentUrl: string
  name: string
  size: number | undefined
  createdAt: string
}

export interface SyncedDraft {
  readonly documentUrl: string
  /** Writes the piece into the draft (synced to the other devices; not a save). */
  write(name: string, piece: PixelDocument): void
  read(): { name: string; piece: PixelDocument }
  /** Calls back when a change made on another device arrived; returns the unsubscribe. */
  onRemoteChange(listener: () => void): () => void
  /** Whether the draft differs from its last save (a PIXBOOK_SAVE in the local log or made here). */
  changedSinceSave(): boolean
  /** Explicit save: snapshot blob + PIXBOOK_SAVE receipt. Needs the relay (the blob upload). */
  save(): Promise<SavedDraft<Receipt>>
  /** Turns opt-in autosave on (a save after each 10 s pause in changes) or off. */
  setAutosave(on: boolean, onSaved?: () => void, onError?: (error: unknown) => void): Promise<void>
}

export interface DraftSync {
  list(): Promise<DraftSummary[]>
  create(name: string, piece: PixelDocument): Promise<SyncedDraft>
  open(documentUrl: string): Promise<SyncedDraft>
  close(): Promise<void>
}

function currentIdentity(): { identityId: string; accountId: string } {
  const identity = identityState.value.identity
  if (!identity) throw new Error('no identity on this device')
  return identity
}

/** The session token for the automerge socket and blob uploads (refreshed before it expires). */
function currentToken(): string {
  void token()
  return identityState.value.session?.token ?? ''
}

/** Queues the identity's pixbook if it has none: PIXBOOK_SAVE goes to the book's stream. */
async function ensureBook(stream: string, displayName: string): Promise<void> {
  const c = syncClient()
  if (!c) throw new Error('the sync engine is not open')
  const pending = c.pending().some((e) => e.streamKey === stream && e.receipt.type === 'PIXBOOK_CREATED' && e.state !== 'rejected')
  if (c.head(stream) || pending) return
  await c.append(stream, 'PIXBOOK_CREATED', { title: `${displayName}'s pixbook` })
  queued()
}

/** The heads of the newest PIXBOOK_SAVE of a draft in the local log, joined. */
async function lastSavedHeads(stream: string, documentUrl: string): Promise<string | undefined> {
  const ours = syncClient()
    ?.pending()
    .filter((e) => e.streamKey === stream && e.state !== 'rejected')
    .map((e) => e.receipt)
  const saves = [...(await localReceipts(stream)), ...(ours ?? [])].filter(
    (r) => r.type === 'PIXBOOK_SAVE' && r.payload.documentUrl === documentUrl,
  )
  const heads = saves.at(-1)?.payload.heads
  return Array.isArray(heads) ? heads.join(',') : undefined
}

export async function openDraftSync(): Promise<DraftSync> {
  const { identityId, accountId } = currentIdentity()
  await initDraftsWasm(wasmUrl)
  await token() // a session for the socket's first frame, if the relay is reachable
  const relay: RelayHttp = { url: location.origin, token: currentToken }
  const repo = createDraftRepo({
    storage: indexedDbDraftStorage(`pixpax-automerge-${identityId}`),
    network: [relayDraftNetwork(relay, { retryMs: 3000 })],
  })
  const stream = bookStream({ accountId })
  const book = { accountId, bookId: stream.split('/')[2]! }
  const autosaves = new Map<string, Autosave>()

  const wrap = async (draft: Draft<PieceDoc>): Promise<SyncedDraft> => {
    const { handle, documentUrl } = draft
    let written = '' // heads after our own last write: a change event at other heads came from elsewhere
    let saved = await lastSavedHeads(stream, documentUrl)
    const append = async (type: 'PIXBOOK_SAVE', payload: object): Promise<Receipt> => {
      await ensureBook(stream, identityState.value.identity?.displayName ?? 'My')
      const receipt = await syncClient()!.append(stream, type, payload as Record<string, unknown>)
      queued()
      return receipt
    }
    const saveOptions = { stream: book, append, uploadBlob: relayBlobUploader(relay) }
    return {
      documentUrl,
      write(name, piece) {
        handle.change((d) => writePiece(d, name, piece))
        written = handle.heads().join(',')
      },
      read: () => readPiece(handle.doc()),
      onRemoteChange(listener) {
        const onChange = () => {
          if (handle.heads().join(',') !== written) listener()
        }
        handle.on('change', onChange)
        return () => handle.off('change', onChange)
      },
      changedSinceSave: () => draftHeads(handle).join(',') !== saved,
      async save() {
        const result = await saveDraft<Receipt>({ handle, ...saveOptions })
        saved = result.heads.join(',')
        return result
      },
      async setAutosave(on, onSaved, onError) {
        await autosaves.get(documentUrl)?.stop()
        autosaves.delete(documentUrl)
        if (!on) return
        autosaves.set(
          documentUrl,
          startAutosave<Receipt>({
            handle,
            ...saveOptions,
            onSaved: (result) => {
              saved = result.heads.join(',')
              onSaved?.()
            },
            ...(onError ? { onError } : {}),
          }),
        )
      },
    }
  }

  return {
    async list() {
      const records = await listDrafts(relay, book)
      const summaries = await Promise.all(
        records.map(async (record): Promise<DraftSummary> => {
          try {
            const draft = await openDraft<PieceDoc>({ repo, documentUrl: record.documentUrl, timeoutMs: 10_000 })
            const doc = draft.handle.doc()
            return { documentUrl: record.documentUrl, name: doc?.name ?? 'Untitled', size: doc?.size, createdAt: record.createdAt }
          } catch {
            return { documentUrl: record.documentUrl, name: 'Unavailable draft', size: undefined, createdAt: record.createdAt }
          }
        }),
      )
      return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    },
    async create(name, piece) {
      const draft = await createDraft<PieceDoc>({ repo, relay, book })
      const synced = await wrap(draft)
      synced.write(name, piece)
      return synced
    },
    async open(documentUrl) {
      return wrap(await openDraft<PieceDoc>({ repo, documentUrl }))
    },
    async close() {
      for (const autosave of autosaves.values()) await autosave.stop()
      await closeDraftRepo(repo)
    },
  }
}
