/**
 * Device views on the relay (docs/player.md "Views"), over real sockets on Postgres 15 and PGlite: a
 * device's DEVICE_VIEWS batches are counted per device (`GET /v1/devices`, `GET /v1/devices/:id/views`)
 * and per post (`GET /v1/posts/:postId/views`); a resent view and a view closer than 5 s to the last one
 * are refused with their rule, in one batch and across batches, and change no count; a rebuild by replay
 * gives the same counts.
 */
import { randomBytes } from 'node:crypto'
import type { Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayTrustPolicy } from '../src/app.js'
import { projectionDigest } from '../src/replay/digest.js'
import { rebuild } from '../src/replay/rebuild.js'
import {
  adminQuery,
  appendOk,
  appendVia,
  dropSchemas,
  http,
  identityCreated,
  newIdentity,
  openSession,
  postJson,
  postReceipts,
  removeDir,
  startTestRelay,
  StreamWriter,
  uniqueSchema,
  type TestRelay,
} from './support/relay-harness.js'
import { act, holdMedia, join, postPayload, socialActor, verdict } from './support/social-fixtures.js'

const PREFIX = `pixpax_device_views_${randomBytes(4).toString('hex')}`
const capabilities = { display: 'png', maxWidth: 64, maxHeight: 64, animation: true, brightness: false, rotation: false, mirror: false }

