/**
 * The social commands through a real SyncClient against a real relay: a person's profile, post,
 * reactions, comment and follow, a moderator's promotion, all signed locally, pushed by the outbox and
 * served back by the query routes; a payload the schema refuses throws before anything is signed; a
 * receipt a cross-stream rule refuses ends `rejected` with its rule. The read routes through
 * socialQueries: a post, a profile by handle, the report queue (a moderator's session only), refusals as
 * RelayRequestError with the envelope's code.
 */
import { buildReceipt, generatePrivateJwk } from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutboxEntry } from '../src/storage/local-log.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { login } from '../src/network/session.js'
import type { LiveNotification } from '@pixpax/shared'
import { liveNotifications, moderationCommands, normalizeHashtags, socialCommands } from '../src/social/social.js'
import { socialQueries } from '../src/social/queries.js'
import { RelayRequestError } from '../src/network/relay-request.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'

const MEDIA = { hash: 'sha256:' + 'cd'.repeat(32), mime: 'image/png' as const, width: 32, height: 32, frames: 1 }

describe('social commands against a real relay', () => {
  let relay: TestRelay
  let alice: TestIdentity
  let mod: TestIdentity

  beforeAll(async () => {
    relay = await startTestRelay({ env: { MODERATORS: 'sdk-mod' } })
    alice = await makeIdentity('sdk-alice', 'acc-sdk')
    // A moderator identity (kind moderator, listed in MODERATORS): clients check the role from the kind.
    const modSigner = nodeSigner(generatePrivateJwk())
    const modCreated = await buildReceipt({
      stream: { type: 'identity', identityId: 'sdk-mod' },
      type: 'IDENTITY_CREATED',
      payload: { publicKey: modSigner.publicKey, accountId: 'acc-sdk-mod', kind: 'moderator' },
      identityId: 'sdk-mod',
      signer: modSigner,
      prev: null,
      sha256: nodeSha256,
    })
    mod = { identityId: 'sdk-mod', accountId: 'acc-sdk-mod', signer: modSigner, created: modCreated }
    expect((await postReceipts(relay, [alice.created, mod.created])).status).toBe(200)
    // What the media module records once it has validated an upload.
    await relay.app.relay.db.query(
      `INSERT INTO media_blobs (hash, mime, width, height, frames, unique_colors, transparent, byte_size, uploaded_by, uploaded_at, status)
       VALUES ($1, 'image/png', 32, 32, 1, 4, false, 100, 'sdk-alice', '2026-12-01T00:00:00.000Z', 'ok')`,
      [MEDIA.hash],
    )
  }, 60_000)
  afterAll(async () => relay.close())

  async function client(who: TestIdentity): Promise<SyncClient> {
    const token = (await login(relay.url, who.identityId, who.signer)).token
    const c = await SyncClient.open({
      relayUrl: relay.url,
      log: new MemoryLocalLog(),
      identityId: who.identityId,
      signer: who.signer,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      token: () => token,
      reconnect: { baseMs: 20, maxMs: 200 },
    })
    c.start()
    return c
  }

  it('publishes, reacts, comments and promotes; the relay serves it back', async () => {
    const c = await client(alice)
    const social = socialCommands(c, alice.identityId)
    await social.updateProfile({ handle: 'SdkAlice', displayName: 'Alice' })
    const post = await social.publish({ title: 'Pixel dragon', media: MEDIA, hashtags: ['#Dragon', 'dragon', 'Art'] })
    expect(post.payload.hashtags).toEqual(['dragon', 'art'])
    await social.react(post.eventId, '🔥')
    const comment = await social.comment(post.eventId, 'first!')
    await social.comment(post.eventId, 'reply', { parentId: comment.eventId })
    await social.follow(mod.identityId)
    expect(() => social.publish({ title: 'x'.repeat(129), media: MEDIA })).toThrow(/SCHEMA_INVALID|title/)
    await c.whenSynced()

    const m = await client(mod)
    await moderationCommands(m, mod.identityId).promote(post.eventId, 'daily-best')
    await m.whenSynced()

    const served = (await (await fetch(`${relay.url}/v1/posts/${post.eventId}`)).json()) as Record<string, unknown>
    expect(served).toMatchObject({ title: 'Pixel dragon', hashtags: ['dragon', 'art'], reactions: [{ emoji: '🔥', count: 1 }] })
    expect((served.comments as Array<{ replies: unknown[] }>)[0]!.replies).toHaveLength(1)
    const promoted = (await (await fetch(`${relay.url}/v1/feeds/promoted?category=daily-best`)).json()) as {
      items: Array<{ postId: string }>
    }
    expect(promoted.items.map((p) => p.postId)).toEqual([post.eventId])
    const profile = (await (await fetch(`${relay.url}/v1/profiles/by-handle/sdkalice`)).json()) as Record<string, unknown>
    expect(profile).toMatchObject({ identityId: alice.identityId, following: 1 })

    // A sixth distinct emoji (with 🔥 and a–d): signed and queued locally, refused by the relay's reaction_cap.
    const rejected = new Promise<OutboxEntry>((resolve) => c.on('rejected', resolve))
    for (const e of ['a', 'b', 'c', 'd']) await social.react(post.eventId, e) // with 🔥: five
    const sixth = await social.react(post.eventId, 'f')
    const entry = await rejected
    expect(entry.receipt.eventId).toBe(sixth.eventId)
    expect(entry.error).toMatchObject({ code: 'DOMAIN_RULE_VIOLATION', details: { rule: 'reaction_cap' } })
    await c.stop()
    await m.stop()
  })

  it('pushes the session’s notifications over the sync socket: what came before `after` first, then live', async () => {
    const c = await client(alice)
    const got: LiveNotification[] = []
    let arrived: () => void = () => undefined
    const waitFor = (n: number): Promise<void> =>
      got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (arrived = () => got.length >= n && resolve()))
    const off = liveNotifications(
      c,
      (n) => {
        got.push(n)
        arrived()
      },
      0,
    )
    // The promotion of the first test is already there: it comes first.
    await waitFor(1)
    expect(got.map((n) => n.kind)).toEqual(['promoted'])
    const m = await client(mod)
    await socialCommands(m, mod.identityId).updateProfile({ handle: 'sdkmod' })
    await socialCommands(m, mod.identityId).follow(alice.identityId)
    await waitFor(2)
    expect(got.map((n) => [n.kind, n.actor.identityId])).toEqual([
      ['promoted', mod.identityId],
      ['follow', mod.identityId],
    ])
    off()
    await c.stop()
    await m.stop()
  })

  it('reads the relay through socialQueries; the report queue only for a moderator', async () => {
    const c = await client(alice)
    // A fresh local log: catch the profile stream up first, so the new receipts chain to its head.
    c.follow(`profile/${alice.identityId}`)
    await c.whenSynced()
    const social = socialCommands(c, alice.identityId)
    const post = await social.publish({ title: 'Report me', media: MEDIA })
    const report = await social.report({ postId: post.eventId }, 'spam', 'sells pixels')
    await c.whenSynced()
    await c.stop()

    const anonymous = socialQueries(relay.url)
    const asAlice = socialQueries(relay.url, { token: async () => (await login(relay.url, alice.identityId, alice.signer)).token })
    expect(await anonymous.post<{ title: string }>(post.eventId)).toMatchObject({ title: 'Report me' })
    expect(await anonymous.profileByHandle<{ identityId: string }>('sdkalice')).toMatchObject({ identityId: alice.identityId })
    const missing = await anonymous.post('01JAAAAAAAAAAAAAAAAAAAAAAA').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(RelayRequestError)
    expect(missing).toMatchObject({ status: 404, code: 'NOT_FOUND' })

    const refused = await asAlice.moderationReports().catch((e: unknown) => e)
    expect(refused).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    const modToken = (await login(relay.url, mod.identityId, mod.signer)).token
    const queue = await socialQueries(relay.url, { token: modToken }).moderationReports('open')
    expect(queue.items.find((r) => r.reportId === report.eventId)).toMatchObject({
      reporter: alice.identityId,
      target: { postId: post.eventId },
      reason: 'spam',
      note: 'sells pixels',
      resolution: null,
    })
  })

  it('normalizes hashtags: no #, lower case, each once', () => {
    expect(normalizeHashtags(['#Pixel', 'pixel', 'ART', '#art'])).toEqual(['pixel', 'art'])
  })
})
