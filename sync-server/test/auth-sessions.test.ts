import { createHash } from 'node:crypto'
import { formatSignature, generatePrivateJwk, P256_N } from '@pixpax/shared'
import { nodeSigner } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashToken } from '../src/auth/sessions.js'
import { bearer, errorOf, startTestRelay, TestClient, type TestRelay } from './support/auth-fixtures.js'

let relay: TestRelay
let alice: TestClient // account acc-a: owner of the account and of pixbook acc-a/book-1
let carol: TestClient // account acc-a: member (MEMBER_ADDED by alice)
let bob: TestClient // account acc-b: outsider
let root: TestClient // admin
const book = { type: 'pixbook', accountId: 'acc-a', bookId: 'book-1' }

beforeAll(async () => {
  relay = await startTestRelay({ env: { ADMIN_IDENTITIES: 'root', SESSION_TTL_SECONDS: '3600' } })
  alice = new TestClient(relay.app, 'alice', 'acc-a')
  carol = new TestClient(relay.app, 'carol', 'acc-a')
  bob = new TestClient(relay.app, 'bob', 'acc-b')
  root = new TestClient(relay.app, 'root', 'ops')
  for (const c of [alice, carol, bob, root]) await c.createIdentity()
  await alice.appendOk({ type: 'account', accountId: 'acc-a' }, 'ACCOUNT_CREATED', { displayName: 'A' })
  await alice.appendOk({ type: 'account', accountId: 'acc-a' }, 'MEMBER_ADDED', { identityId: 'carol', role: 'member' })
  await alice.appendOk(book, 'PIXBOOK_CREATED', { title: 'Private book' })
  await alice.appendOk(book, 'CARD_ADDED', { cardId: 'c1', artHash: `sha256:${'a'.repeat(64)}` })
})
afterAll(async () => {
  await relay?.close()
})

