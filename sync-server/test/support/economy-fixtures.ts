/**
 * Economy fixtures over a real relay: a platform issuer whose custodial key the relay holds, an admin,
 * a published collection (signed by the issuer itself and posted like any receipt, its art uploaded as
 * blobs), collectors with books and sessions, and the relay's whole log in log order (the export).
 */
import { cardArtHash, packCardArt, type Receipt } from '@pixpax/shared'
import {
  appendVia,
  http,
  identityCreated,
  identityStream,
  newIdentity,
  openSession,
  pixbookStream,
  StreamWriter,
  appendOk,
  type HttpResult,
  type Identity,
  type TestRelay,
} from './relay-harness.js'

export const PALETTE = Array.from({ length: 16 }, (_, i) => `#${(i * 0x111111).toString(16).padStart(6, '0')}`)
export const ISSUER_ID = 'pixpax-issuer'
export const ADMIN_ID = 'pixpax-admin'

/** PLATFORM_ISSUERS / ADMIN_IDENTITIES for startTestRelay. */
export const ECONOMY_ENV = { PLATFORM_ISSUERS: ISSUER_ID, ADMIN_IDENTITIES: ADMIN_ID }

export const artOf = (i: number): Uint8Array => packCardArt(Array.from({ length: 256 }, (_, p) => (p * (i + 1) + i) % 16))

/** Anything with the relay's base URL: an in-process relay or a relay process. */
export type Relay = Pick<TestRelay, 'url'>

export interface CardSpec {
  cardId: string
  seriesId: string
  supply: number | null
}

export interface EconomyWorld {
  issuer: Identity
  admin: Identity
  adminToken: string
  collection: StreamWriter
  collectionId: string
  cards: CardSpec[]
}

const json = (token: string, body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify(body),
})

export function postAs<T = Record<string, unknown>>(url: string, token: string, body: unknown = {}): Promise<HttpResult<T>> {
  return http<T>(url, json(token, body))
}

/** Issuer + admin identities, the issuer's custodial key registered, a collection of `cards` published. */
export async function economyWorld(relay: Relay, cards: CardSpec[], collectionId = 'pixpax-one'): Promise<EconomyWorld> {
  const issuer = newIdentity('platform', 'issuer', ISSUER_ID)
  const admin = newIdentity('platform', 'person', ADMIN_ID)
  const issuerStream = new StreamWriter(identityStream(issuer))
  await appendVia(relay.url, issuerStream, await identityCreated(issuer))
  await appendOk(relay.url, [await identityCreated(admin)])
  const issuerToken = await openSession(relay.url, issuer)
  const key = await http<{ publicKey: Record<string, string> }>(`${relay.url}/v1/identities/${ISSUER_ID}/custodial-key`, {
    headers: { authorization: `Bearer ${issuerToken}` },
  })
  await appendVia(relay.url, issuerStream, await issuerStream.build('KEY_ADDED', { publicKey: key.json.publicKey }, issuer))

  const collection = new StreamWriter({ type: 'collection', collectionId })
  await appendVia(relay.url, collection, await collection.build('COLLECTION_CREATED', { name: 'PixPax One', palette: PALETTE }, issuer))
  const series = [...new Set(cards.map((c) => c.seriesId))].map((seriesId) => ({ seriesId, name: `Series ${seriesId}` }))
  const published = cards.map((c, i) => ({ ...c, name: `Card ${c.cardId}`, art: cardArtHash(artOf(i)) }))
  await appendVia(
    relay.url,
    collection,
    await collection.build('COLLECTION_VERSION_PUBLISHED', { version: 1, series, cards: published }, issuer),
  )
  for (const [i] of cards.entries()) {
    const art = artOf(i)
    const res = await fetch(`${relay.url}/v1/blobs/${cardArtHash(art).replace(':', '/')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${issuerToken}` },
      body: Buffer.from(art),
    })
    if (res.status !== 201 && res.status !== 200) throw new Error(`art upload ${res.status}`)
  }
  return { issuer, admin, adminToken: await openSession(relay.url, admin), collection, collectionId, cards }
}

export interface Collector {
  who: Identity
  token: string
  book: StreamWriter
  accountId: string
  bookId: string
}

export async function newCollector(relay: Relay, name: string, bookId = 'book'): Promise<Collector> {
  const accountId = `acc-${name}`
  const who = newIdentity(accountId, 'person', name)
  await appendOk(relay.url, [await identityCreated(who)])
  const book = new StreamWriter(pixbookStream(accountId, bookId))
  await appendVia(relay.url, book, await book.build('PIXBOOK_CREATED', { title: `${name}'s book` }, who))
  return { who, token: await openSession(relay.url, who), book, accountId, bookId }
}

export interface ClaimJson {
  eventId: string
  seq: number
  hash: string
  receipt: Receipt
  pack: { packId: string; dropId: string; cards: Array<{ instanceId: string; cardId: string; artHash: string }> }
  error?: { code: string; message: string; details?: Record<string, unknown> }
}

export function claim(relay: Relay, c: Collector, dropId: string, bookId = c.bookId): Promise<HttpResult<ClaimJson>> {
  return postAs<ClaimJson>(`${relay.url}/v1/drops/${dropId}/claim`, c.token, { accountId: c.accountId, bookId })
}

/** Every receipt the relay accepted, in log order, as stored (canonical JSON lines). */
export async function exportLog(relay: TestRelay): Promise<string[]> {
  const { rows } = await relay.deps.db.query<{ body: string }>('SELECT body FROM receipts ORDER BY position')
  return rows.map((r) => r.body)
}
