/**
 * The social domain's rules end to end over real sockets, on Postgres and PGlite: every cross-stream
 * rule refuses with its rule name (DOMAIN_RULE_VIOLATION, details.rule) and leaves everything stored
 * unchanged; a batch of dependent receipts decides like the same receipts one by one; a rebuild from
 * the object store gives the same projection digest; an offline replay of the whole log decides the same.
 */
import { randomBytes } from 'node:crypto'
import { ChainVerifier, PlaylistUpdatedPayload, ReportFiledPayload, ulid, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayTrustPolicy } from '../src/app.js'
import { projectionDigest } from '../src/replay/digest.js'
import { rebuild } from '../src/replay/rebuild.js'
import {
  adminQuery,
  dropSchemas,
  fetchStreamLines,
  pixbookStream,
  postReceipts,
  removeDir,
  startTestRelay,
  storedState,
  StreamWriter,
  uniqueSchema,
  type TestRelay,
} from './support/relay-harness.js'
import {
  act,
  attempt,
  build,
  holdMedia,
  join,
  postPayload,
  socialActor,
  verdict,
  type MediaRow,
  type SocialActor,
} from './support/social-fixtures.js'

const PREFIX = `pixpax_social_rules_${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  await adminQuery('SELECT 1')
})
afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each(['pg', 'pglite'] as const)('social rules on %s', (db) => {
  let relay: TestRelay
  let url: string
  const alice = socialActor('person', 'alice')
  const bob = socialActor('person', 'bob')
  const carol = socialActor('person', 'carol')
  const mod = socialActor('moderator')
  let png: MediaRow
  let alicePost: Receipt

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(PREFIX), env: { MODERATORS: mod.identityId } })
    url = relay.url
    await join(url, mod)
    await join(url, alice, 'Alice')
    await join(url, bob, 'bob')
    await join(url, carol, 'carol')
    png = await holdMedia(relay.deps.db, `png ${db}`)
    alicePost = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'A red dragon', { hashtags: ['Dragon', 'pixel'] }))
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  /** Posts one receipt, expects it refused with `expected`, and that nothing stored changed. */
  async function refused(
    who: SocialActor,
    type: string,
    payload: Record<string, unknown>,
    expected: string,
    stream: 'profile' | 'moderation' = 'profile',
  ): Promise<void> {
    await relay.app.relay.tails.settled() // the tail projections have the receipts accepted so far
    const before = await storedState(relay.deps)
    const [result] = await attempt(url, [[who, await build(who, type, payload, stream), stream]])
    expect(verdict(result!), JSON.stringify(result)).toBe(expected)
    expect(await storedState(relay.deps)).toEqual(before)
  }

  it('handle_taken: a handle is unique case-folded, also for a profile stream it would open', async () => {
    await refused(bob, 'PROFILE_UPDATED', { handle: 'ALICE' }, 'DOMAIN_RULE_VIOLATION:handle_taken')
    const dave = socialActor('person', 'dave')
    await join(url, dave)
    await refused(dave, 'PROFILE_UPDATED', { handle: 'alice' }, 'DOMAIN_RULE_VIOLATION:handle_taken')
    // Alice may restate her own handle in another case; once she moves to a new one, the old is free.
    await act(url, alice, 'PROFILE_UPDATED', { handle: 'ALICE', displayName: 'Alice' })
    await act(url, alice, 'PROFILE_UPDATED', { handle: 'alice_px', displayName: 'Alice' })
    await act(url, dave, 'PROFILE_UPDATED', { handle: 'Alice' })
    await refused(bob, 'PROFILE_UPDATED', { handle: 'alice_PX' }, 'DOMAIN_RULE_VIOLATION:handle_taken')
  })

  it('media_unknown and media_mismatch: a post names a validated blob with its measured fields', async () => {
    await refused(
      alice,
      'POST_PUBLISHED',
      postPayload({ ...png, hash: `sha256:${'0'.repeat(64)}` }, 'ghost'),
      'DOMAIN_RULE_VIOLATION:media_unknown',
    )
    const corrupt = await holdMedia(relay.deps.db, `corrupt ${db}`, { status: 'corrupt' })
    await refused(alice, 'POST_PUBLISHED', postPayload(corrupt, 'corrupt'), 'DOMAIN_RULE_VIOLATION:media_unknown')
    await refused(alice, 'POST_PUBLISHED', postPayload({ ...png, width: 32 }, 'wrong width'), 'DOMAIN_RULE_VIOLATION:media_mismatch')
    await refused(alice, 'POST_PUBLISHED', postPayload({ ...png, frames: 2 }, 'wrong frames'), 'DOMAIN_RULE_VIOLATION:media_mismatch')
    await refused(alice, 'POST_PUBLISHED', postPayload({ ...png, mime: 'image/gif' }, 'wrong mime'), 'DOMAIN_RULE_VIOLATION:media_mismatch')
  })

  it('POST_EDITED and POST_DELETED: own posts only, existing ones only', async () => {
    await refused(bob, 'POST_EDITED', { postId: alicePost.eventId, title: 'mine now' }, 'DOMAIN_RULE_VIOLATION:not_author')
    await refused(bob, 'POST_DELETED', { postId: alicePost.eventId }, 'DOMAIN_RULE_VIOLATION:not_author')
    await refused(bob, 'POST_EDITED', { postId: ulid(), title: 'x' }, 'DOMAIN_RULE_VIOLATION:post_unknown')
    await act(url, alice, 'POST_EDITED', { postId: alicePost.eventId, description: 'breathing fire' })
    const doomed = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'doomed'))
    await act(url, alice, 'POST_DELETED', { postId: doomed.eventId })
    await refused(alice, 'POST_EDITED', { postId: doomed.eventId, title: 'back' }, 'DOMAIN_RULE_VIOLATION:post_unknown')
    await refused(bob, 'REACTION_ADDED', { postId: doomed.eventId, emoji: '🔥' }, 'DOMAIN_RULE_VIOLATION:post_unknown')
  })

  it('reaction_cap: at most 5 distinct emoji per user per post; adding one twice is fine', async () => {
    for (const emoji of ['1', '2', '3', '4', '5']) await act(url, bob, 'REACTION_ADDED', { postId: alicePost.eventId, emoji })
    await act(url, bob, 'REACTION_ADDED', { postId: alicePost.eventId, emoji: '3' })
    await refused(bob, 'REACTION_ADDED', { postId: alicePost.eventId, emoji: '6' }, 'DOMAIN_RULE_VIOLATION:reaction_cap')
    await act(url, bob, 'REACTION_REMOVED', { postId: alicePost.eventId, emoji: '5' })
    await act(url, bob, 'REACTION_ADDED', { postId: alicePost.eventId, emoji: '6' })
    const rows = await relay.deps.db.query<{ emoji: string }>(
      'SELECT emoji FROM social_reactions WHERE post_id = $1 AND identity_id = $2 ORDER BY emoji',
      [alicePost.eventId, bob.identityId],
    )
    expect(rows.rows.map((r) => r.emoji)).toEqual(['1', '2', '3', '4', '6'])
  })

  it('comment_depth: replies nest 0–2 deep, on the same post', async () => {
    const c0 = await act(url, bob, 'COMMENT_ADDED', { postId: alicePost.eventId, body: 'nice' })
    const c1 = await act(url, carol, 'COMMENT_ADDED', { postId: alicePost.eventId, body: 'agreed', parentId: c0.eventId })
    const c2 = await act(url, bob, 'COMMENT_ADDED', { postId: alicePost.eventId, body: 'thanks', parentId: c1.eventId })
    await refused(
      carol,
      'COMMENT_ADDED',
      { postId: alicePost.eventId, body: 'too deep', parentId: c2.eventId },
      'DOMAIN_RULE_VIOLATION:comment_depth',
    )
    const other = await act(url, bob, 'POST_PUBLISHED', postPayload(png, 'bob post'))
    await refused(
      carol,
      'COMMENT_ADDED',
      { postId: other.eventId, body: 'wrong post', parentId: c0.eventId },
      'DOMAIN_RULE_VIOLATION:comment_unknown',
    )
    await refused(carol, 'COMMENT_DELETED', { commentId: c0.eventId }, 'DOMAIN_RULE_VIOLATION:not_author')
    await act(url, bob, 'COMMENT_DELETED', { commentId: c0.eventId })
    await refused(
      carol,
      'COMMENT_ADDED',
      { postId: alicePost.eventId, body: 'to a deleted one', parentId: c0.eventId },
      'DOMAIN_RULE_VIOLATION:comment_unknown',
    )
  })

  it('blocked: a block refuses reactions and comments either way, and lifts with UNBLOCKED', async () => {
    const bobPost = await act(url, bob, 'POST_PUBLISHED', postPayload(png, 'bob again'))
    await act(url, alice, 'BLOCKED', { identityId: carol.identityId })
    await refused(carol, 'REACTION_ADDED', { postId: alicePost.eventId, emoji: '👍' }, 'DOMAIN_RULE_VIOLATION:blocked')
    await refused(carol, 'COMMENT_ADDED', { postId: alicePost.eventId, body: 'hi' }, 'DOMAIN_RULE_VIOLATION:blocked')
    const carolPost = await act(url, carol, 'POST_PUBLISHED', postPayload(png, 'carol post'))
    await refused(alice, 'REACTION_ADDED', { postId: carolPost.eventId, emoji: '👍' }, 'DOMAIN_RULE_VIOLATION:blocked')
    await refused(alice, 'COMMENT_ADDED', { postId: carolPost.eventId, body: 'hi' }, 'DOMAIN_RULE_VIOLATION:blocked')
    // A reply to a comment of someone who blocks you is refused too, whoever wrote the post.
    const aliceComment = await act(url, alice, 'COMMENT_ADDED', { postId: bobPost.eventId, body: 'first' })
    await refused(
      carol,
      'COMMENT_ADDED',
      { postId: bobPost.eventId, body: 'reply', parentId: aliceComment.eventId },
      'DOMAIN_RULE_VIOLATION:blocked',
    )
    await act(url, carol, 'COMMENT_ADDED', { postId: bobPost.eventId, body: 'on bob' })
    await act(url, alice, 'UNBLOCKED', { identityId: carol.identityId })
    await act(url, carol, 'REACTION_ADDED', { postId: alicePost.eventId, emoji: '👍' })
  })

  it('playlists: created once, updated only when they exist, at most 1000 posts', async () => {
    await act(url, alice, 'PLAYLIST_CREATED', { playlistId: 'best', title: 'Best', postIds: [alicePost.eventId] })
    await refused(alice, 'PLAYLIST_CREATED', { playlistId: 'best', title: 'Again', postIds: [] }, 'DOMAIN_RULE_VIOLATION:playlist_exists')
    await refused(alice, 'PLAYLIST_UPDATED', { playlistId: 'nope', postIds: [] }, 'DOMAIN_RULE_VIOLATION:playlist_unknown')
    expect(PlaylistUpdatedPayload.safeParse({ playlistId: 'best', postIds: Array(1001).fill(alicePost.eventId) }).success).toBe(false)
    await act(url, alice, 'PLAYLIST_UPDATED', { playlistId: 'best', postIds: Array(1000).fill(alicePost.eventId) })
    // Every post it lists must exist and not be deleted (post_unknown), when created and when updated.
    const gone = await act(url, alice, 'POST_PUBLISHED', postPayload(png, 'soon gone'))
    await act(url, alice, 'POST_DELETED', { postId: gone.eventId })
    await refused(
      alice,
      'PLAYLIST_CREATED',
      { playlistId: 'ghosts', title: 'Ghosts', postIds: [alicePost.eventId, ulid()] },
      'DOMAIN_RULE_VIOLATION:post_unknown',
    )
    await refused(
      alice,
      'PLAYLIST_UPDATED',
      { playlistId: 'best', postIds: [alicePost.eventId, gone.eventId] },
      'DOMAIN_RULE_VIOLATION:post_unknown',
    )
    // Bob's playlist of the same id is his own; it may list other people's posts.
    await act(url, bob, 'PLAYLIST_CREATED', { playlistId: 'best', title: 'Bob best', postIds: [alicePost.eventId] })
  })

  it('reports name existing targets; moderators resolve existing reports in their own stream', async () => {
    await refused(bob, 'REPORT_FILED', { target: { postId: ulid() }, reason: 'spam' }, 'DOMAIN_RULE_VIOLATION:target_unknown')
    await refused(bob, 'REPORT_FILED', { target: { identityId: 'nobody-here' }, reason: 'spam' }, 'DOMAIN_RULE_VIOLATION:target_unknown')
    await refused(bob, 'REPORT_FILED', { target: { commentId: alicePost.eventId }, reason: 'spam' }, 'DOMAIN_RULE_VIOLATION:target_unknown')
    expect(ReportFiledPayload.safeParse({ target: { postId: alicePost.eventId }, reason: 'rude' }).success).toBe(false)
    const report = await act(url, bob, 'REPORT_FILED', { target: { postId: alicePost.eventId }, reason: 'copyright', note: 'mine' })
    await act(url, bob, 'REPORT_FILED', { target: { identityId: alice.identityId }, reason: 'other' })
    await refused(
      mod,
      'REPORT_RESOLVED',
      { reportId: alicePost.eventId, action: 'dismissed' },
      'DOMAIN_RULE_VIOLATION:report_unknown',
      'moderation',
    )
    await refused(mod, 'POST_HIDDEN', { postId: ulid() }, 'DOMAIN_RULE_VIOLATION:target_unknown', 'moderation')
    await act(url, mod, 'REPORT_RESOLVED', { reportId: report.eventId, action: 'dismissed' }, 'moderation')
  })

  it('moderation streams: moderator identities only, each in its own stream', async () => {
    await refused(alice, 'POST_HIDDEN', { postId: alicePost.eventId }, 'NOT_AUTHORIZED', 'moderation')
    const foreign: SocialActor = { ...mod, moderation: alice.moderation }
    await refused(foreign, 'POST_HIDDEN', { postId: alicePost.eventId }, 'NOT_AUTHORIZED', 'moderation')
  })

  it('banned: a banned identity’s new receipts are refused until `until`', async () => {
    const erin = socialActor('person', 'erin')
    await join(url, erin, `erin-${db}`)
    await act(url, mod, 'USER_BANNED', { identityId: erin.identityId, reason: 'spam' }, 'moderation')
    await refused(erin, 'POST_PUBLISHED', postPayload(png, 'spam'), 'DOMAIN_RULE_VIOLATION:banned')
    await refused(erin, 'FOLLOWED', { identityId: alice.identityId }, 'DOMAIN_RULE_VIOLATION:banned')
    await refused(erin, 'PROFILE_UPDATED', { handle: 'reformed' }, 'DOMAIN_RULE_VIOLATION:banned')
    // Every stream of a banned identity, not only its profile: a pixbook of its account too.
    const book = new StreamWriter(pixbookStream(erin.accountId, `book-${db}`))
    const inBook = async (expected: string): Promise<void> => {
      await relay.app.relay.tails.settled()
      const before = await storedState(relay.deps)
      const receipt = await book.build('PIXBOOK_CREATED', { title: 'Erin’s book' }, erin)
      const res = await postReceipts(url, [receipt])
      const result = res.json?.results?.[0]
      if (!result) throw new Error(`POST /v1/receipts ${res.status}: ${res.text.slice(0, 500)}`)
      expect(verdict(result), JSON.stringify(result)).toBe(expected)
      if (result.ok) book.advance(receipt, result.seq)
      else expect(await storedState(relay.deps)).toEqual(before)
    }
    await inBook('DOMAIN_RULE_VIOLATION:banned')
    // A ban with an end: receipts created from then on are accepted again.
    await act(url, mod, 'USER_BANNED', { identityId: erin.identityId, reason: 'spam', until: '2026-01-01T00:00:00.000Z' }, 'moderation')
    await act(url, erin, 'FOLLOWED', { identityId: alice.identityId })
    await inBook('accepted')
  })

  it('a batch of dependent receipts decides like the same receipts one by one', async () => {
    const p1 = await build(carol, 'POST_PUBLISHED', postPayload(png, 'batch post'))
    const emoji = ['a', 'b', 'c', 'd', 'e', 'f']
    const reactions: Receipt[] = []
    let prev = bob.profile.head
    for (const e of emoji) {
      const r = await bob.profile.build('REACTION_ADDED', { postId: p1.eventId, emoji: e }, bob, { prev })
      reactions.push(r)
      prev = { eventId: r.eventId, hash: r.hash }
    }
    const comment = await build(alice, 'COMMENT_ADDED', { postId: p1.eventId, body: 'in the same batch' })
    const results = await attempt(url, [[carol, p1], ...reactions.map((r): [SocialActor, Receipt] => [bob, r]), [alice, comment]])
    expect(results.map(verdict)).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'DOMAIN_RULE_VIOLATION:reaction_cap',
      'accepted',
    ])
    // The refused sixth did not move bob's head; his next receipt follows the fifth.
    expect(bob.profile.head!.eventId).toBe(reactions[4]!.eventId)
    const rows = await relay.deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM social_reactions WHERE post_id = $1', [
      p1.eventId,
    ])
    expect(rows.rows[0]!.n).toBe(5)
  })

  it('rebuild from the object store gives the same digest, and an offline replay decides the same', async () => {
    await relay.app.relay.tails.settled() // the tail projectors (search, notifications) have the whole log
    const before = await projectionDigest(relay.deps.db)
    expect(before.tables.social_posts!.rows).toBeGreaterThan(3)
    expect(before.tables.social_notifications!.rows).toBeGreaterThan(0)
    const policy = relayTrustPolicy(relay.config)
    await rebuild({ db: relay.deps.db, store: relay.deps.store, sha256: nodeSha256, verifier: nodeVerifier(), policy })
    expect(await projectionDigest(relay.deps.db)).toEqual(before)
    const alone = await rebuild(
      { db: relay.deps.db, store: relay.deps.store, sha256: nodeSha256, verifier: nodeVerifier(), policy },
      { projectors: ['social'], batchSize: 7 },
    )
    expect(alone.projectors).toEqual(['social'])
    expect(await projectionDigest(relay.deps.db)).toEqual(before)

    // The log in log order, verified offline with the cross-stream rules (media is relay state: skipped).
    const rows = await relay.deps.db.query<{ body: string }>('SELECT body FROM receipts ORDER BY position')
    const chain = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256, crossStream: true, moderators: policy.moderators! })
    for (const { body } of rows.rows) {
      const v = await chain.add(body)
      expect(v.ok, JSON.stringify(v)).toBe(true)
    }
    // And served as NDJSON per stream, a profile stream verifies on its own (public, no session).
    expect((await fetchStreamLines(url, `profile/${alice.identityId}`)).length).toBe(alice.profile.seq)
  })
})

describe('social caps on pg (1000 of each)', () => {
  let relay: TestRelay
  const zoe = socialActor('person', 'zoe')
  const yan = socialActor('person', 'yan')

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pg', store: 'fs', schema: uniqueSchema(PREFIX) })
    await join(relay.url, zoe, 'zoe')
    await join(relay.url, yan, 'yan')
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  /** `n` receipts of `who`'s profile chained in one request; all must be accepted. */
  async function many(who: SocialActor, n: number, make: (i: number) => [string, Record<string, unknown>]): Promise<Receipt[]> {
    const receipts: Receipt[] = []
    let prev = who.profile.head
    for (let i = 0; i < n; i++) {
      const [type, payload] = make(i)
      const r = await who.profile.build(type, payload, who, { prev })
      receipts.push(r)
      prev = { eventId: r.eventId, hash: r.hash }
    }
    const results = await attempt(
      relay.url,
      receipts.map((r): [SocialActor, Receipt] => [who, r]),
    )
    expect(results.filter((r) => !r.ok)).toEqual([])
    return receipts
  }

  async function refusedHere(who: SocialActor, type: string, payload: Record<string, unknown>, expected: string): Promise<void> {
    await relay.app.relay.tails.settled()
    const before = await storedState(relay.deps)
    const [result] = await attempt(relay.url, [[who, await build(who, type, payload)]])
    expect(verdict(result!)).toBe(expected)
    expect(await storedState(relay.deps)).toEqual(before)
  }

  it('follow_cap, block_cap and comment_cap refuse the 1001st; following or blocking again, or undoing one, is fine', async () => {
    await many(zoe, 1000, (i) => ['FOLLOWED', { identityId: `f-${i}` }])
    await refusedHere(zoe, 'FOLLOWED', { identityId: 'f-1000' }, 'DOMAIN_RULE_VIOLATION:follow_cap')
    await act(relay.url, zoe, 'FOLLOWED', { identityId: 'f-7' })
    await act(relay.url, zoe, 'UNFOLLOWED', { identityId: 'f-7' })
    await act(relay.url, zoe, 'FOLLOWED', { identityId: 'f-1000' })

    await many(zoe, 1000, (i) => ['BLOCKED', { identityId: `b-${i}` }])
    await refusedHere(zoe, 'BLOCKED', { identityId: 'b-1000' }, 'DOMAIN_RULE_VIOLATION:block_cap')
    await act(relay.url, zoe, 'BLOCKED', { identityId: 'b-3' })

    const media = await holdMedia(relay.deps.db, 'caps png')
    const post = await act(relay.url, yan, 'POST_PUBLISHED', postPayload(media, 'busy post'))
    const comments = await many(zoe, 1000, (i) => ['COMMENT_ADDED', { postId: post.eventId, body: `comment ${i}` }])
    await refusedHere(yan, 'COMMENT_ADDED', { postId: post.eventId, body: 'one more' }, 'DOMAIN_RULE_VIOLATION:comment_cap')
    // Deleted comments do not count: deleting one frees one place, and only one.
    await act(relay.url, zoe, 'COMMENT_DELETED', { commentId: comments[0]!.eventId })
    await act(relay.url, yan, 'COMMENT_ADDED', { postId: post.eventId, body: 'one more' })
    await refusedHere(yan, 'COMMENT_ADDED', { postId: post.eventId, body: 'and another' }, 'DOMAIN_RULE_VIOLATION:comment_cap')
    // A deletion and the comment it makes room for in one batch decide as one by one.
    const both = await attempt(relay.url, [
      [zoe, await build(zoe, 'COMMENT_DELETED', { commentId: comments[1]!.eventId })],
      [yan, await build(yan, 'COMMENT_ADDED', { postId: post.eventId, body: 'and another' })],
    ])
    expect(both.map(verdict)).toEqual(['accepted', 'accepted'])
    await refusedHere(yan, 'COMMENT_ADDED', { postId: post.eventId, body: 'full again' }, 'DOMAIN_RULE_VIOLATION:comment_cap')
  }, 120_000)
})
