/**
 * GET /v1/moderation/takedowns: every post a moderator took down, in the posts' log order, paged by an
 * opaque cursor, public (players read it to drop those posts from their channels); a bad cursor or limit
 * is the error envelope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { http, removeDir, startTestRelay, type TestRelay } from './support/relay-harness.js'
import { act, holdMedia, join, postPayload, socialActor } from './support/social-fixtures.js'

type Page = { items: Array<{ postId: string }>; next: string | null }

describe('the takedown list', () => {
  let relay: TestRelay
  const mod = socialActor('moderator')
  const alice = socialActor()
  const taken: string[] = []
  let kept: string

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pglite', store: 'fs', env: { MODERATORS: mod.identityId } })
    await join(relay.url, mod)
    await join(relay.url, alice, 'alice_takedowns')
    const png = await holdMedia(relay.deps.db, 'takedown list')
    const posts = []
    for (const title of ['one', 'two', 'three']) posts.push(await act(relay.url, alice, 'POST_PUBLISHED', postPayload(png, title)))
    kept = posts[1]!.eventId
    // Taken down out of order: the list follows the posts' log order, not the takedowns'.
    for (const post of [posts[2]!, posts[0]!])
      await act(relay.url, mod, 'POST_TAKEN_DOWN', { postId: post.eventId, reason: 'spam' }, 'moderation')
    taken.push(posts[0]!.eventId, posts[2]!.eventId)
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  it('lists the taken-down posts in log order, paged, without a session', async () => {
    const all = await http<Page>(`${relay.url}/v1/moderation/takedowns`)
    expect(all.status, all.text).toBe(200)
    expect(all.json).toEqual({ items: taken.map((postId) => ({ postId })), next: null })
    const first = await http<Page>(`${relay.url}/v1/moderation/takedowns?limit=1`)
    expect(first.json.items).toEqual([{ postId: taken[0] }])
    const second = await http<Page>(`${relay.url}/v1/moderation/takedowns?limit=1&cursor=${first.json.next}`)
    expect(second.json.items).toEqual([{ postId: taken[1] }])
    const third = await http<Page>(`${relay.url}/v1/moderation/takedowns?limit=1&cursor=${second.json.next}`)
    expect(third.json).toEqual({ items: [], next: null })
    expect(all.json.items.map((i) => i.postId)).not.toContain(kept)
    for (const bad of ['limit=0', 'limit=201', 'cursor=not-a-cursor']) {
      const res = await http<{ error: { code: string } }>(`${relay.url}/v1/moderation/takedowns?${bad}`)
      expect({ bad, status: res.status, code: res.json.error.code }).toEqual({ bad, status: 400, code: 'BAD_REQUEST' })
    }
  })
})
