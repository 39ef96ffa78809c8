/**
 * Printed codes over a real relay (real sockets; PGlite and Postgres): minting signed tokens (admin),
 * the QR SVG, redemption once into a book (a second redemption from any book is 409
 * code_already_redeemed, state unchanged), tokens that are not official (bad signature, unknown issuer,
 * garbage: 422 code_not_official), revoked (410 code_revoked) and expired (410 code_expired) codes; a
 * token signed by the issuer's own key outside the relay; concurrent redemptions of the same codes from
 * two books, and across two relay processes on one Postgres: exactly one wins each; the export replays
 * with the cross-stream rules, verify-store is ok and the rebuild digest equal.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChainVerifier, codePackId, parseCodeToken, signCodeToken, type CodeClaims, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import QRCode from 'qrcode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyStore } from '../src/replay/verify-store.js'
import {
  ECONOMY_ENV,
  economyWorld,
  exportLog,
  ISSUER_ID,
  newCollector,
  postAs,
  type CardSpec,
  type Collector,
  type EconomyWorld,
  type Relay,
} from './support/economy-fixtures.js'
import {
  dropSchemas,
  http,
  newKey,
  relayEnv,
  startTestRelay,
  startRelayProcess,
  storedState,
  uniqueSchema,
  type DbKind,
  type HttpResult,
  type RelayProcess,
  type TestRelay,
} from './support/relay-harness.js'

/** This file's schemas: its own random prefix, so another run on the same database keeps its own. */
const PREFIX = `econc_${randomBytes(3).toString('hex')}`

const CARDS: CardSpec[] = Array.from({ length: 6 }, (_, i) => ({ cardId: `k${i + 1}`, seriesId: 's', supply: i === 0 ? 3 : null }))

interface MintJson {
  codes: Array<{ codeId: string; packId: string; token: string; expiresAt: string }>
  error?: { code: string; details?: Record<string, unknown> }
}
interface RedeemJson {
  eventId: string
  receipt: Receipt
  pack: { packId: string; codeId: string; cards: Array<{ instanceId: string; cardId: string; artHash: string }> }
  error?: { code: string; message: string; details?: Record<string, unknown> }
}

const mint = (relay: Relay, world: EconomyWorld, body: Record<string, unknown>) =>
  postAs<MintJson>(`${relay.url}/v1/codes`, world.adminToken, { issuerId: ISSUER_ID, collectionId: world.collectionId, ...body })
const redeem = (relay: Relay, c: Collector, token: string, book: Record<string, string> = {}) =>
  postAs<RedeemJson>(`${relay.url}/v1/codes/redeem`, c.token, { token, ...book })

afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each<DbKind>(['pglite', 'pg'])('printed codes on %s', (db) => {
  let relay: TestRelay
  let world: EconomyWorld
  let alice: Collector
  let bob: Collector

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: `${PREFIX}_${db}_${Date.now() % 100000}`, env: ECONOMY_ENV })
    world = await economyWorld(relay, CARDS)
    alice = await newCollector(relay, 'alice')
    bob = await newCollector(relay, 'bob')
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  /** A refusal that leaves the relay's state as it was, with its status, code and rule. */
  async function refused(request: () => Promise<HttpResult<RedeemJson>>, status: number, rule: string) {
    const before = await storedState(relay.deps)
    const res = await request()
    expect(res.status, res.text).toBe(status)
    expect(res.json.error).toMatchObject({ code: 'DOMAIN_RULE_VIOLATION', details: { rule } })
    expect(await storedState(relay.deps)).toEqual(before)
    return res
  }

  it('mints signed tokens (admin only) within the bounds of the contract', async () => {
    expect((await postAs(`${relay.url}/v1/codes`, alice.token, { issuerId: ISSUER_ID, collectionId: 'pixpax-one' })).status).toBe(403)
    const res = await mint(relay, world, { kind: 'pack', cards: 3, count: 4 })
    expect(res.status, res.text).toBe(200)
    expect(res.json.codes).toHaveLength(4)
    const { claims } = parseCodeToken(res.json.codes[0]!.token)!
    expect(claims).toMatchObject({ kind: 'pack', cards: 3, version: 1, collectionId: 'pixpax-one', issuer: { identityId: ISSUER_ID } })
    expect(Date.parse(claims.expiresAt) - Date.parse(claims.issuedAt)).toBe(14 * 24 * 3600 * 1000)
    expect(new Set(res.json.codes.map((c) => c.codeId)).size).toBe(4)
    expect(res.json.codes[0]!.packId).toBe(codePackId('pixpax-one', claims.codeId))

    const bad = async (body: Record<string, unknown>) => (await mint(relay, world, body)).status
    expect(await bad({ cards: 51 })).toBe(400)
    expect(await bad({ cards: 0 })).toBe(400)
    expect(await bad({ kind: 'fixed-card' })).toBe(400)
    expect(await bad({ kind: 'fixed-card', cardId: 'zz' })).toBe(422)
    expect(await bad({ expiresAt: new Date(Date.now() + 11 * 365 * 86_400_000).toISOString() })).toBe(400)
    expect(await bad({ collectionId: 'nope' })).toBe(404)
    const tenYears = await mint(relay, world, {
      expiresAt: new Date(Date.now() + 9.9 * 365 * 86_400_000).toISOString().replace(/\.\d+Z/, '.000Z'),
    })
    expect(tenYears.status, tenYears.text).toBe(200)
  })

  it('renders a code as a QR SVG for printing', async () => {
    const { token } = (await mint(relay, world, {})).json.codes[0]!
    const res = await fetch(`${relay.url}/v1/codes/qr`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${world.adminToken}` },
      body: JSON.stringify({ token }),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('image/svg+xml')
    const svg = await res.text()
    expect(svg).toMatch(/^<svg [^>]*viewBox="0 0 (\d+) \1"/)
    // The symbol is the token's QR code: its size is the library's for exactly this text.
    const size = QRCode.create(token, { errorCorrectionLevel: 'M' }).modules.size + 8
    expect(svg).toContain(`viewBox="0 0 ${size} ${size}"`)
    expect((await postAs(`${relay.url}/v1/codes/qr`, world.adminToken, { token: 'not-a-token' })).status).toBe(422)
    expect((await postAs(`${relay.url}/v1/codes/qr`, alice.token, { token })).status).toBe(403)
  })

  it('redeems a code once: a second redemption, from any book, is 409 code_already_redeemed', async () => {
    const { token, packId } = (await mint(relay, world, { cards: 4 })).json.codes[0]!
    const first = await redeem(relay, alice, token)
    expect(first.status, first.text).toBe(200)
    expect(first.json.receipt).toMatchObject({
      type: 'PACK_ISSUED',
      stream: { type: 'pixbook', accountId: alice.accountId, bookId: alice.bookId },
      issuer: { identityId: ISSUER_ID },
      payload: { packId, collectionId: 'pixpax-one', code: { token } },
    })
    expect(first.json.pack.cards).toHaveLength(4)
    expect(new Set(first.json.pack.cards.map((c) => c.cardId)).size).toBe(4)
    expect(first.json.pack.cards.map((c) => c.instanceId)).toEqual([0, 1, 2, 3].map((i) => `${packId}-${i}`))

    const again = await refused(() => redeem(relay, alice, token), 409, 'code_already_redeemed')
    expect(again.json.error?.details).toMatchObject({ stream: `pixbook/${alice.accountId}/${alice.bookId}`, eventId: first.json.eventId })
    await refused(() => redeem(relay, bob, token), 409, 'code_already_redeemed')

    const view = await http<{ instances: Array<{ instanceId: string }> }>(`${relay.url}/v1/pixbooks/${alice.accountId}/book/collection`, {
      headers: { authorization: `Bearer ${alice.token}` },
    })
    expect(view.json.instances.map((i) => i.instanceId)).toEqual(expect.arrayContaining(first.json.pack.cards.map((c) => c.instanceId)))
  })

  it('gives a fixed-card code its one card, and none once the card is out of supply', async () => {
    const codes = (await mint(relay, world, { kind: 'fixed-card', cardId: 'k1', count: 4 })).json.codes
    const issued = async () =>
      (await http<{ cards: Array<{ cardId: string; issued: number }> }>(`${relay.url}/v1/collections/pixpax-one`)).json.cards[0]!.issued
    let n = await issued()
    for (const code of codes) {
      if (n >= 3) {
        await refused(() => redeem(relay, bob, code.token), 422, 'supply_exhausted')
        continue
      }
      const res = await redeem(relay, bob, code.token)
      expect(res.status, res.text).toBe(200)
      expect(res.json.pack.cards.map((c) => c.cardId)).toEqual(['k1'])
      n++
    }
    expect(await issued()).toBe(3)
  })

  it('answers tokens that are not official with 422 code_not_official', async () => {
    const { token } = (await mint(relay, world, {})).json.codes[0]!
    const [body, sig] = token.split('.') as [string, string]
    const flipped = `${body}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`
    await refused(() => redeem(relay, alice, flipped), 422, 'code_not_official')
    await refused(() => redeem(relay, alice, 'garbage'), 422, 'code_not_official')
    // Signed by a key that is not the issuer's, naming the issuer's key id.
    const claims = parseCodeToken(token)!.claims
    const forger = newKey()
    const forged = await signCodeToken(claims, {
      publicKey: forger.signer.publicKey,
      publicKeyId: claims.issuer.publicKeyId,
      sign: (data) => forger.signer.sign(data),
    })
    await refused(() => redeem(relay, alice, forged), 422, 'code_not_official')
    // An identity that is not a platform issuer.
    const who = alice.who
    const own: CodeClaims = { ...claims, codeId: 'mine', issuer: { identityId: who.identityId, publicKeyId: who.signer.publicKeyId } }
    const ownToken = await signCodeToken(own, who.signer)
    await refused(() => redeem(relay, alice, ownToken), 422, 'code_not_official')
  })

  it('accepts a token signed outside the relay by a key of the issuer, and refuses it once expired (410)', async () => {
    const claims = (expiresAt: string, codeId: string): CodeClaims => ({
      type: 'pixpax-code/1',
      codeId,
      issuer: { identityId: ISSUER_ID, publicKeyId: world.issuer.signer.publicKeyId },
      collectionId: 'pixpax-one',
      kind: 'pack',
      cards: 2,
      version: 1,
      issuedAt: '2026-01-01T00:00:00.000Z',
      expiresAt,
    })
    const live = await signCodeToken(claims('2035-01-01T00:00:00.000Z', 'offline-1'), world.issuer.signer)
    const res = await redeem(relay, bob, live)
    expect(res.status, res.text).toBe(200)
    expect(res.json.pack.cards).toHaveLength(2)
    const expired = await signCodeToken(claims('2026-01-02T00:00:00.000Z', 'offline-2'), world.issuer.signer)
    await refused(() => redeem(relay, bob, expired), 410, 'code_expired')
  })

  it('revokes a code (410 code_revoked after), a retry answers the same receipt, a redeemed code cannot be revoked', async () => {
    const [a, b] = (await mint(relay, world, { count: 2 })).json.codes as [MintJson['codes'][0], MintJson['codes'][0]]
    const url = (codeId: string) => `${relay.url}/v1/collections/pixpax-one/codes/${codeId}/revoke`
    expect((await postAs(url(a.codeId), alice.token, {})).status).toBe(403)
    const revoked = await postAs<{ eventId: string; receipt: Receipt }>(url(a.codeId), world.adminToken, { reason: 'misprint' })
    expect(revoked.status, revoked.text).toBe(200)
    expect(revoked.json.receipt).toMatchObject({ type: 'CODE_REVOKED', stream: { type: 'collection' }, payload: { codeId: a.codeId } })
    expect((await postAs<{ eventId: string }>(url(a.codeId), world.adminToken, {})).json.eventId).toBe(revoked.json.eventId)
    await refused(() => redeem(relay, alice, a.token), 410, 'code_revoked')

    expect((await redeem(relay, alice, b.token)).status).toBe(200)
    const late = await postAs(url(b.codeId), world.adminToken, {})
    expect(late.status, late.text).toBe(409)
    expect(late.json).toMatchObject({ error: { code: 'DOMAIN_RULE_VIOLATION', details: { rule: 'code_already_redeemed' } } })
  })

  it('lets exactly one of two books win each of 20 codes redeemed concurrently', async () => {
    const codes = (await mint(relay, world, { count: 20, cards: 2 })).json.codes
    const results = await Promise.all(codes.flatMap((c) => [redeem(relay, alice, c.token), redeem(relay, bob, c.token)]))
    for (let i = 0; i < codes.length; i++) {
      const pair = [results[2 * i]!, results[2 * i + 1]!]
      expect(pair.map((r) => r.status).sort(), pair.map((r) => r.text).join('\n')).toEqual([200, 409])
    }
    const { rows } = await relay.deps.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM economy_packs WHERE code_id = ANY($1::text[])',
      [codes.map((c) => c.codeId)],
    )
    expect(rows[0]!.n).toBe(20)
  }, 60_000)

  it('replays the export with the cross-stream rules; verify-store ok; the rebuild digest is equal', async () => {
    const chain = new ChainVerifier({
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      crossStream: true,
      platformIssuers: new Set([ISSUER_ID]),
    })
    for (const line of await exportLog(relay)) expect(await chain.add(line)).toMatchObject({ ok: true })
    const result = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, { platformIssuers: new Set([ISSUER_ID]) })
    expect(result.errors).toEqual([])
    expect(result.ok).toBe(true)
    const before = await http<{ digest: string }>(`${relay.url}/v1/admin/digest`, {
      headers: { authorization: `Bearer ${world.adminToken}` },
    })
    const rebuilt = await postAs<{ digest: string }>(`${relay.url}/v1/admin/rebuild`, world.adminToken)
    expect(rebuilt.status, rebuilt.text).toBe(200)
    expect(rebuilt.json.digest).toBe(before.json.digest)
  }, 120_000)
})

describe('printed codes across two relay processes on one Postgres', () => {
  let relays: RelayProcess[] = []
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()))
  })

  it('redeems each of 30 codes exactly once when two books race on two relays', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-codes-'))
    const env = {
      ...relayEnv({ db: 'pg', store: 'fs', dataDir, schema: uniqueSchema(`${PREFIX}_two`), env: ECONOMY_ENV }),
      LOG_LEVEL: 'error',
    }
    relays = await Promise.all([startRelayProcess(env, 120_000), startRelayProcess(env, 120_000)])
    const [one, two] = relays as [RelayProcess, RelayProcess]
    const world = await economyWorld(one, CARDS)
    const alice = await newCollector(one, 'alice')
    const bob = await newCollector(two, 'bob')
    const codes = (await mint(one, world, { count: 30, cards: 3 })).json.codes
    const results = await Promise.all(codes.flatMap((c) => [redeem(one, alice, c.token), redeem(two, bob, c.token)]))
    for (let i = 0; i < codes.length; i++) {
      const pair = [results[2 * i]!, results[2 * i + 1]!]
      expect(pair.map((r) => r.status).sort(), pair.map((r) => r.text).join('\n')).toEqual([200, 409])
      for (const r of pair) if (r.status === 409) expect(r.json.error?.details?.rule).toBe('code_already_redeemed')
    }
    const book = async (relay: Relay, c: Collector) =>
      (
        await http<{ instances: unknown[] }>(`${relay.url}/v1/pixbooks/${c.accountId}/${c.bookId}/collection`, {
          headers: { authorization: `Bearer ${c.token}` },
        })
      ).json.instances.length
    expect((await book(one, alice)) + (await book(two, bob))).toBe(30 * 3)
  }, 300_000)
})
