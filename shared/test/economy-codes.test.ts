/**
 * Printed codes offline: the token (canonical claims + ECDSA P-256 signature, base64url) round-trips,
 * refuses every altered byte, bounds its claims; a pack code's cards are deterministic, within supply,
 * and repeat only once the catalog is exhausted; and a whole log replayed with the cross-stream rules
 * redeems a code once, refuses revoked, expired, forged and foreign redemptions by rule name.
 */
import { describe, expect, it } from 'vitest'
import {
  base64UrlDecode,
  base64UrlEncode,
  codePackId,
  codePackPayload,
  codeTicket,
  deriveCodeCards,
  parseCodeToken,
  signCodeToken,
  utf8Encode,
  verifyCodeSignature,
  type CodeClaims,
} from '../src/index.js'
import { nodeVerifier } from '../src/node/index.js'
import { actor, pixbookStream } from '../src/testing/index.js'
import { COLLECTION, economyWorld } from './support/economy-world.js'

const issuer = actor('issuer-1', 'platform', 'issuer')

const claims = (over: Partial<CodeClaims> = {}): CodeClaims => ({
  type: 'pixpax-code/1',
  codeId: 'code-1',
  issuer: { identityId: issuer.identityId, publicKeyId: issuer.signer.publicKeyId },
  collectionId: 'pixpax-1',
  kind: 'pack',
  cards: 3,
  version: 1,
  issuedAt: '2026-02-24T00:00:00.000Z',
  expiresAt: '2026-03-10T00:00:00.000Z',
  ...over,
})

describe('code tokens', () => {
  it('round-trip, verify under the issuer key and nothing else, and refuse altered tokens', async () => {
    const token = await signCodeToken(claims(), issuer.signer)
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/)
    const parsed = parseCodeToken(token)!
    expect(parsed.claims).toEqual(claims())
    expect(await verifyCodeSignature(parsed, issuer.signer.publicKey, nodeVerifier())).toBe(true)
    expect(await verifyCodeSignature(parsed, actor('mallory', 'm').signer.publicKey, nodeVerifier())).toBe(false)

    // Claims changed after signing: still parseable, no longer verifies.
    const [, sig] = token.split('.')
    const resigned = parseCodeToken(`${base64UrlEncode(utf8Encode(sortedJson(claims({ cards: 50 }))))}.${sig}`)
    expect(resigned).toBeDefined()
    expect(await verifyCodeSignature(resigned!, issuer.signer.publicKey, nodeVerifier())).toBe(false)

    // Not canonical, not the schema, malformed: not a token at all.
    const body = JSON.stringify(claims())
    expect(parseCodeToken(`${base64UrlEncode(utf8Encode(body))}.${sig}`)).toBeUndefined() // key order not RFC 8785
    expect(parseCodeToken(token + 'A')).toBeUndefined()
    expect(parseCodeToken(token.replace('.', ''))).toBeUndefined()
    expect(parseCodeToken(`${token.split('.')[0]}.${base64UrlEncode(base64UrlDecode(sig!)!.subarray(0, 63))}`)).toBeUndefined()
  })

  it('bound their claims: 1–50 cards, fixed-card names one card, at most 10 years', async () => {
    await expect(signCodeToken(claims({ cards: 0 }), issuer.signer)).rejects.toThrow()
    await expect(signCodeToken(claims({ cards: 51 }), issuer.signer)).rejects.toThrow()
    await expect(signCodeToken(claims({ kind: 'fixed-card', cardId: 'card-1' }), issuer.signer)).rejects.toThrow() // still has cards
    const fixed = { ...claims(), kind: 'fixed-card' as const, cardId: 'card-1', cards: undefined, version: undefined }
    delete fixed.cards
    delete fixed.version
    expect(parseCodeToken(await signCodeToken(fixed, issuer.signer))?.claims.cardId).toBe('card-1')
    await expect(signCodeToken(claims({ expiresAt: '2036-02-25T00:00:00.000Z' }), issuer.signer)).rejects.toThrow()
    await expect(signCodeToken(claims({ expiresAt: '2026-02-23T00:00:00.000Z' }), issuer.signer)).rejects.toThrow()
    expect(parseCodeToken(await signCodeToken(claims({ expiresAt: '2036-02-23T00:00:00.000Z' }), issuer.signer))).toBeDefined()
  })
})

describe('deriveCodeCards', () => {
  const catalog = Array.from({ length: 6 }, (_, i) => ({ cardId: `c${i}`, supply: i === 0 ? 1 : null }))
  it('is deterministic, repeats only after every card in supply, never beyond supply', () => {
    const ticket = codeTicket('some-token')
    const five = deriveCodeCards(ticket, catalog, () => 0, 5)
    expect(new Set(five).size).toBe(5)
    expect(deriveCodeCards(ticket, [...catalog].reverse(), () => 0, 5)).toEqual(five)
    const fifty = deriveCodeCards(ticket, catalog, () => 0, 50)
    expect(fifty).toHaveLength(50)
    expect(fifty.filter((c) => c === 'c0')).toHaveLength(1) // supply 1
    expect(new Set(fifty.slice(0, 6)).size).toBe(6)
    expect(deriveCodeCards(ticket, [{ cardId: 'x', supply: 2 }], () => 1, 5)).toEqual(['x'])
    expect(deriveCodeCards(ticket, [{ cardId: 'x', supply: 2 }], () => 2, 5)).toEqual([])
    expect(deriveCodeCards(codeTicket('another-token'), catalog, () => 0, 5)).not.toEqual(five)
  })
})