beforeAll(async () => {
  await adminQuery('SELECT 1')
})
afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each(['pg', 'pglite'] as const)('device views on %s', (db) => {
  let relay: TestRelay
  let url: string
  const owner = socialActor('person', 'owner')
  const device = newIdentity(`devacct-${randomBytes(4).toString('hex')}`, 'device')
  const stream = new StreamWriter({ type: 'device', identityId: device.identityId })
  let ownerToken: string
  let postId: string
  let artwork: string
  const t0 = Date.now() - 3_600_000
  const iso = (offsetSeconds: number) => new Date(t0 + offsetSeconds * 1000).toISOString()

  const get = async <T>(path: string, token = ownerToken) =>
    http<T>(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  const views = (items: Array<Record<string, unknown>>): Promise<Receipt> => stream.build('DEVICE_VIEWS', { views: items }, device)
  async function send(receipts: Receipt[]): Promise<string[]> {
    const res = await postReceipts(url, receipts)
    if (!res.json?.results) throw new Error(`POST /v1/receipts ${res.status}: ${res.text}`)
    res.json.results.forEach((r, i) => {
      if (r.ok) stream.advance(receipts[i]!, r.seq)
    })
    return res.json.results.map(verdict)
  }
  const counts = async () => ({
    device: (await get<{ views: number }>(`/v1/devices/${device.identityId}/views`)).json.views,
    post: (await get<{ views: number; devices: number }>(`/v1/posts/${postId}/views`, '')).json,
  })

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(PREFIX) })
    url = relay.url
    await join(url, owner, `owner${randomBytes(3).toString('hex')}`)
    const media = await holdMedia(relay.deps.db, `views art ${db}`)
    artwork = media.hash
    postId = (await act(url, owner, 'POST_PUBLISHED', postPayload(media, 'Viewed'))).eventId
    await appendOk(url, [await identityCreated(device)])
    await appendVia(url, stream, await stream.build('DEVICE_REGISTERED', { capabilities }, device))
    // Pair it through the routes: the owner's views route answers only for the account's devices.
    ownerToken = await openSession(url, owner)
    const deviceToken = await openSession(url, device)
    const code = await postJson(url, '/v1/devices/pairing-code', '{}', { authorization: `Bearer ${deviceToken}` })
    const paired = await postJson(
      url,
      '/v1/devices/pair',
      JSON.stringify({ code: (code.json as unknown as { code: string }).code, name: 'Hall' }),
      {
        authorization: `Bearer ${ownerToken}`,
      },
    )
    expect(paired.status, paired.text).toBe(200)
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  it('counts views per device and per post', async () => {
    expect(await counts()).toEqual({ device: 0, post: { postId, views: 0, devices: 0 } })
    const other = 'sha256:' + 'ab'.repeat(32)
    expect(
      await send([
        await views([
          { artwork, postId, viewedAt: iso(0), channel: 'relay:user:x' },
          { artwork: other, viewedAt: iso(5), channel: 'static:/list.json', clockUnsynced: true },
          { artwork, postId, viewedAt: iso(20) },
        ]),
      ]),
    ).toEqual(['accepted'])
    expect(await counts()).toEqual({ device: 3, post: { postId, views: 2, devices: 1 } })
    const detail = await get<Record<string, unknown>>(`/v1/devices/${device.identityId}/views`)
    expect(detail.json).toMatchObject({
      deviceIdentityId: device.identityId,
      views: 3,
      clockUnsyncedViews: 1,
      posts: [
        { postId, artwork, views: 2, lastViewedAt: iso(20) },
        { postId: null, artwork: other, views: 1 },
      ],
    })
    expect((detail.json.recent as unknown[])[0]).toEqual({ postId, artwork, viewedAt: iso(20), channel: null, clockUnsynced: false })
    const list = await get<{ devices: Array<{ deviceIdentityId: string; views: number }> }>('/v1/devices')
    expect(list.json.devices.find((d) => d.deviceIdentityId === device.identityId)?.views).toBe(3)
  })

  it('refuses a resent view and views closer than 5 s, in one batch and across batches; counts stay', async () => {
    const before = await counts()
    const results = await send([
      await views([{ artwork, postId, viewedAt: iso(20) }]), // the last view, again
      await views([{ artwork, postId, viewedAt: iso(24) }]), // 4 s after it
      await views([
        { artwork, postId, viewedAt: iso(30) },
        { artwork, postId, viewedAt: iso(30) },
      ]),
      await views([
        { artwork, postId, viewedAt: iso(30) },
        { artwork, postId, viewedAt: iso(34.999) },
      ]),
    ])
    expect(results).toEqual([
      'DOMAIN_RULE_VIOLATION:view_duplicate',
      'DOMAIN_RULE_VIOLATION:view_too_soon',
      'STREAM_RULE_VIOLATION:view_duplicate',
      'STREAM_RULE_VIOLATION:view_too_soon',
    ])
    expect(await counts()).toEqual(before)
    // Exactly 5 s after the last is accepted; in one relay batch the second batch sees the first's views.
    const first = await views([{ artwork, postId, viewedAt: iso(25) }])
    const second = await stream.build('DEVICE_VIEWS', { views: [{ artwork, viewedAt: iso(29) }] }, device, {
      prev: { eventId: first.eventId, hash: first.hash },
    })
    expect(await send([first, second])).toEqual(['accepted', 'DOMAIN_RULE_VIOLATION:view_too_soon'])
    expect((await counts()).device).toBe(before.device + 1)
  })

  it('is private to the paired account and rejects bad ids with the error envelope', async () => {
    const stranger = newIdentity(`acct-${randomBytes(4).toString('hex')}`)
    await appendOk(url, [await identityCreated(stranger)])
    const theirs = await get<{ error: { code: string } }>(`/v1/devices/${device.identityId}/views`, await openSession(url, stranger))
    expect([theirs.status, theirs.json.error.code]).toEqual([404, 'NOT_FOUND'])
    expect((await get<{ error: { code: string } }>(`/v1/devices/${device.identityId}/views`, '')).json.error.code).toBe('UNAUTHENTICATED')
    expect((await get<{ error: { code: string } }>('/v1/posts/not-a-ulid/views', '')).json.error.code).toBe('NOT_FOUND')
  })

  it('a rebuild by replay gives the same counts', async () => {
    const before = await counts()
    const digest = await projectionDigest(relay.deps.db)
    expect(digest.tables.device_views!.rows).toBe(before.device)
    await rebuild({
      db: relay.deps.db,
      store: relay.deps.store,
      sha256: nodeSha256,
      verifier: nodeVerifier(),
      policy: relayTrustPolicy(relay.config),
    })
    expect(await projectionDigest(relay.deps.db)).toEqual(digest)
    expect(await counts()).toEqual(before)
  })
})
