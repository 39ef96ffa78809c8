/**
 * The devices routes (docs/player.md) in-process: pairing codes only for device sessions, single-use and
 * expiring codes, a rate limit on attempts, at most 128 devices per account, unpairing revoking read
 * access, and the listing with online/offline.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_DEVICES_PER_ACCOUNT } from '@pixpax/shared'
import { PAIR_ATTEMPTS_PER_WINDOW } from '../src/devices/device-routes.js'
import { bearer, errorOf, startTestRelay, TestClient, type TestRelay } from './support/auth-fixtures.js'

const capabilities = { display: 'png', maxWidth: 64, maxHeight: 64, animation: true, brightness: false, rotation: false, mirror: false }

describe('devices routes', () => {
  let relay: TestRelay
  let owner: TestClient
  let ownerToken: string

  beforeEach(async () => {
    relay = await startTestRelay({ env: { RATE_LIMIT_PER_IP: '100000', RATE_LIMIT_PER_IDENTITY: '100000' } })
    owner = new TestClient(relay.app, 'owner-1', 'acct-1')
    await owner.createIdentity()
    ownerToken = await owner.login()
  })
  afterEach(async () => {
    await relay.close()
  })

  async function device(id: string): Promise<{ client: TestClient; token: string }> {
    const client = new TestClient(relay.app, id, `devacct-${id}`)
    await client.createIdentity('device')
    return { client, token: await client.login() }
  }
  const code = async (token: string) => {
    const res = await relay.app.inject({ method: 'POST', url: '/v1/devices/pairing-code', headers: bearer(token) })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<{ code: string; expiresAt: string }>()
  }
  const pair = (token: string, body: unknown) =>
    relay.app.inject({ method: 'POST', url: '/v1/devices/pair', headers: bearer(token), payload: body as Record<string, unknown> })
  const self = async (token: string) =>
    (await relay.app.inject({ method: 'GET', url: '/v1/devices/self', headers: bearer(token) })).json<Record<string, unknown>>()

  it('issues codes only to device sessions: 6 unambiguous characters, 15 minutes', async () => {
    const d = await device('dev-a')
    const issued = await code(d.token)
    expect(issued.code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/)
    const ttl = Date.parse(issued.expiresAt) - Date.now()
    expect(ttl).toBeGreaterThan(14 * 60_000)
    expect(ttl).toBeLessThanOrEqual(15 * 60_000)
    const person = await relay.app.inject({ method: 'POST', url: '/v1/devices/pairing-code', headers: bearer(ownerToken) })
    expect(person.statusCode).toBe(403)
    expect(errorOf(person).code).toBe('FORBIDDEN')
    const anonymous = await relay.app.inject({ method: 'POST', url: '/v1/devices/pairing-code' })
    expect(errorOf(anonymous).code).toBe('UNAUTHENTICATED')
    // A new code replaces the old one.
    const second = await code(d.token)
    expect((await pair(ownerToken, { code: issued.code, name: 'x' })).statusCode).toBe(second.code === issued.code ? 200 : 404)
  })

  it('pairs once per code; an expired code is refused; a device cannot pair devices', async () => {
    const d = await device('dev-b')
    const { code: c } = await code(d.token)
    expect(await self(d.token)).toEqual({ deviceIdentityId: 'dev-b', paired: false })
    const byDevice = await pair(d.token, { code: c, name: 'self' })
    expect(byDevice.statusCode).toBe(403)
    const ok = await pair(ownerToken, { code: c, name: ' Den ' })
    expect(ok.statusCode, ok.body).toBe(200)
    // Without a registered custodial key the binding receipt is not signed (the pairing holds).
    expect(ok.json()).toMatchObject({ deviceIdentityId: 'dev-b', accountId: 'acct-1', name: 'Den', binding: null })
    expect(await self(d.token)).toMatchObject({ paired: true, accountId: 'acct-1', ownerIdentityId: 'owner-1', name: 'Den' })
    const reuse = await pair(ownerToken, { code: c, name: 'Den' })
    expect(reuse.statusCode).toBe(404)
    expect(errorOf(reuse).details).toEqual({ reason: 'PAIRING_CODE_INVALID' })
    const paired = await relay.app.inject({ method: 'POST', url: '/v1/devices/pairing-code', headers: bearer(d.token) })
    expect(errorOf(paired).details).toEqual({ rule: 'device_already_paired' })

    const e = await device('dev-c')
    const { code: old } = await code(e.token)
    await relay.db.query(`UPDATE device_pairing_codes SET expires_at = now() - interval '1 second'`)
    const expired = await pair(ownerToken, { code: old, name: 'late' })
    expect(expired.statusCode).toBe(404)
    expect(await self(e.token)).toMatchObject({ paired: false })
  })

  it(`rate-limits pairing attempts to ${PAIR_ATTEMPTS_PER_WINDOW} per session and window`, async () => {
    const statuses: number[] = []
    for (let i = 0; i <= PAIR_ATTEMPTS_PER_WINDOW; i++)
      statuses.push((await pair(ownerToken, { code: 'ZZZZZZ', name: 'guess' })).statusCode)
    expect(statuses.slice(0, PAIR_ATTEMPTS_PER_WINDOW).every((s) => s === 404)).toBe(true)
    expect(statuses.at(-1)).toBe(429)
    // Another owner is not affected.
    const other = new TestClient(relay.app, 'owner-2', 'acct-2')
    await other.createIdentity()
    expect((await pair(await other.login(), { code: 'ZZZZZZ', name: 'guess' })).statusCode).toBe(404)
  })

  it(`refuses a pairing beyond ${MAX_DEVICES_PER_ACCOUNT} devices per account, without using the code`, async () => {
    for (let i = 0; i < MAX_DEVICES_PER_ACCOUNT; i++) {
      await relay.db.query(
        `INSERT INTO device_pairings (device_identity_id, account_id, owner_identity_id, name, paired_at) VALUES ($1, 'acct-1', 'owner-1', 'n', now())`,
        [`filler-${i}`],
      )
    }
    const d = await device('dev-d')
    const { code: c } = await code(d.token)
    const full = await pair(ownerToken, { code: c, name: 'one too many' })
    expect(full.statusCode).toBe(422)
    expect(errorOf(full).details).toMatchObject({ rule: 'device_limit', limit: MAX_DEVICES_PER_ACCOUNT })
    await relay.db.query(`DELETE FROM device_pairings WHERE device_identity_id = 'filler-0'`)
    expect((await pair(ownerToken, { code: c, name: 'fits now' })).statusCode).toBe(200)
  })

  it("gives a paired device read access to its account's streams until it is unpaired; lists it with its status", async () => {
    const book = { type: 'pixbook', accountId: 'acct-1', bookId: 'b1' }
    await owner.appendOk({ type: 'account', accountId: 'acct-1' }, 'ACCOUNT_CREATED', {})
    await owner.appendOk(book, 'PIXBOOK_CREATED', { title: 'Shared' })
    const d = await device('dev-e')
    const read = () => relay.app.inject({ method: 'GET', url: '/v1/receipts?stream=pixbook/acct-1/b1', headers: bearer(d.token) })
    expect((await read()).statusCode).toBe(403)
    const { code: c } = await code(d.token)
    expect((await pair(ownerToken, { code: c, name: 'Den' })).statusCode).toBe(200)
    expect((await read()).statusCode).toBe(200)

    const deviceStream = { type: 'device', identityId: 'dev-e' }
    await d.client.appendOk(deviceStream, 'DEVICE_REGISTERED', { capabilities })
    const status = {
      state: 'playing',
      capabilities,
      artwork: 'sha256:' + 'a'.repeat(64),
      playlistSize: 3,
      cacheBytes: 100,
      cachedItems: 3,
      online: true,
      uptimeSeconds: 5,
    }
    await d.client.appendOk(deviceStream, 'DEVICE_STATUS', status)
    const list = await relay.app.inject({ method: 'GET', url: '/v1/devices', headers: bearer(ownerToken) })
    expect(list.json()).toMatchObject({
      accountId: 'acct-1',
      devices: [{ deviceIdentityId: 'dev-e', name: 'Den', online: true, state: 'playing', artwork: status.artwork, capabilities }],
    })
    // Another account sees none of it; the device may not list or unpair.
    const other = new TestClient(relay.app, 'owner-3', 'acct-3')
    await other.createIdentity()
    const otherToken = await other.login()
    expect((await relay.app.inject({ method: 'GET', url: '/v1/devices', headers: bearer(otherToken) })).json()).toMatchObject({
      devices: [],
    })
    expect((await relay.app.inject({ method: 'DELETE', url: '/v1/devices/dev-e', headers: bearer(otherToken) })).statusCode).toBe(404)
    expect((await relay.app.inject({ method: 'GET', url: '/v1/devices', headers: bearer(d.token) })).statusCode).toBe(403)

    const unpair = await relay.app.inject({ method: 'DELETE', url: '/v1/devices/dev-e', headers: bearer(ownerToken) })
    expect(unpair.statusCode).toBe(200)
    expect((await read()).statusCode).toBe(403)
    expect(await self(d.token)).toMatchObject({ paired: false })
  })

  it("renames a device of the session's account only; a blank name is refused", async () => {
    const d = await device('dev-r')
    const { code: c } = await code(d.token)
    expect((await pair(ownerToken, { code: c, name: 'Hall' })).statusCode).toBe(200)
    const rename = (token: string, body: unknown, id = 'dev-r') =>
      relay.app.inject({ method: 'PATCH', url: `/v1/devices/${id}`, headers: bearer(token), payload: body as Record<string, unknown> })

    const renamed = await rename(ownerToken, { name: ' Kitchen ' })
    expect(renamed.statusCode, renamed.body).toBe(200)
    expect(renamed.json()).toEqual({ deviceIdentityId: 'dev-r', name: 'Kitchen' })
    expect(await self(d.token)).toMatchObject({ paired: true, name: 'Kitchen' })

    expect(errorOf(await rename(ownerToken, { name: '   ' })).code).toBe('SCHEMA_INVALID')
    expect(errorOf(await rename(ownerToken, { name: 'x', extra: 1 })).code).toBe('SCHEMA_INVALID')
    expect(errorOf(await rename(ownerToken, { name: 'x' }, 'dev-none')).code).toBe('NOT_FOUND')
    expect(errorOf(await rename(d.token, { name: 'Mine' })).code).toBe('FORBIDDEN')
    const other = new TestClient(relay.app, 'owner-4', 'acct-4')
    await other.createIdentity()
    expect(errorOf(await rename(await other.login(), { name: 'Stolen' })).code).toBe('NOT_FOUND')
    expect(await self(d.token)).toMatchObject({ name: 'Kitchen' })
  })

  it('shows a device offline when its last status is older than 3 minutes', async () => {
    const d = await device('dev-f')
    const { code: c } = await code(d.token)
    expect((await pair(ownerToken, { code: c, name: 'Old' })).statusCode).toBe(200)
    await relay.db.query(
      `INSERT INTO device_status (device_identity_id, capabilities, state, status, reported_at, position) VALUES ('dev-f', $1, 'idle', '{}', $2, 0)`,
      [JSON.stringify(capabilities), new Date(Date.now() - 3 * 60_000 - 1000).toISOString()],
    )
    const list = await relay.app.inject({ method: 'GET', url: '/v1/devices', headers: bearer(ownerToken) })
    expect(list.json()).toMatchObject({ devices: [{ deviceIdentityId: 'dev-f', online: false }] })
  })
})
