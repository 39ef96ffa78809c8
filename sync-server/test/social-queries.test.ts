/**
 * The social query layer end to end over real sockets, on Postgres and PGlite: feeds with opaque
 * cursors, a post with its reactions and comment tree, profiles with counts, search (stemming and
 * typos), notifications and the moderators' report queue — and what must never show: unapproved posts
 * of new users in Recent and search, taken-down posts anywhere, blocked parties to each other.
 */
import { randomBytes } from 'node:crypto'
import type { Receipt } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  adminQuery,
  dropSchemas,
  http,
  openSession,
  removeDir,
  startTestRelay,
  uniqueSchema,
  type TestRelay,
} from './support/relay-harness.js'
import { act, holdMedia, join, postPayload, socialActor, type MediaRow } from './support/social-fixtures.js'

const PREFIX = `pixpax_social_q_${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  await adminQuery('SELECT 1')
})
afterAll(async () => {
  await dropSchemas(PREFIX)
})

interface Page<T = Record<string, unknown>> {
  items: T[]
  next: string | null
}
interface PostJson {
  postId: string
  title: string
  author: { identityId: string; handle: string }
  reactionCount: number
  commentCount: number
}

describe.each(['pg', 'pglite'] as const)('social queries on %s', (db) => {
  let relay: TestRelay
  let url: string
  const alice = socialActor('person', 'alice')
  const bob = socialActor('person', 'bob')
  const carol = socialActor('person', 'carol')
  const mod = socialActor('moderator')
  let png: MediaRow
  let dragon: Receipt
  let sea: Receipt
  let bobPost: Receipt
  let carolPost: Receipt
  const tokens = new Map<string, string>()

  const get = async <T = Page<PostJson>>(
    path: string,
    who?: { identityId: string },
  ): Promise<{ status: number; json: T; text: string }> => {
    const token = who ? tokens.get(who.identityId) : undefined
    return http<T>(`${url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {})
  }
  const ids = (page: Page<PostJson>): string[] => page.items.map((p) => p.postId)

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(PREFIX), env: { MODERATORS: mod.identityId } })
    url = relay.url
    await join(url, mod)
    await join(url, alice, `Alice_${db}`)
    await join(url, bob, `bob_${db}`)
    await join(url, carol, `carol_${db}`)
    for (const who of [alice, bob, carol, mod]) tokens.set(who.identityId, await openSession(url, who))
    png = await holdMedia(relay.deps.db, `png ${db}`)
    await act(url, mod, 'USER_TRUSTED', { identityId: alice.identityId }, 'moderation')
    dragon = await act(
      url,
      alice,
      'POST_PUBLISHED',
      postPayload(png, 'A red dragon', { description: 'breathing fire over the castle', hashtags: ['Dragon', 'fire'] }),
    )
    sea = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'Blue sea', { hashtags: ['sea'] }))
    bobPost = await act(url, bob, 'POST_PUBLISHED', postPayload(png, 'Sleeping dragons', { hashtags: ['dragon'] }))
    carolPost = await act(url, carol, 'POST_PUBLISHED', postPayload(png, 'Tiny cat', { hashtags: ['cat'] }))
    await act(url, mod, 'POST_APPROVED', { postId: carolPost.eventId }, 'moderation')
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  it('Recent shows approved posts and trusted users’ posts, newest first, paged by opaque cursors', async () => {
    const recent = await get('/v1/feeds/recent')
    expect(recent.status, recent.text).toBe(200)
    expect(ids(recent.json)).toEqual([carolPost.eventId, sea.eventId, dragon.eventId])
    const first = await get('/v1/feeds/recent?limit=2')
    expect(ids(first.json)).toEqual([carolPost.eventId, sea.eventId])
    const second = await get(`/v1/feeds/recent?limit=2&cursor=${first.json.next}`)
    expect(ids(second.json)).toEqual([dragon.eventId])
    expect(second.json.next).toBeNull()
    for (const bad of ['limit=0', 'limit=201', 'cursor=not-a-cursor', 'cursor=eyJ4IjoxfQ']) {
      const res = await get<{ error: { code: string } }>(`/v1/feeds/recent?${bad}`)
      expect({ bad, status: res.status, code: res.json.error.code }).toEqual({ bad, status: 400, code: 'BAD_REQUEST' })
    }
    // Bob is new: his post shows on his own feed but not in Recent until a moderator approves it.
    expect(ids((await get(`/v1/feeds/user/${bob.identityId}`)).json)).toEqual([bobPost.eventId])
    expect(ids((await get('/v1/search?q=sleeping')).json)).toEqual([])
    await act(url, mod, 'POST_APPROVED', { postId: bobPost.eventId }, 'moderation')
    expect(ids((await get('/v1/feeds/recent')).json)).toEqual([carolPost.eventId, bobPost.eventId, sea.eventId, dragon.eventId])
    expect(ids((await get('/v1/search?q=sleeping')).json)).toEqual([bobPost.eventId])
  })

  it('search: stemming ("dragons" finds "dragon"), typos ("dargon"), users by handle, hashtags', async () => {
    for (const q of ['dragons', 'dragon', 'dargon', 'breathing fires']) {
      const res = await get(`/v1/search?q=${encodeURIComponent(q)}`)
      expect(res.status, res.text).toBe(200)
      expect(ids(res.json), q).toContain(dragon.eventId)
      expect(ids(res.json), q).not.toContain(sea.eventId)
    }
    const users = await get<Page<{ identityId: string }>>(`/v1/search?type=users&q=alise_${db}`)
    expect(users.json.items.map((u) => u.identityId)).toContain(alice.identityId)
    const tags = await get<Page<{ hashtag: string; posts: number }>>('/v1/search?type=hashtags&q=drag')
    expect(tags.json.items[0]).toEqual({ hashtag: 'dragon', posts: 2 })
    expect((await get<{ error: { code: string } }>('/v1/search?q=')).status).toBe(400)
    expect((await get<{ error: { code: string } }>('/v1/search?q=x&type=things')).status).toBe(400)
  })

  it('a post with reaction counts per emoji, the viewer’s own reactions and its comment tree', async () => {
    await act(url, bob, 'REACTION_ADDED', { postId: dragon.eventId, emoji: '🔥' })
    await act(url, bob, 'REACTION_ADDED', { postId: dragon.eventId, emoji: '🐉' })
    await act(url, carol, 'REACTION_ADDED', { postId: dragon.eventId, emoji: '🔥' })
    const c0 = await act(url, bob, 'COMMENT_ADDED', { postId: dragon.eventId, body: 'wow' })
    const c1 = await act(url, alice, 'COMMENT_ADDED', { postId: dragon.eventId, body: 'thanks', parentId: c0.eventId })
    await act(url, carol, 'COMMENT_ADDED', { postId: dragon.eventId, body: 'same', parentId: c1.eventId })
    const res = await get<Record<string, unknown>>(`/v1/posts/${dragon.eventId}`, bob)
    expect(res.status, res.text).toBe(200)
    expect(res.json).toMatchObject({
      postId: dragon.eventId,
      title: 'A red dragon',
      hashtags: ['dragon', 'fire'],
      media: { hash: png.hash, mime: 'image/png', width: 64, height: 64, frames: 1 },
      reactionCount: 3,
      commentCount: 3,
      reactions: [
        { emoji: '🔥', count: 2 },
        { emoji: '🐉', count: 1 },
      ],
      myReactions: ['🐉', '🔥'].sort(),
    })
    const comments = res.json.comments as Array<{ body: string; replies: Array<{ body: string; replies: Array<{ body: string }> }> }>
    expect(comments).toHaveLength(1)
    expect(comments[0]!.body).toBe('wow')
    expect(comments[0]!.replies[0]!.body).toBe('thanks')
    expect(comments[0]!.replies[0]!.replies[0]!.body).toBe('same')
    expect((await get(`/v1/posts/${dragon.eventId}`)).json).toMatchObject({ myReactions: [] })
    expect((await get(`/v1/posts/01ARZ3NDEKTSV4RRFFQ69G5FAV`)).status).toBe(404)
  })

  it('profiles by id and by handle (case-insensitive) with follower and following counts; the following feed', async () => {
    await act(url, bob, 'FOLLOWED', { identityId: alice.identityId })
    await act(url, carol, 'FOLLOWED', { identityId: alice.identityId })
    await act(url, alice, 'FOLLOWED', { identityId: carol.identityId })
    const byId = await get<Record<string, unknown>>(`/v1/profiles/${alice.identityId}`)
    expect(byId.json).toMatchObject({ identityId: alice.identityId, handle: `Alice_${db}`, followers: 2, following: 1, trusted: true })
    const byHandle = await get<Record<string, unknown>>(`/v1/profiles/by-handle/ALICE_${db.toUpperCase()}`)
    expect(byHandle.json).toEqual(byId.json)
    expect((await get(`/v1/profiles/by-handle/nobody`)).status).toBe(404)
    const following = await get('/v1/feeds/following', bob)
    expect(ids(following.json)).toEqual([sea.eventId, dragon.eventId])
    expect((await get('/v1/feeds/following')).status).toBe(401)
    expect(ids((await get(`/v1/feeds/hashtag/DRAGON`)).json)).toEqual([bobPost.eventId, dragon.eventId])
  })

  it('notifications: reactions, comments, replies, follows, promotions and resolved reports reach their recipient', async () => {
    await act(url, mod, 'POST_PROMOTED', { postId: sea.eventId, category: 'frontpage' }, 'moderation')
    const report = await act(url, bob, 'REPORT_FILED', { target: { postId: carolPost.eventId }, reason: 'spam' })
    const queue = await get<Page<{ reportId: string; target: unknown }>>('/v1/moderation/reports', mod)
    expect(queue.json.items.map((r) => r.reportId)).toEqual([report.eventId])
    expect(queue.json.items[0]!.target).toEqual({ postId: carolPost.eventId })
    expect((await get('/v1/moderation/reports', bob)).status).toBe(403)
    expect((await get('/v1/moderation/reports')).status).toBe(401)
    await act(url, mod, 'REPORT_RESOLVED', { reportId: report.eventId, action: 'dismissed' }, 'moderation')
    expect((await get<Page>('/v1/moderation/reports', mod)).json.items).toEqual([])

    const mine = await get<Page<{ kind: string; actor: { identityId: string } }>>('/v1/notifications', alice)
    expect(mine.json.items.map((n) => `${n.kind}:${n.actor.identityId}`)).toEqual([
      `promoted:${mod.identityId}`,
      `follow:${carol.identityId}`,
      `follow:${bob.identityId}`,
      `reply:${carol.identityId}`,
      `comment:${bob.identityId}`,
      `reaction:${carol.identityId}`,
      `reaction:${bob.identityId}`,
      `reaction:${bob.identityId}`,
    ])
    const bobs = await get<Page<{ kind: string }>>('/v1/notifications', bob)
    expect(bobs.json.items.map((n) => n.kind)).toEqual(['report_resolved', 'reply'])
    const paged = await get<Page<{ kind: string }>>('/v1/notifications?limit=3', alice)
    const rest = await get<Page<{ kind: string }>>(`/v1/notifications?cursor=${paged.json.next}`, alice)
    expect([...paged.json.items, ...rest.json.items]).toEqual(mine.json.items)
    expect((await get('/v1/notifications')).status).toBe(401)
    expect(ids((await get('/v1/feeds/promoted?category=frontpage')).json)).toEqual([sea.eventId])
    expect(ids((await get('/v1/feeds/promoted?category=daily-best')).json)).toEqual([])
  })

  it('a block hides each party from the other: feeds, search, posts, comments, notifications', async () => {
    await act(url, carol, 'BLOCKED', { identityId: bob.identityId })
    for (const [viewer, hidden] of [
      [bob, carolPost],
      [carol, bobPost],
    ] as const) {
      expect(ids((await get('/v1/feeds/recent', viewer)).json)).not.toContain(hidden.eventId)
      expect(ids((await get(`/v1/feeds/user/${hidden.issuer.identityId}`, viewer)).json)).toEqual([])
      expect((await get(`/v1/posts/${hidden.eventId}`, viewer)).status).toBe(404)
    }
    const bobSearch = (await get('/v1/search?q=tiny cat', bob)).json
    expect(ids(bobSearch), JSON.stringify(bobSearch.items.map((p) => p.title))).toEqual([])
    expect(ids((await get('/v1/search?q=tiny cat')).json)).toEqual([carolPost.eventId])
    // On alice's post, carol's reply to alice is gone for bob, and bob's comment (with its replies) for carol.
    const forBob = await get<{ comments: Array<{ replies: Array<{ replies: unknown[] }> }> }>(`/v1/posts/${dragon.eventId}`, bob)
    expect(forBob.json.comments[0]!.replies[0]!.replies).toEqual([])
    const forCarol = await get<{ comments: unknown[] }>(`/v1/posts/${dragon.eventId}`, carol)
    expect(forCarol.json.comments).toEqual([])
    const users = await get<Page<{ identityId: string }>>(`/v1/search?type=users&q=carol_${db}`, bob)
    expect(users.json.items.map((u) => u.identityId)).not.toContain(carol.identityId)
    await act(url, carol, 'UNBLOCKED', { identityId: bob.identityId })
    expect((await get(`/v1/posts/${carolPost.eventId}`, bob)).status).toBe(200)
  })

  it('a takedown removes the post from every feed, search, the post route and notifications', async () => {
    await act(url, mod, 'POST_PROMOTED', { postId: dragon.eventId, category: 'editor-pick' }, 'moderation')
    expect(ids((await get('/v1/feeds/promoted')).json)).toContain(dragon.eventId)
    await act(url, mod, 'POST_TAKEN_DOWN', { postId: dragon.eventId, reason: 'copyright' }, 'moderation')
    const everywhere = [
      '/v1/feeds/recent',
      '/v1/feeds/promoted',
      '/v1/feeds/promoted?category=editor-pick',
      '/v1/feeds/hashtag/dragon',
      `/v1/feeds/user/${alice.identityId}`,
      '/v1/search?q=dragon',
      '/v1/search?q=dargon',
    ]
    for (const path of everywhere) expect(ids((await get(path, bob)).json), path).not.toContain(dragon.eventId)
    expect(ids((await get('/v1/feeds/following', bob)).json)).toEqual([sea.eventId])
    expect((await get(`/v1/posts/${dragon.eventId}`)).status).toBe(404)
    const notes = await get<Page<{ postId: string | null }>>('/v1/notifications', alice)
    expect(notes.json.items.some((n) => n.postId === dragon.eventId)).toBe(false)
    // The blob store: a taken-down post's own art is gone (410) by the time the takedown is answered; art
    // that posts still standing use (the dragon shares its image) stays.
    const status = async (hash: string) =>
      (await relay.deps.db.query<{ status: string }>('SELECT status FROM media_blobs WHERE hash = $1', [hash])).rows[0]?.status
    expect(await status(png.hash)).toBe('ok')
    const own = await holdMedia(relay.deps.db, `own ${db}`)
    const lone = await act(url, alice, 'POST_PUBLISHED', postPayload(own, 'Lone art'))
    expect((await fetch(`${url}/v1/media/${own.hash.replace(':', '/')}`)).status).not.toBe(410)
    await act(url, mod, 'POST_TAKEN_DOWN', { postId: lone.eventId, reason: 'spam' }, 'moderation')
    expect(await status(own.hash)).toBe('taken_down')
    expect((await fetch(`${url}/v1/media/${own.hash.replace(':', '/')}`)).status).toBe(410)
    // Hidden and unhidden: a hide is not forever.
    await act(url, mod, 'POST_HIDDEN', { postId: sea.eventId }, 'moderation')
    expect(ids((await get('/v1/feeds/recent')).json)).not.toContain(sea.eventId)
    await act(url, mod, 'POST_UNHIDDEN', { postId: sea.eventId }, 'moderation')
    expect(ids((await get('/v1/feeds/recent')).json)).toContain(sea.eventId)
    const hashtags = await get<Page<{ hashtag: string; posts: number }>>('/v1/search?type=hashtags&q=dragon')
    expect(hashtags.json.items[0]).toEqual({ hashtag: 'dragon', posts: 1 })
  })
})

describe('SOCIAL_REQUIRE_APPROVAL=false', () => {
  it('lets a new user’s post into Recent and search at once', async () => {
    const relay = await startTestRelay({
      db: 'pglite',
      store: 'fs',
      schema: uniqueSchema(PREFIX),
      env: { SOCIAL_REQUIRE_APPROVAL: 'false' },
    })
    try {
      const newcomer = socialActor('person', 'new')
      await join(relay.url, newcomer, 'newcomer')
      const png = await holdMedia(relay.deps.db, 'approval off')
      const post = await act(relay.url, newcomer, 'POST_PUBLISHED', postPayload(png, 'Green dragon'))
      const recent = await http<Page<PostJson>>(`${relay.url}/v1/feeds/recent`)
      expect(recent.json.items.map((p) => p.postId)).toEqual([post.eventId])
      const found = await http<Page<PostJson>>(`${relay.url}/v1/search?q=dragons`)
      expect(found.json.items.map((p) => p.postId)).toEqual([post.eventId])
    } finally {
      await relay.close()
      await removeDir(relay.options.dataDir)
    }
  })
})
