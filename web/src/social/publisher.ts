/**
 * Publishing a piece: the image is uploaded (PUT /v1/media/sha256/{hex}, with the session), then the
 * POST_PUBLISHED receipt naming it is signed and queued. The relay refuses a post whose blob it does
 * not hold, so the receipt cannot wait in the sync client's outbox ahead of its upload: offline, the
 * publication waits here instead — in IndexedDB, with its bytes, shown as pending — and goes out, upload
 * first, as soon as the relay is reachable. Nothing is dropped: a refused upload stays listed with why.
 */
import { PostPublishedPayload } from '@pixpax/shared'
import { Dexie, type Table } from 'dexie'
import { Store } from '../app/store.js'
import { identityState, localReceipts, queued, syncClient } from '../identity/identity-session.js'
import { normalizeHashtags } from '@pixpax/client-sdk'
import { RelayError, relayFetch } from './relay-api.js'

export interface Publication {
  /** Also the receipt's idempotency key, so a publication is never posted twice. */
  id: string
  identityId: string
  title: string
  description?: string
  hashtags: string[]
  mime: 'image/png' | 'image/gif'
  width: number
  height: number
  frames: number
  bytes: Uint8Array
  createdAt: number
  /** Why the relay refused it (it stays until the user removes it). */
  error?: string
}

class PublishDatabase extends Dexie {
  publications!: Table<Publication, string>
  constructor() {
    super('pixpax-publish')
    this.version(1).stores({ publications: 'id, createdAt' })
  }
}

let db: PublishDatabase | undefined
const open = () => (db ??= new PublishDatabase())

/** Publications of this identity not yet turned into a receipt (oldest first). */
export const waitingPublications = new Store<Publication[]>([])

async function refresh(): Promise<void> {
  const me = identityState.value.identity?.identityId
  const rows = await open().publications.orderBy('createdAt').toArray()
  waitingPublications.set(rows.filter((r) => r.identityId === me))
}

export async function queuePublication(input: Omit<Publication, 'id' | 'identityId' | 'createdAt' | 'hashtags'> & { hashtags: string[] }) {
  const identityId = identityState.value.identity?.identityId
  if (!identityId) throw new Error('create an identity first')
  const row: Publication = {
    ...input,
    hashtags: normalizeHashtags(input.hashtags),
    id: crypto.randomUUID(),
    identityId,
    createdAt: Date.now(),
  }
  // Checked now, not when it goes out: a bad title is the user's to fix while they are here.
  const check = PostPublishedPayload.safeParse(payloadOf(row, 'sha256:' + '0'.repeat(64)))
  if (!check.success) throw new Error(`${check.error.issues[0]!.path.join('.')}: ${check.error.issues[0]!.message}`)
  await open().publications.put(row)
  await refresh()
  void drainPublications()
  return row
}

export async function discardPublication(id: string): Promise<void> {
  await open().publications.delete(id)
  await refresh()
}

function payloadOf(row: Publication, hash: string): Record<string, unknown> {
  return {
    title: row.title,
    ...(row.description ? { description: row.description } : {}),
    ...(row.hashtags.length ? { hashtags: row.hashtags } : {}),
    media: { hash, mime: row.mime, width: row.width, height: row.height, frames: row.frames },
  }
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

let draining: Promise<void> | undefined

/** Uploads and posts every waiting publication, in order; stops at the first one the network fails. */
export function drainPublications(): Promise<void> {
  draining ??= (async () => {
    try {
      await refresh()
      for (const row of waitingPublications.value) {
        if (row.error) continue
        const c = syncClient()
        if (!c || !navigator.onLine) return
        // Already signed (a crash after the append): the outbox or the log has it under its key.
        const profile = `profile/${row.identityId}`
        const signed =
          c.pending().some((e) => e.receipt.idempotencyKey === row.id) ||
          (await localReceipts(profile)).some((r) => r.idempotencyKey === row.id)
        if (!signed) {
          const hex = await sha256Hex(row.bytes)
          try {
            await relayFetch(`/v1/media/sha256/${hex}`, {
              method: 'PUT',
              headers: { 'content-type': row.mime },
              body: row.bytes as BodyInit,
            })
          } catch (error) {
            if (error instanceof RelayError && error.status >= 400 && error.status < 500 && error.status !== 401 && error.status !== 429) {
              await open().publications.update(row.id, { error: error.message })
              continue
            }
            return // offline or the relay is busy: try again on the next change
          }
          await c.append({ type: 'profile', identityId: row.identityId }, 'POST_PUBLISHED', payloadOf(row, `sha256:${hex}`), {
            idempotencyKey: row.id,
          })
          queued()
        }
        await open().publications.delete(row.id)
      }
    } finally {
      draining = undefined
      await refresh()
    }
  })()
  return draining
}

// Try again whenever the connection may have come back.
if (typeof window !== 'undefined') {
  window.addEventListener('online', () => void drainPublications())
  let last = identityState.value.sync
  identityState.subscribe((s) => {
    if (s.sync !== last && (s.sync === 'syncing' || s.sync === 'synced')) void drainPublications()
    last = s.sync
  })
}
