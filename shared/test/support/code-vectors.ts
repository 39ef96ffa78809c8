/**
 * Golden vectors of printed codes (docs/vectors/codes/): three tokens signed by the issuer (a pack code,
 * a fixed-card code, one that gets revoked), each spelled out (claims, canonical text, signature,
 * ticket, pack id, cards); tokens that must not verify; a whole log — an issuer, two collectors, a
 * collection, both codes redeemed, the third revoked — and forged receipts with the verdict a verifier
 * must reach. Deterministic (fixed keys, clock; RFC 6979 signatures), so the test regenerates and
 * compares them byte for byte; `node --import tsx scripts/code-vectors.ts` rewrites them.
 */
import {
  base64UrlEncode,
  canonicalJson,
  cardArtHash,
  codePackPayload,
  codeTicket,
  packCardArt,
  parseCodeToken,
  publicJwk,
  signCodeToken,
  type CodeClaims,
  type CollectionFact,
  type Receipt,
  type StreamRef,
} from '../../src/index.js'
import { actor, author, headOf, makeIdentityCreated, make, type Identity } from '../../src/testing/index.js'
import type { EconomyVectorCase } from './economy-vectors.js'

const PALETTE = Array.from({ length: 16 }, (_, i) => `#${(i * 0x0f0f0f).toString(16).padStart(6, '0')}`)

