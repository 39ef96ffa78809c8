/**
 * Device linking's rendezvous (docs/web.md, "Linking a second browser"): a signed-in identity asks for a
 * code; a new key is submitted with it once; the relay reveals the identity to the claimer only after
 * the identity itself signed KEY_ADDED for that key, and the new key can then open a session as it.
 * Bad, used and expired codes get the error envelope with a reason.
 */
import { identityCreated, identityStream, newIdentity, StreamWriter } from '@pixpax/shared/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LINK_ATTEMPTS_PER_WINDOW } from '../src/identity-links/link-routes.js'
import { startTestRelay, type TestRelay } from '../src/testing.js'
import { appendOk, http, openSession } from './support/relay-harness.js'

describe('identity links', () => {
  let relay: TestRelay

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pglite', store: 'fs' })
  }, 60_000)
  afterAll(async () => relay?.close())

  const post = (path: string, body: unknown, token?: string) =>
    http<{ code: string; linkId: string; publicKeyId: string }>(`${relay.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    })

  it('links a second key: code, claim once, approval by KEY_ADDED, then the identity is revealed and usable', async () => {
    const first = newIdentity('acct-link1')
    const identity = new StreamWriter(identityStream(first))
    const genesis = await identityCreated(first, 'Ada')
    const [created] = await appendOk(relay.url, [genesis])
    identity.advance(genesis, created!.seq)
    const token = await openSession(relay.url, first)

    expect((await post('/v1/identity-links', {})).json).toMatchObject({ error: { code: 'UNAUTHENTICATED' } })
    const code = await post('/v1/identity-links', {}, token)
    expect(code.status, code.text).toBe(200)
    expect(code.json.code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/)

    // The identity's own key is refused (it would read as approved at once), and the code survives.
    const own = await post('/v1/identity-links/claim', { code: code.json.code, publicKey: first.signer.publicKey })
    expect(own.status).toBe(422)
    expect(own.json).toMatchObject({ error: { code: 'STREAM_RULE_VIOLATION', details: { rule: 'link_key_known' } } })

    // The second browser's key (the test kit's identity stands in for its non-extractable key).
    const second = newIdentity('unused')
    const claim = await post('/v1/identity-links/claim', { code: code.json.code.toLowerCase(), publicKey: second.signer.publicKey })
    expect(claim.status, claim.text).toBe(200)
    expect(claim.json.publicKeyId).toBe(second.signer.publicKeyId)
    const used = await post('/v1/identity-links/claim', { code: code.json.code, publicKey: newIdentity('x').signer.publicKey })
    expect(used.status).toBe(404)
    expect(used.json).toMatchObject({ error: { code: 'NOT_FOUND', details: { reason: 'LINK_CODE_USED' } } })

    // Before approval the claimer learns nothing about the identity.
    const waiting = await http<Record<string, unknown>>(`${relay.url}/v1/identity-links/${claim.json.linkId}`)
    expect(waiting.json).toMatchObject({ state: 'claimed', publicKeyId: second.signer.publicKeyId })
    expect(waiting.json.identityId).toBeUndefined()

    // The first sees the submitted key, and approves it by signing KEY_ADDED itself.
    const list = await http<{ links: Array<Record<string, unknown>> }>(`${relay.url}/v1/identity-links`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(list.json.links).toMatchObject([{ linkId: claim.json.linkId, state: 'claimed', publicKey: second.signer.publicKey }])
    const added = await identity.build('KEY_ADDED', { publicKey: second.signer.publicKey }, first)
    await appendOk(relay.url, [added])

    const approved = await http<Record<string, unknown>>(`${relay.url}/v1/identity-links/${claim.json.linkId}`)
    expect(approved.json).toMatchObject({ state: 'approved', identityId: first.identityId, accountId: first.accountId, displayName: 'Ada' })
    // The new key signs in as the same identity.
    await expect(openSession(relay.url, { ...first, signer: second.signer })).resolves.toEqual(expect.any(String))
  })

  it('documents its routes in the OpenAPI document: codes and the list need a session, the claim and a status none', async () => {
    const doc = (await (await fetch(`${relay.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown }>>
    }
    expect(doc.paths['/v1/identity-links']?.post?.security).toEqual([{ session: [] }])
    expect(doc.paths['/v1/identity-links']?.get?.security).toEqual([{ session: [] }])
    expect(doc.paths['/v1/identity-links/claim']?.post).toBeDefined()
    expect(doc.paths['/v1/identity-links/claim']?.post?.security).toBeUndefined()
    expect(doc.paths['/v1/identity-links/{linkId}']?.get?.security).toBeUndefined()
    expect(doc.paths['/v1/devices/{deviceIdentityId}']?.patch?.security).toEqual([{ session: [] }])
  })

  it('answers unknown, expired and malformed claims with the envelope', async () => {
    const who = newIdentity('acct-link2')
    await appendOk(relay.url, [await identityCreated(who)])
    const token = await openSession(relay.url, who)
    const key = newIdentity('k').signer.publicKey

    const unknown = await post('/v1/identity-links/claim', { code: 'ZZZZZZ', publicKey: key })
    expect(unknown.status).toBe(404)
    expect(unknown.json).toMatchObject({ error: { code: 'NOT_FOUND', details: { reason: 'LINK_CODE_UNKNOWN' } } })

    const code = await post('/v1/identity-links', {}, token)
    await relay.db.query(`UPDATE identity_links SET expires_at = now() - interval '1 second' WHERE identity_id = $1`, [who.identityId])
    const expired = await post('/v1/identity-links/claim', { code: code.json.code, publicKey: key })
    expect(expired.status).toBe(404)
    expect(expired.json).toMatchObject({ error: { code: 'NOT_FOUND', details: { reason: 'LINK_CODE_EXPIRED' } } })

    const bad = await post('/v1/identity-links/claim', { code: 'ABCDEF', publicKey: { kty: 'EC' } })
    expect(bad.status).toBe(400)
    expect(bad.json).toMatchObject({ error: { code: 'SCHEMA_INVALID' } })
    const noLink = await http(`${relay.url}/v1/identity-links/${'A'.repeat(22)}`)
    expect(noLink.status).toBe(404)
  })
})

describe('identity link claims are rate-limited per address', () => {
  it(`answers 429 after ${LINK_ATTEMPTS_PER_WINDOW} claims, whatever made-up bearer token each carries`, async () => {
    const relay = await startTestRelay({ db: 'pglite', store: 'fs' })
    try {
      const key = newIdentity('k').signer.publicKey
      const statuses: number[] = []
      for (let i = 0; i <= LINK_ATTEMPTS_PER_WINDOW; i++) {
        const res = await http(`${relay.url}/v1/identity-links/claim`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer made-up-${i}` },
          body: JSON.stringify({ code: 'ZZZZZZ', publicKey: key }),
        })
        statuses.push(res.status)
      }
      expect(statuses.slice(0, LINK_ATTEMPTS_PER_WINDOW)).toEqual(Array(LINK_ATTEMPTS_PER_WINDOW).fill(404))
      expect(statuses.at(-1)).toBe(429)
    } finally {
      await relay.close()
    }
  }, 60_000)
})
