import { buildReceipt, formatSignature, publicJwk, type Receipt } from '@pixpax/shared'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sessionChallengeBytes } from '../src/auth/challenge-message.js'
import { bearer, errorOf, startTestRelay, TestClient, type TestRelay } from './support/auth-fixtures.js'

// Tiny limits: 3 requests per address and 3 per identity per minute.
let relay: TestRelay
let ip = 0
/** A fresh client address, so each test starts with a full per-IP budget. */
const nextIp = (): string => `10.0.${Math.floor(++ip / 250)}.${ip % 250}`

beforeAll(async () => {
  relay = await startTestRelay({ env: { RATE_LIMIT_PER_IP: '3', RATE_LIMIT_PER_IDENTITY: '3', RATE_LIMIT_WINDOW_MS: '60000' } })
})
afterAll(async () => {
  await relay?.close()
})

function expectRateLimited(response: LightMyRequestResponse, scope: 'ip' | 'identity'): void {
  expect(response.statusCode).toBe(429)
  const error = errorOf(response)
  expect(error.code).toBe('RATE_LIMITED')
  expect(error.requestId).toBe(response.headers['x-request-id'])
  expect(error.details).toMatchObject({ scope, limit: 3, windowMs: 60_000 })
  const retryAfterMs = error.details!.retryAfterMs as number
  expect(retryAfterMs).toBeGreaterThan(0)
  expect(retryAfterMs).toBeLessThanOrEqual(60_000)
  expect(Number(response.headers['retry-after'])).toBe(Math.ceil(retryAfterMs / 1000))
}

describe('rate limits', () => {
  it('per IP: the request over the limit is 429 RATE_LIMITED in the envelope, with retry-after', async () => {
    const remoteAddress = nextIp()
    for (let i = 0; i < 3; i++) {
      const ok = await relay.app.inject({ method: 'GET', url: '/v1/relay', remoteAddress })
      expect(ok.statusCode).toBe(200)
      expect(ok.headers['x-ratelimit-remaining']).toBe(String(2 - i))
    }
    expectRateLimited(await relay.app.inject({ method: 'GET', url: '/v1/relay', remoteAddress }), 'ip')
    expectRateLimited(await relay.app.inject({ method: 'POST', url: '/v1/auth/challenge', remoteAddress }), 'ip')
    // Another address is not affected.
    expect((await relay.app.inject({ method: 'GET', url: '/v1/relay', remoteAddress: nextIp() })).statusCode).toBe(200)
  })

  it('probes are exempt: /healthz, /readyz and /metrics answer past the limit', async () => {
    const remoteAddress = nextIp()
    for (let i = 0; i < 4; i++) await relay.app.inject({ method: 'GET', url: '/v1/relay', remoteAddress })
    for (let i = 0; i < 5; i++) {
      for (const url of ['/healthz', '/readyz', '/metrics']) {
        const response = await relay.app.inject({ method: 'GET', url, remoteAddress })
        expect(response.statusCode, url).toBe(200)
        expect(response.headers['x-ratelimit-limit']).toBeUndefined()
      }
    }
  })

  it('per identity on POST /v1/receipts: keyed by the first receipt’s issuer, whatever the address', async () => {
    const receipts = [{ issuer: { identityId: 'spammer', publicKeyId: 'x' } }]
    for (let i = 0; i < 3; i++) {
      const response = await relay.app.inject({ method: 'POST', url: '/v1/receipts', remoteAddress: nextIp(), payload: { receipts } })
      expect(response.statusCode).toBe(400) // counted, then refused on its merits
    }
    expectRateLimited(
      await relay.app.inject({ method: 'POST', url: '/v1/receipts', remoteAddress: nextIp(), payload: { receipts } }),
      'identity',
    )
    const other = await relay.app.inject({
      method: 'POST',
      url: '/v1/receipts',
      remoteAddress: nextIp(),
      payload: { receipts: [{ issuer: { identityId: 'someone-else' } }] },
    })
    expect(other.statusCode).toBe(400)
  })

  it('per identity on session routes: keyed by the session identity', async () => {
    // Each step from a fresh address, so only the identity budget can run out.
    const sam = new TestClient(relay.app, 'sam', 'acc-s')
    const created = await relay.app.inject({
      method: 'POST',
      url: '/v1/receipts',
      remoteAddress: nextIp(),
      payload: { receipts: [await samIdentity(sam)] },
    })
    expect(created.statusCode).toBe(200) // sam: 1
    const challenge = await relay.app.inject({ method: 'POST', url: '/v1/auth/challenge', remoteAddress: nextIp() })
    const { nonce, relay: relayId } = challenge.json<{ nonce: string; relay: string }>()
    const signature = formatSignature(await sam.signer.sign(sessionChallengeBytes({ nonce, identityId: 'sam', relay: relayId })))
    const session = await relay.app.inject({
      method: 'POST',
      url: '/v1/auth/session',
      remoteAddress: nextIp(),
      payload: { identityId: 'sam', publicKeyId: sam.publicKeyId, nonce, signature },
    })
    expect(session.statusCode).toBe(200) // no session presented yet: not counted against sam
    const token = session.json<{ token: string }>().token
    for (let i = 0; i < 2; i++) {
      expect(
        (await relay.app.inject({ method: 'GET', url: '/v1/auth/session', remoteAddress: nextIp(), headers: bearer(token) })).statusCode,
      ).toBe(200) // sam: 2, 3
    }
    expectRateLimited(
      await relay.app.inject({ method: 'GET', url: '/v1/auth/session', remoteAddress: nextIp(), headers: bearer(token) }),
      'identity',
    )
    // Public reads without the token are not the identity's.
    expect((await relay.app.inject({ method: 'GET', url: '/v1/identities/sam', remoteAddress: nextIp() })).statusCode).toBe(200)
  })
})

function samIdentity(sam: TestClient): Promise<Receipt> {
  return buildReceipt({
    stream: { type: 'identity', identityId: 'sam' },
    type: 'IDENTITY_CREATED',
    payload: { publicKey: publicJwk(sam.jwk), accountId: 'acc-s', kind: 'person' },
    identityId: 'sam',
    signer: sam.signer,
    prev: null,
  })
}