describe('sessions by signed challenge', () => {
  it('hands out a single-use nonce that expires in five minutes', async () => {
    const before = Date.now()
    const response = await relay.app.inject({ method: 'POST', url: '/v1/auth/challenge' })
    expect(response.statusCode).toBe(200)
    const body = response.json<{ nonce: string; expiresAt: string; relay: string; purpose: string }>()
    expect(body.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(body.relay).toBe('pixpax-relay')
    expect(body.purpose).toBe('pixpax-session')
    const ttl = Date.parse(body.expiresAt) - before
    expect(ttl).toBeGreaterThan(4.9 * 60_000)
    expect(ttl).toBeLessThanOrEqual(5 * 60_000 + 1000)
    const relayInfo = (await relay.app.inject({ method: 'GET', url: '/v1/relay' })).json<{ identityId: string }>()
    expect(body.relay).toBe(relayInfo.identityId)
  })

  it('opens a session for a valid key; only the token hash is stored', async () => {
    const signed = await alice.signedChallenge()
    const response = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: signed })
    expect(response.statusCode).toBe(200)
    const session = response.json<{ token: string; expiresAt: string; identityId: string; accountId: string; publicKeyId: string }>()
    expect(session).toMatchObject({ identityId: 'alice', accountId: 'acc-a', publicKeyId: alice.publicKeyId })
    expect(session.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Date.parse(session.expiresAt) - Date.now()).toBeGreaterThan(3590_000)

    const rows = (
      await relay.db.query<{ token_hash: string; public_key_id: string }>(
        'SELECT token_hash, public_key_id FROM sessions WHERE identity_id = $1',
        ['alice'],
      )
    ).rows
    expect(rows.map((r) => r.token_hash)).toContain(createHash('sha256').update(session.token).digest('hex'))
    expect(rows.map((r) => r.token_hash)).toContain(hashToken(session.token))
    expect(JSON.stringify(rows)).not.toContain(session.token)

    const me = await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers: bearer(session.token) })
    expect(me.statusCode).toBe(200)
    expect(me.json()).toMatchObject({ identityId: 'alice', accountId: 'acc-a', publicKeyId: alice.publicKeyId, admin: false })
  })

  it('refuses a signature by another key (401 UNAUTHENTICATED)', async () => {
    const signed = await alice.signedChallenge(nodeSigner(generatePrivateJwk()))
    const response = await relay.app.inject({
      method: 'POST',
      url: '/v1/auth/session',
      payload: { ...signed, publicKeyId: alice.publicKeyId },
    })
    expect(response.statusCode).toBe(401)
    expect(errorOf(response)).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'SIGNATURE_INVALID' } })
    expect(errorOf(response).requestId).toBeTruthy()
  })

  it('refuses a signature over another relay, another identity or another purpose', async () => {
    const otherRelay = await alice.signedChallenge(alice.signer, 'some-other-relay')
    const r1 = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: otherRelay })
    expect(r1.statusCode).toBe(401)
    // carol's signature over her own challenge, presented as alice's: the message names carol.
    const carols = await carol.signedChallenge()
    const r2 = await relay.app.inject({
      method: 'POST',
      url: '/v1/auth/session',
      payload: { ...carols, identityId: 'alice', publicKeyId: carol.publicKeyId },
    })
    expect(r2.statusCode).toBe(401)
    expect(errorOf(r2).code).toBe('UNAUTHENTICATED')
  })

  it('refuses non-canonical signatures (high S, DER, bad prefix) as UNAUTHENTICATED', async () => {
    const signed = await alice.signedChallenge()
    const raw = Buffer.from(signed.signature.slice('ecdsa-p256:'.length), 'base64')
    const s = BigInt('0x' + raw.subarray(32).toString('hex'))
    const high = Buffer.concat([raw.subarray(0, 32), Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')])
    const r1 = await relay.app.inject({
      method: 'POST',
      url: '/v1/auth/session',
      payload: { ...signed, signature: formatSignature(new Uint8Array(high)) },
    })
    expect(r1.statusCode).toBe(401)
    expect(errorOf(r1).details).toMatchObject({ reason: 'SIGNATURE_NOT_CANONICAL' })
    const fresh = await alice.signedChallenge()
    const r2 = await relay.app.inject({
      method: 'POST',
      url: '/v1/auth/session',
      payload: { ...fresh, signature: fresh.signature.replace('ecdsa-p256:', 'p256:') },
    })
    expect(r2.statusCode).toBe(401)
  })

  it('refuses an unknown identity or key', async () => {
    const stranger = new TestClient(relay.app, 'nobody', 'acc-x')
    const response = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: await stranger.signedChallenge() })
    expect(response.statusCode).toBe(401)
    expect(errorOf(response).details).toMatchObject({ reason: 'KEY_UNKNOWN' })
  })

  it('refuses a reused nonce, even after a successful session', async () => {
    const signed = await alice.signedChallenge()
    const first = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: signed })
    expect(first.statusCode).toBe(200)
    const replay = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: signed })
    expect(replay.statusCode).toBe(401)
    expect(errorOf(replay)).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'NONCE_UNKNOWN' } })
  })

  it('burns the nonce on a failed attempt too (one try per nonce)', async () => {
    const signed = await alice.signedChallenge()
    const bad = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: { ...signed, publicKeyId: bob.publicKeyId } })
    expect(bad.statusCode).toBe(401)
    const retry = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: signed })
    expect(retry.statusCode).toBe(401)
    expect(errorOf(retry).details).toMatchObject({ reason: 'NONCE_UNKNOWN' })
  })

  it('refuses an expired nonce', async () => {
    const signed = await alice.signedChallenge()
    await relay.db.query("UPDATE auth_challenges SET expires_at = now() - interval '1 second' WHERE nonce = $1", [signed.nonce])
    const response = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: signed })
    expect(response.statusCode).toBe(401)
    expect(errorOf(response).details).toMatchObject({ reason: 'NONCE_EXPIRED' })
  })

  it('refuses a revoked key, and a revocation ends the sessions that key opened', async () => {
    const second = generatePrivateJwk()
    const secondSigner = nodeSigner(second)
    await alice.addKey(second)
    const token = await alice.login(secondSigner)
    expect((await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers: bearer(token) })).statusCode).toBe(200)
    const keptToken = await alice.login() // opened by the first key: survives

    await alice.revokeKey(secondSigner.publicKeyId)
    const after = await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers: bearer(token) })
    expect(after.statusCode).toBe(401)
    expect(errorOf(after).code).toBe('UNAUTHENTICATED')
    expect((await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers: bearer(keptToken) })).statusCode).toBe(200)

    const again = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: await alice.signedChallenge(secondSigner) })
    expect(again.statusCode).toBe(401)
    expect(errorOf(again).details).toMatchObject({ reason: 'KEY_REVOKED' })
  })

  it('refuses an expired session', async () => {
    const token = await bob.login()
    await relay.db.query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [hashToken(token)])
    const response = await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers: bearer(token) })
    expect(response.statusCode).toBe(401)
    expect(errorOf(response).code).toBe('UNAUTHENTICATED')
  })

  it('logs out: the token stops working at once', async () => {
    const token = await bob.login()
    const out = await relay.app.inject({ method: 'DELETE', url: '/v1/auth/session', headers: bearer(token) })
    expect(out.statusCode).toBe(200)
    expect((await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers: bearer(token) })).statusCode).toBe(401)
    expect((await relay.app.inject({ method: 'DELETE', url: '/v1/auth/session', headers: bearer(token) })).statusCode).toBe(401)
  })

  it('answers 401 without a token, with a malformed header, or an unknown token', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, bearer('x'.repeat(43)), bearer('short')]) {
      const response = await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers })
      expect(response.statusCode).toBe(401)
      expect(errorOf(response).code).toBe('UNAUTHENTICATED')
    }
  })

  it('validates the session body (SCHEMA_INVALID) and caps its size (PAYLOAD_TOO_LARGE)', async () => {
    const missing = await relay.app.inject({ method: 'POST', url: '/v1/auth/session', payload: { identityId: 'alice' } })
    expect(missing.statusCode).toBe(400)
    expect(errorOf(missing).code).toBe('SCHEMA_INVALID')
    const extra = await relay.app.inject({
      method: 'POST',
      url: '/v1/auth/session',
      payload: { ...(await alice.signedChallenge()), extra: 1 },
    })
    expect(errorOf(extra).code).toBe('SCHEMA_INVALID')
    const big = await relay.app.inject({
      method: 'POST',
      url: '/v1/auth/session',
      payload: { identityId: 'alice', pad: 'x'.repeat(10_000) },
    })
    expect(big.statusCode).toBe(413)
    expect(errorOf(big).code).toBe('PAYLOAD_TOO_LARGE')
  })
})