export async function buildCodeVectors(): Promise<{ files: Record<string, string> }> {
  const a = author()
  const issuer = actor('issuer', 'platform', 'issuer', 'economy issuer')
  const alice = actor('alice', 'acc-a', 'person', 'economy alice')
  const bob = actor('bob', 'acc-b', 'person', 'economy bob')
  const log: Receipt[] = []
  const heads = new Map<string, { eventId: string; hash: string }>()
  const add = async (stream: StreamRef, type: string, payload: Record<string, unknown>, by: Identity): Promise<Receipt> => {
    const key = Object.values(stream).join('/')
    const r = await make(a, { stream, type, payload, by, prev: heads.get(key) ?? null })
    log.push(r)
    heads.set(key, headOf(r))
    return r
  }
  for (const who of [issuer, alice, bob]) log.push(await makeIdentityCreated(a, who))
  const collectionStream = { type: 'collection', collectionId: 'pixpax-one' }
  await add(collectionStream, 'COLLECTION_CREATED', { name: 'PixPax One', palette: PALETTE }, issuer)
  const art = (i: number) => cardArtHash(packCardArt(Array.from({ length: 256 }, (_, p) => (p + i * 5) % 16)))
  const cards = Array.from({ length: 5 }, (_, i) => ({
    cardId: `card-${i + 1}`,
    seriesId: 'one',
    name: `Card ${i + 1}`,
    art: art(i),
    supply: i === 0 ? 2 : null,
  }))
  await add(
    collectionStream,
    'COLLECTION_VERSION_PUBLISHED',
    { version: 1, series: [{ seriesId: 'one', name: 'Series one' }], cards },
    issuer,
  )
  const aliceBook = { type: 'pixbook', accountId: 'acc-a', bookId: 'book' }
  const bobBook = { type: 'pixbook', accountId: 'acc-b', bookId: 'book' }
  await add(aliceBook, 'PIXBOOK_CREATED', { title: "Alice's book" }, alice)
  await add(bobBook, 'PIXBOOK_CREATED', { title: "Bob's book" }, bob)
  const collection: CollectionFact = { owner: 'issuer', version: 1, series: { one: { retired: false } }, cards: {} }
  for (const c of cards) collection.cards[c.cardId] = { seriesId: c.seriesId, version: 1, art: c.art, supply: c.supply }

  const base = {
    type: 'pixpax-code/1' as const,
    issuer: { identityId: 'issuer', publicKeyId: issuer.signer.publicKeyId },
    collectionId: 'pixpax-one',
    issuedAt: '2026-02-20T00:00:00.000Z',
    expiresAt: '2026-03-06T00:00:00.000Z',
  }
  const claims: Record<string, CodeClaims> = {
    pack: { ...base, codeId: 'code-pack-7', kind: 'pack', cards: 7, version: 1 },
    fixed: { ...base, codeId: 'code-fixed-3', kind: 'fixed-card', cardId: 'card-3' },
    revoked: { ...base, codeId: 'code-revoked', kind: 'pack', cards: 2, version: 1 },
    expired: { ...base, codeId: 'code-expired', kind: 'pack', cards: 2, version: 1, expiresAt: '2026-02-24T00:00:00.000Z' },
  }
  const tokens: Record<string, string> = {}
  for (const [name, c] of Object.entries(claims)) tokens[name] = await signCodeToken(c, issuer.signer)

  const issued = new Map<string, number>()
  const redeemed: Array<{ name: string; eventId: string; packId: string; cards: string[] }> = []
  for (const [name, book] of [
    ['pack', aliceBook],
    ['fixed', bobBook],
  ] as const) {
    const payload = codePackPayload({ token: tokens[name]!, claims: claims[name]!, collection, issued: (id) => issued.get(id) ?? 0 })
    for (const c of payload.cards) issued.set(c.cardId, (issued.get(c.cardId) ?? 0) + 1)
    const r = await add(book, 'PACK_ISSUED', payload, issuer)
    redeemed.push({ name, eventId: r.eventId, packId: payload.packId, cards: payload.cards.map((c) => c.cardId) })
  }
  await add(collectionStream, 'CODE_REVOKED', { codeId: 'code-revoked', reason: 'misprint' }, issuer)

  // Forged variants, each correctly hashed and signed: only the rules can refuse them.
  const end = log.length
  const forge = async (stream: StreamRef, type: string, payload: Record<string, unknown>) =>
    canonicalJson(await make(a, { stream, type, payload, by: issuer, prev: heads.get(Object.values(stream).join('/'))! }))
  const packPayload = log.find((r) => r.eventId === redeemed[0]!.eventId)!.payload
  const fresh = (name: string) =>
    codePackPayload({ token: tokens[name]!, claims: claims[name]!, collection, issued: (id) => issued.get(id) ?? 0 })
  const fixedCodePack = async (codeId: string, cardId: string) => {
    const c: CodeClaims = { ...base, codeId, kind: 'fixed-card', cardId }
    return codePackPayload({ token: await signCodeToken(c, issuer.signer), claims: c, collection, issued: () => 0 })
  }
  const mallory = actor('issuer', 'platform', 'issuer', 'not the issuer')
  const foreignToken = await signCodeToken(
    { ...claims.pack!, codeId: 'code-foreign', issuer: { identityId: 'issuer-2', publicKeyId: mallory.signer.publicKeyId } },
    mallory.signer,
  )
  const cases: EconomyVectorCase[] = [
    {
      name: 'redeem-again',
      description: "the pack code redeemed a second time, into Bob's book",
      after: end,
      line: await forge(bobBook, 'PACK_ISSUED', packPayload),
      expected: 'DOMAIN_RULE_VIOLATION:code_already_redeemed',
    },
    {
      name: 'redeem-revoked',
      description: 'the revoked code redeemed',
      after: end,
      line: await forge(bobBook, 'PACK_ISSUED', fresh('revoked')),
      expected: 'DOMAIN_RULE_VIOLATION:code_revoked',
    },
    {
      name: 'redeem-expired',
      description: 'a code redeemed after its expiresAt (the receipt createdAt is later)',
      after: end,
      line: await forge(bobBook, 'PACK_ISSUED', fresh('expired')),
      expected: 'DOMAIN_RULE_VIOLATION:code_expired',
    },
    {
      name: 'redeem-other-cards',
      description: 'a fresh fixed-card code of card-4 whose pack names card-5',
      after: end,
      line: await forge(bobBook, 'PACK_ISSUED', {
        ...(await fixedCodePack('code-fixed-4', 'card-4')),
        cards: [{ cardId: 'card-5', artHash: art(4) }],
      }),
      expected: 'DOMAIN_RULE_VIOLATION:pack_not_derived',
    },
    {
      name: 'redeem-foreign-token',
      description: 'a token that names another issuer, in a pack signed by this one',
      after: end,
      line: await forge(bobBook, 'PACK_ISSUED', {
        ...fresh('pack'),
        packId: 'pc-foreign',
        code: { codeId: 'code-foreign', token: foreignToken },
      }),
      expected: 'DOMAIN_RULE_VIOLATION:code_not_official',
    },
    {
      name: 'revoke-redeemed',
      description: 'the pack code revoked after its redemption',
      after: end,
      line: await forge(collectionStream, 'CODE_REVOKED', { codeId: 'code-pack-7' }),
      expected: 'DOMAIN_RULE_VIOLATION:code_already_redeemed',
    },
    {
      name: 'revoke-again',
      description: 'the revoked code revoked again',
      after: end,
      line: await forge(collectionStream, 'CODE_REVOKED', { codeId: 'code-revoked' }),
      expected: 'DOMAIN_RULE_VIOLATION:code_revoked',
    },
  ]
  const [packBody, packSig] = tokens.pack!.split('.') as [string, string]
  const expected = {
    publicKey: publicJwk(issuer.jwk),
    tokens: Object.fromEntries(
      Object.entries(tokens).map(([name, token]) => [
        name,
        {
          token,
          claims: parseCodeToken(token)!.claims,
          canonicalClaims: canonicalJson(claims[name]),
          ticket: codeTicket(token),
          packId: codePackPayload({ token, claims: claims[name]!, collection, issued: () => 0 }).packId,
        },
      ]),
    ),
    redeemed,
    /** Tokens a verifier must refuse: `official: false` (bad signature) or `parse: false` (not a token). */
    notOfficial: [
      {
        name: 'signature-flipped',
        token: `${packBody}.${packSig[0] === 'A' ? 'B' : 'A'}${packSig.slice(1)}`,
        parse: true,
        official: false,
      },
      { name: 'other-key', token: foreignToken.replace(/^[^.]+/, packBody), parse: true, official: false },
      {
        name: 'not-canonical',
        token: `${base64UrlEncode(new TextEncoder().encode(JSON.stringify(claims.pack)))}.${packSig}`,
        parse: false,
        official: false,
      },
      { name: 'truncated-signature', token: tokens.pack!.slice(0, -2), parse: false, official: false },
    ],
  }
  return {
    files: {
      'codes.ndjson': log.map((r) => canonicalJson(r)).join('\n') + '\n',
      'expected.json': JSON.stringify(expected, null, 2) + '\n',
      'cases.json': JSON.stringify(cases, null, 2) + '\n',
    },
  }
}
