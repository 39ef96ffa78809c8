/**
 * Search ranking and paging over real sockets, on Postgres and PGlite, with a search window of 2
 * (SEARCH_WINDOW) so a handful of posts spans several windows: posts rank by weight (title above
 * hashtag above description) within each window of the newest matches, windows newest first, every
 * match exactly once across pages of any size, and a page's cursor is not shifted by a newer post.
 * Users: handles starting with the query first (the exact one first), then the nearest by trigram
 * similarity of handle or display name, paged across the two without a repeat.
 */
import { randomBytes } from 'node:crypto'
import type { Receipt } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminQuery, dropSchemas, http, removeDir, startTestRelay, uniqueSchema, type TestRelay } from './support/relay-harness.js'
import { act, holdMedia, join, postPayload, socialActor, type MediaRow } from './support/social-fixtures.js'

const PREFIX = `pixpax_social_s_${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  await adminQuery('SELECT 1')
})
afterAll(async () => {
  await dropSchemas(PREFIX)
})

interface Page<T> {
  items: T[]
  next: string | null
}

describe.each(['pg', 'pglite'] as const)('search ranking and paging on %s', (db) => {
  let relay: TestRelay
  let url: string
  const alice = socialActor('person', 'alice')
  const mod = socialActor('moderator')
  let png: MediaRow
  const posts: Record<string, Receipt> = {}

  /** Every page of `path` with `limit`, following `next`. */
  async function pages<T>(path: string, limit: number): Promise<T[][]> {
    const out: T[][] = []
    let cursor: string | null = null
    do {
      const sep = path.includes('?') ? '&' : '?'
      const res: { status: number; json: Page<T>; text: string } = await http<Page<T>>(
        `${url}${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
      )
      expect(res.status, res.text).toBe(200)
      out.push(res.json.items)
      cursor = res.json.next
      expect(out.length).toBeLessThan(20)
    } while (cursor)
    return out
  }
  const name = (id: string): string => Object.entries(posts).find(([, r]) => r.eventId === id)?.[0] ?? id
  const postNames = (page: Array<{ postId: string }>): string[] => page.map((p) => name(p.postId))

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(PREFIX), env: { MODERATORS: mod.identityId, SEARCH_WINDOW: '2' } })
    url = relay.url
    await join(url, mod)
    await join(url, alice, `alice_${db}`)
    await act(url, mod, 'USER_TRUSTED', { identityId: alice.identityId }, 'moderation')
    png = await holdMedia(relay.deps.db, `png search ${db}`)
    // Log order p1 … p5, newest last; windows of 2, newest first: [p5 p4] [p3 p2] [p1].
    const publish = async (key: string, title: string, extra: Record<string, unknown> = {}): Promise<void> => {
      posts[key] = await act(url, alice, 'POST_PUBLISHED', postPayload(png, title, extra))
    }
    await publish('p1', 'Old dragon')
    await publish('p2', 'Dragon nest')
    await publish('p3', 'Blue sea', { description: 'a dragon far away' })
    await publish('sea', 'Only the sea')
    await publish('p4', 'Dark cave', { hashtags: ['Dragon'] })
    await publish('p5', 'Wet cave', { description: 'dragons sleep inside' })
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  it('posts: ranked by weight within each window of the newest matches, every match once at any page size', async () => {
    // [p5 p4]: the hashtag (p4) above the description (p5); [p3 p2]: the older title match first.
    const expected = ['p4', 'p5', 'p2', 'p3', 'p1']
    expect((await pages<{ postId: string }>('/v1/search?q=dragon', 50)).map(postNames)).toEqual([expected])
    for (const limit of [1, 2, 3, 4]) {
      const got = await pages<{ postId: string }>('/v1/search?q=dragons', limit)
      expect(
        got.flat().map((p) => name(p.postId)),
        `limit ${limit}`,
      ).toEqual(expected)
      // Pages are full until the last (a page that ends a window goes on in the next one).
      expect(
        got.slice(0, -1).every((p) => p.length === limit),
        `limit ${limit}`,
      ).toBe(true)
    }
    // The typo path pages the same way, and says so in its cursor.
    expect((await pages<{ postId: string }>('/v1/search?q=dargon', 3)).flat().map((p) => name(p.postId))).toEqual(expected)
  })

  it('posts: a next page stays where it was when a newer match is published', async () => {
    const first = await http<Page<{ postId: string }>>(`${url}/v1/search?q=dragon&limit=3`)
    expect(postNames(first.json.items)).toEqual(['p4', 'p5', 'p2'])
    posts.p6 = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'Dragon again'))
    const second = await http<Page<{ postId: string }>>(`${url}/v1/search?q=dragon&limit=3&cursor=${first.json.next}`)
    expect(postNames(second.json.items)).toEqual(['p3', 'p1'])
    expect(second.json.next).toBeNull()
    // A fresh search starts at the new post: windows [p6 p5] [p4 p3] [p2 p1].
    const fresh = await pages<{ postId: string }>('/v1/search?q=dragon', 50)
    expect(fresh.map(postNames)).toEqual([['p6', 'p5', 'p4', 'p3', 'p2', 'p1']])
    expect(fresh.flat().map((p) => name(p.postId))).not.toContain('sea')
  })

  it('hashtag feed: newest first from the tag index, paged, following edits of a post’s tags', async () => {
    const tagged = async (tag: string, limit: number): Promise<string[]> =>
      (await pages<{ postId: string }>(`/v1/feeds/hashtag/${tag}`, limit)).flat().map((p) => name(p.postId))
    expect(await tagged('DRAGON', 50)).toEqual(['p4'])
    posts.t1 = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'Tagged one', { hashtags: ['Lava', 'rock', 'lava'] }))
    posts.t2 = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'Tagged two', { hashtags: ['lava'] }))
    posts.t3 = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'Tagged three', { hashtags: ['rock'] }))
    for (const limit of [1, 2, 50]) expect(await tagged('lava', limit), `limit ${limit}`).toEqual(['t2', 't1'])
    expect(await tagged('rock', 1)).toEqual(['t3', 't1'])
    // An edit that replaces the tags moves the post between feeds; one that leaves them keeps it.
    await act(url, alice, 'POST_EDITED', { postId: posts.t1.eventId, hashtags: ['rock'] })
    await act(url, alice, 'POST_EDITED', { postId: posts.t3.eventId, title: 'Still rock' })
    expect(await tagged('lava', 50)).toEqual(['t2'])
    expect(await tagged('rock', 50)).toEqual(['t3', 't1'])
    await act(url, alice, 'POST_DELETED', { postId: posts.t3.eventId })
    expect(await tagged('rock', 50)).toEqual(['t1'])
  })

  it('users: handles starting with the query first (exact first), then the nearest, paged without repeats', async () => {
    const people = {
      zed: socialActor('person', 'zed'),
      zedTwo: socialActor('person', 'zed-two'),
      zedd: socialActor('person', 'zedd'),
      fan: socialActor('person', 'fan'),
      ze: socialActor('person', 'ze'),
      other: socialActor('person', 'other'),
    }
    const suffix = db === 'pg' ? 'p' : 'l'
    await join(url, people.zed, `zed${suffix}`)
    await join(url, people.zedTwo, `zed${suffix}_two`)
    await join(url, people.zedd, `zed${suffix}d`)
    await join(url, people.fan, `fan_${suffix}`)
    await act(url, people.fan, 'PROFILE_UPDATED', { handle: `fan_${suffix}`, displayName: `Zed${suffix} Fan` })
    await join(url, people.ze, `ze${suffix}`)
    await join(url, people.other, `mallory_${suffix}`)
    const expected = [`zed${suffix}`, `zed${suffix}_two`, `zed${suffix}d`, `fan_${suffix}`, `ze${suffix}`]
    for (const limit of [1, 2, 3, 50]) {
      const got = await pages<{ handle: string }>(`/v1/search?type=users&q=ZED${suffix}`, limit)
      expect(
        got.flat().map((u) => u.handle),
        `limit ${limit}`,
      ).toEqual(expected)
    }
    // A query no handle starts with goes straight to the nearest (a typo of a handle).
    const typo = await pages<{ handle: string }>(`/v1/search?type=users&q=malory_${suffix}`, 50)
    expect(typo.flat()[0]?.handle).toBe(`mallory_${suffix}`)
  })
})