describe('read access', () => {
  const privateUrls = ['/v1/receipts?stream=pixbook/acc-a/book-1', '/v1/streams/head?key=pixbook/acc-a/book-1', '/v1/pixbooks/acc-a/book-1']

  it('identity and account streams are public', async () => {
    for (const url of [
      '/v1/receipts?stream=identity/alice',
      '/v1/receipts?stream=account/acc-a',
      '/v1/streams/head?key=identity/bob',
      '/v1/identities/alice',
    ]) {
      const response = await relay.app.inject({ method: 'GET', url })
      expect(response.statusCode, url).toBe(200)
    }
  })

  it('a private pixbook: 401 without a session', async () => {
    for (const url of privateUrls) {
      const response = await relay.app.inject({ method: 'GET', url })
      expect(response.statusCode, url).toBe(401)
      expect(errorOf(response).code).toBe('UNAUTHENTICATED')
    }
  })

  it('a private pixbook: 403 for a session of someone outside the account', async () => {
    const token = await bob.login()
    for (const url of [...privateUrls, '/v1/receipts?stream=pixbook/acc-a/no-such-book']) {
      const response = await relay.app.inject({ method: 'GET', url, headers: bearer(token) })
      expect(response.statusCode, url).toBe(403)
      expect(errorOf(response).code).toBe('FORBIDDEN')
    }
  })

  it('a private pixbook: 200 for its owner and for members of its account', async () => {
    for (const client of [alice, carol]) {
      const token = await client.login()
      for (const url of privateUrls) {
        const response = await relay.app.inject({ method: 'GET', url, headers: bearer(token) })
        expect(response.statusCode, `${client.identityId} ${url}`).toBe(200)
      }
      const receipts = (await relay.app.inject({ method: 'GET', url: privateUrls[0]!, headers: bearer(token) })).json<{
        receipts: unknown[]
      }>()
      expect(receipts.receipts).toHaveLength(2)
    }
  })

  it('the owner reads a pixbook of an account that has no account stream', async () => {
    const dave = new TestClient(relay.app, 'dave', 'acc-d')
    await dave.createIdentity()
    await dave.appendOk({ type: 'pixbook', accountId: 'acc-d', bookId: 'solo' }, 'PIXBOOK_CREATED', { title: 'Solo' })
    const token = await dave.login()
    const response = await relay.app.inject({ method: 'GET', url: '/v1/pixbooks/acc-d/solo', headers: bearer(token) })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ ownerIdentityId: 'dave', title: 'Solo' })
    const outsider = await bob.login()
    expect((await relay.app.inject({ method: 'GET', url: '/v1/pixbooks/acc-d/solo', headers: bearer(outsider) })).statusCode).toBe(403)
  })

  it('posting a signed receipt needs no session', async () => {
    const { response } = await alice.append(book, 'CARD_ADDED', { cardId: 'c2', artHash: `sha256:${'b'.repeat(64)}` })
    expect(response.statusCode).toBe(200)
  })
})

