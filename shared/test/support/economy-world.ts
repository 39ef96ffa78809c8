/**
 * A whole economy log built and replayed offline with the cross-stream rules (ChainVerifier with
 * `crossStream`): an issuer, a collection of 8 cards (card-0 of supply 2), a drop of series s1, and two
 * collectors with a book each. Shared by the economy tests of this package.
 */
import { expect } from 'vitest'
import {
  base64UrlEncode,
  cardArtHash,
  ChainVerifier,
  packCardArt,
  seedCommitment,
  type CollectionFact,
  type Receipt,
  type Verdict,
} from '../../src/index.js'
import { nodeSha256, nodeVerifier } from '../../src/node/index.js'
import { actor, author, headOf, makeIdentityCreated, make, pixbookStream, type Identity, type Author } from '../../src/testing/index.js'

export const SEED = base64UrlEncode(new Uint8Array(32).map((_, i) => i * 7 + 1))
export const PALETTE = Array.from({ length: 16 }, (_, i) => `#${i.toString(16).repeat(6)}`)

export class World {
  readonly a: Author = author()
  readonly v = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256, crossStream: true })
  readonly log: Receipt[] = []
  readonly heads = new Map<string, { eventId: string; hash: string }>()
  readonly issuer = actor('issuer-1', 'platform', 'issuer')

  key(stream: Record<string, string>): string {
    return Object.values(stream).join('/')
  }
  async build(
    stream: Record<string, string>,
    type: string,
    payload: Record<string, unknown>,
    by: Identity,
    createdAt?: string,
  ): Promise<Receipt> {
    const prev = this.heads.get(this.key(stream)) ?? null
    return make(this.a, { stream: stream as never, type, payload, by, prev, ...(createdAt ? { createdAt } : {}) })
  }
  async add(receipt: Receipt): Promise<Verdict> {
    const verdict = await this.v.add(receipt)
    if (verdict.ok) {
      this.log.push(receipt)
      this.heads.set(verdict.streamKey, headOf(receipt))
    }
    return verdict
  }
  async ok(stream: Record<string, string>, type: string, payload: Record<string, unknown>, by: Identity): Promise<Receipt> {
    const r = await this.build(stream, type, payload, by)
    const verdict = await this.add(r)
    expect(verdict, `${type}: ${JSON.stringify(verdict)}`).toMatchObject({ ok: true })
    return r
  }
  async refused(stream: Record<string, string>, type: string, payload: Record<string, unknown>, by: Identity, rule: string): Promise<void> {
    const before = this.v.summary()
    const verdict = await this.add(await this.build(stream, type, payload, by))
    expect(verdict).toMatchObject({ ok: false, code: 'DOMAIN_RULE_VIOLATION', details: { rule } })
    expect(this.v.summary()).toEqual(before)
  }
}

export const COLLECTION = { type: 'collection', collectionId: 'pixpax-1' }
export const DROP = { type: 'drop', dropId: 'week-2026-W09' }
export const arts = (i: number): string => cardArtHash(packCardArt(Array.from({ length: 256 }, (_, p) => (p + i) % 16)))

export async function economyWorld(): Promise<{ w: World; collection: CollectionFact; alice: Identity; bob: Identity }> {
  const w = new World()
  const alice = actor('alice', 'acc-a')
  const bob = actor('bob', 'acc-b')
  for (const who of [w.issuer, alice, bob]) expect(await w.add(await makeIdentityCreated(w.a, who))).toMatchObject({ ok: true })
  await w.ok(COLLECTION, 'COLLECTION_CREATED', { name: 'PixPax One', palette: PALETTE }, w.issuer)
  const cards = Array.from({ length: 8 }, (_, i) => ({
    cardId: `card-${i}`,
    seriesId: i < 6 ? 's1' : 's2',
    name: `Card ${i}`,
    art: arts(i),
    supply: i === 0 ? 2 : null,
  }))
  await w.ok(
    COLLECTION,
    'COLLECTION_VERSION_PUBLISHED',
    {
      version: 1,
      series: [
        { seriesId: 's1', name: 'One' },
        { seriesId: 's2', name: 'Two' },
      ],
      cards,
    },
    w.issuer,
  )
  const collection: CollectionFact = {
    owner: w.issuer.identityId,
    version: 1,
    series: { s1: { retired: false }, s2: { retired: false } },
    cards: {},
  }
  for (const c of cards) collection.cards[c.cardId] = { seriesId: c.seriesId, version: 1, art: c.art, supply: c.supply }
  await w.ok(
    DROP,
    'DROP_SCHEDULED',
    {
      collectionId: 'pixpax-1',
      version: 1,
      series: ['s1'],
      packSize: 5,
      commitment: seedCommitment(SEED),
      opensAt: '2026-02-24T00:00:00.000Z',
      closesAt: '2026-03-03T00:00:00.000Z',
    },
    w.issuer,
  )
  await w.ok(pixbookStream('acc-a', 'book'), 'PIXBOOK_CREATED', { title: 'Alice' }, alice)
  await w.ok(pixbookStream('acc-b', 'book'), 'PIXBOOK_CREATED', { title: 'Bob' }, bob)
  return { w, collection, alice, bob }
}