describe('code redemption over a whole log', () => {
  it('redeems once into any book, refuses revoked, expired, forged and foreign codes by rule', async () => {
    const { w, collection } = await economyWorld()
    const aliceBook = pixbookStream('acc-a', 'book')
    const bobBook = pixbookStream('acc-b', 'book')
    const mint = (over: Partial<CodeClaims> = {}) =>
      signCodeToken(
        claims({ issuer: { identityId: w.issuer.identityId, publicKeyId: w.issuer.signer.publicKeyId }, ...over }),
        w.issuer.signer,
      )
    const issuedNow = new Map<string, number>()
    const payloadOf = (token: string) =>
      codePackPayload({ token, claims: parseCodeToken(token)!.claims, collection, issued: (id) => issuedNow.get(id) ?? 0 })

    const token = await mint({ cards: 17 })
    const payload = payloadOf(token)
    expect(payload.packId).toBe(codePackId('pixpax-1', 'code-1'))
    expect(payload.cards).toHaveLength(17) // 8 cards twice, then a third round that skips card-0 (supply 2)
    expect(payload.cards.filter((c) => c.cardId === 'card-0')).toHaveLength(2) // supply 2 caps the repeats
    await w.refused(aliceBook, 'PACK_ISSUED', { ...payload, cards: [...payload.cards].reverse() }, w.issuer, 'pack_not_derived')
    await w.refused(aliceBook, 'PACK_ISSUED', { ...payload, packId: 'pc-mine' }, w.issuer, 'pack_not_derived')
    await w.refused(aliceBook, 'PACK_ISSUED', { ...payload, code: { codeId: 'other', token } }, w.issuer, 'code_not_official')
    await w.refused(aliceBook, 'PACK_ISSUED', { ...payload, code: { codeId: 'code-1', token: 'x.y' } }, w.issuer, 'code_not_official')
    await w.ok(aliceBook, 'PACK_ISSUED', payload, w.issuer)
    for (const c of payload.cards) issuedNow.set(c.cardId, (issuedNow.get(c.cardId) ?? 0) + 1)
    await w.refused(bobBook, 'PACK_ISSUED', payload, w.issuer, 'code_already_redeemed')
    await w.refused(aliceBook, 'PACK_ISSUED', payload, w.issuer, 'code_already_redeemed')
    await w.refused(COLLECTION, 'CODE_REVOKED', { codeId: 'code-1' }, w.issuer, 'code_already_redeemed')

    // card-0 is now at its supply: a fixed-card code for it has nothing to give.
    const fixed0 = await mint({ codeId: 'fixed-0', kind: 'fixed-card', cardId: 'card-0', cards: undefined, version: undefined })
    await w.refused(
      bobBook,
      'PACK_ISSUED',
      { ...payloadOf(fixed0), cards: [{ cardId: 'card-0', artHash: collection.cards['card-0']!.art }] },
      w.issuer,
      'supply_exhausted',
    )
    const fixed3 = await mint({ codeId: 'fixed-3', kind: 'fixed-card', cardId: 'card-3', cards: undefined, version: undefined })
    expect(payloadOf(fixed3).cards.map((c) => c.cardId)).toEqual(['card-3'])
    await w.ok(bobBook, 'PACK_ISSUED', payloadOf(fixed3), w.issuer)

    const revoked = await mint({ codeId: 'revoked' })
    await w.ok(COLLECTION, 'CODE_REVOKED', { codeId: 'revoked', reason: 'misprint' }, w.issuer)
    await w.refused(COLLECTION, 'CODE_REVOKED', { codeId: 'revoked' }, w.issuer, 'code_revoked')
    await w.refused(bobBook, 'PACK_ISSUED', payloadOf(revoked), w.issuer, 'code_revoked')

    // The World's clock is at 2026-02-24; this code expired the day before.
    const expired = await mint({ codeId: 'old', issuedAt: '2026-02-01T00:00:00.000Z', expiresAt: '2026-02-23T00:00:00.000Z' })
    await w.refused(bobBook, 'PACK_ISSUED', payloadOf(expired), w.issuer, 'code_expired')

    // A token of another issuer, or redeemed by an issuer who did not sign it.
    const mallory = actor('issuer-2', 'platform', 'issuer')
    const foreign = await signCodeToken(
      claims({ codeId: 'foreign', issuer: { identityId: mallory.identityId, publicKeyId: mallory.signer.publicKeyId } }),
      mallory.signer,
    )
    await w.refused(bobBook, 'PACK_ISSUED', payloadOf(foreign), w.issuer, 'code_not_official')
  })
})

/** RFC 8785 for plain objects of strings and small integers: keys sorted. */
function sortedJson(value: object): string {
  const sorted = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
        )
      : v
  return JSON.stringify(sorted(value))
}