describe('admin', () => {
  it('needs a session (401) of an admin identity (403)', async () => {
    for (const [method, url] of [
      ['GET', '/v1/admin/stats'],
      ['GET', '/v1/admin/digest'],
      ['POST', '/v1/admin/rebuild'],
    ] as const) {
      expect((await relay.app.inject({ method, url })).statusCode, url).toBe(401)
      const response = await relay.app.inject({ method, url, headers: bearer(await bob.login()) })
      expect(response.statusCode, url).toBe(403)
      expect(errorOf(response).code).toBe('FORBIDDEN')
    }
  })

  it('stats counts streams per type, receipts, identities and open append intents', async () => {
    const token = await root.login()
    const me = await relay.app.inject({ method: 'GET', url: '/v1/auth/session', headers: bearer(token) })
    expect(me.json()).toMatchObject({ identityId: 'root', admin: true })
    const response = await relay.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: bearer(token) })
    expect(response.statusCode).toBe(200)
    const stats = response.json<{
      streams: Record<string, number>
      receipts: number
      identities: number
      openAppendIntents: number
      activeSessions: number
    }>()
    const receipts = (await relay.db.query<{ n: number }>('SELECT count(*)::int AS n FROM receipts')).rows[0]!.n
    expect(stats.receipts).toBe(receipts)
    expect(stats.identities).toBe(5)
    expect(stats.streams).toMatchObject({ identity: 5, account: 1, pixbook: 2 })
    expect(stats.openAppendIntents).toBe(0)
    expect(stats.activeSessions).toBeGreaterThan(0)
  })

  it('rebuild replays the store and yields the digest from before', async () => {
    const token = await root.login()
    const before = (await relay.app.inject({ method: 'GET', url: '/v1/admin/digest', headers: bearer(token) })).json<{ digest: string }>()
    expect(before.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    const response = await relay.app.inject({ method: 'POST', url: '/v1/admin/rebuild', headers: bearer(token) })
    expect(response.statusCode).toBe(200)
    const rebuilt = response.json<{ receipts: number; streams: number; digest: string }>()
    expect(rebuilt.digest).toBe(before.digest)
    expect(rebuilt.streams).toBe(8)
    expect(rebuilt.receipts).toBe((await relay.db.query<{ n: number }>('SELECT count(*)::int AS n FROM receipts')).rows[0]!.n)
    // Sessions are relay state, not projections: the admin's session survives the rebuild.
    expect((await relay.app.inject({ method: 'GET', url: '/v1/admin/stats', headers: bearer(token) })).statusCode).toBe(200)
  })
})

describe('openapi', () => {
  it('documents the auth, command and admin routes with their security', async () => {
    const doc = (await relay.app.inject({ method: 'GET', url: '/v1/openapi.json' })).json<{
      paths: Record<string, Record<string, { security?: unknown }>>
    }>()
    expect(doc.paths['/v1/auth/challenge']?.post).toBeDefined()
    expect(doc.paths['/v1/auth/session']?.post).toBeDefined()
    expect(doc.paths['/v1/auth/session']?.delete?.security).toEqual([{ session: [] }])
    expect(doc.paths['/v1/admin/rebuild']?.post?.security).toEqual([{ session: [] }])
    expect(doc.paths['/v1/pixbooks/{accountId}/{bookId}/commands/save']?.post?.security).toEqual([{ session: [] }])
    expect(doc.paths['/v1/identities/{id}/custodial-key']?.get).toBeDefined()
  })
})
