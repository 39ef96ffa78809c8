/**
 * The social golden vectors in docs/vectors/ (docs/receipts.md §4 "profile" and "moderation"): a valid
 * whole log with every profile and moderation receipt type, and refused cases, each a receipt fed after
 * the whole log with the rule it breaks. Deterministic like golden-vectors.ts (fixed keys, times, ids;
 * RFC 6979 signatures), so the test regenerates them and compares byte for byte.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import {
  buildReceipt,
  bytesToHex,
  nobleSigner,
  privateJwkFromSecret,
  publicJwk,
  ulid,
  utf8Encode,
  type ChainHead,
  type PrivateJwk,
  type Receipt,
  type StreamRef,
} from '../../src/index.js'

const T0 = Date.parse('2026-03-01T09:00:00.000Z')
const keyFor = (name: string): PrivateJwk => privateJwkFromSecret(sha256(utf8Encode(`pixpax social golden key ${name}`)))
const fixedRandom = (seed: string) => (length: number) => sha256(utf8Encode(seed)).subarray(0, length)

export interface SocialRefusedCase {
  name: string
  /** Fed after every line of social-valid.ndjson. */
  line: string
  /** `DOMAIN_RULE_VIOLATION:<rule>` or another error code. */
  expected: string
}

export async function buildSocialVectors(): Promise<{ files: Record<string, string> }> {
  const people = ['alice', 'bob', 'carol', 'mod'] as const
  const keys = Object.fromEntries(people.map((p) => [p, keyFor(p)])) as Record<(typeof people)[number], PrivateJwk>
  const heads = new Map<string, ChainHead>()
  const lines: string[] = []
  let clock = 0

  async function make(
    by: (typeof people)[number],
    stream: StreamRef,
    type: string,
    payload: Record<string, unknown>,
    record = true,
  ): Promise<Receipt> {
    clock++
    const key = [stream.type, stream.identityId].join('/')
    const time = T0 + clock * 1000
    const receipt = await buildReceipt({
      stream,
      type,
      payload,
      identityId: by,
      signer: nobleSigner(keys[by]),
      prev: heads.get(key) ?? null,
      idempotencyKey: `social-golden-${clock}`,
      createdAt: new Date(time).toISOString(),
      eventId: ulid(time, fixedRandom(`social event ${clock}`)),
    })
    if (record) {
      heads.set(key, { eventId: receipt.eventId, hash: receipt.hash })
      lines.push(JSON.stringify(receipt))
    }
    return receipt
  }
  const profile = (who: string): StreamRef => ({ type: 'profile', identityId: who })
  const moderation: StreamRef = { type: 'moderation', identityId: 'mod' }

  for (const who of people) {
    await make(who, { type: 'identity', identityId: who }, 'IDENTITY_CREATED', {
      publicKey: publicJwk(keys[who]),
      accountId: `acc-${who}`,
      kind: who === 'mod' ? 'moderator' : 'person',
    })
  }
  await make('alice', profile('alice'), 'PROFILE_UPDATED', { handle: 'Alice', displayName: 'Alice', bio: 'pixel dragons' })
  await make('bob', profile('bob'), 'PROFILE_UPDATED', { handle: 'bob' })
  await make('carol', profile('carol'), 'PROFILE_UPDATED', { handle: 'carol' })
  const media = { hash: 'sha256:' + bytesToHex(sha256(utf8Encode('a 64x64 png'))), mime: 'image/png', width: 64, height: 64, frames: 1 }
  const post = await make('alice', profile('alice'), 'POST_PUBLISHED', {
    title: 'A red dragon',
    media,
    description: 'breathing fire',
    hashtags: ['dragon', 'fire'],
    license: 'CC-BY-4.0',
    remixable: true,
  })
  await make('alice', profile('alice'), 'POST_EDITED', { postId: post.eventId, title: 'A red dragon (v2)' })
  for (const emoji of ['🔥', '🐉', '❤️', '👍', '✨']) await make('bob', profile('bob'), 'REACTION_ADDED', { postId: post.eventId, emoji })
  await make('bob', profile('bob'), 'REACTION_REMOVED', { postId: post.eventId, emoji: '✨' })
  await make('bob', profile('bob'), 'REACTION_ADDED', { postId: post.eventId, emoji: '✨' })
  const c0 = await make('bob', profile('bob'), 'COMMENT_ADDED', { postId: post.eventId, body: 'wow' })
  const c1 = await make('alice', profile('alice'), 'COMMENT_ADDED', { postId: post.eventId, body: 'thanks', parentId: c0.eventId })
  const c2 = await make('bob', profile('bob'), 'COMMENT_ADDED', { postId: post.eventId, body: ':)', parentId: c1.eventId })
  const doomed = await make('bob', profile('bob'), 'COMMENT_ADDED', { postId: post.eventId, body: 'typo' })
  await make('bob', profile('bob'), 'COMMENT_DELETED', { commentId: doomed.eventId })
  await make('bob', profile('bob'), 'FOLLOWED', { identityId: 'alice' })
  await make('carol', profile('carol'), 'FOLLOWED', { identityId: 'alice' })
  await make('carol', profile('carol'), 'UNFOLLOWED', { identityId: 'alice' })
  await make('alice', profile('alice'), 'BLOCKED', { identityId: 'carol' })
  await make('alice', profile('alice'), 'PLAYLIST_CREATED', { playlistId: 'best', title: 'Best of', postIds: [post.eventId] })
  await make('alice', profile('alice'), 'PLAYLIST_UPDATED', { playlistId: 'best', postIds: [post.eventId, post.eventId] })
  const report = await make('bob', profile('bob'), 'REPORT_FILED', {
    target: { commentId: c2.eventId },
    reason: 'spam',
    note: 'oops, mine',
  })
  const carolPost = await make('carol', profile('carol'), 'POST_PUBLISHED', { title: 'Tiny cat', media })
  await make('carol', profile('carol'), 'POST_DELETED', { postId: carolPost.eventId })
  const carolPost2 = await make('carol', profile('carol'), 'POST_PUBLISHED', { title: 'Tiny dog', media, hashtags: ['dog'] })
  // A moderation stream opens with whichever act comes first.
  await make('mod', moderation, 'POST_PROMOTED', { postId: post.eventId, category: 'frontpage' })
  await make('mod', moderation, 'POST_APPROVED', { postId: post.eventId })
  await make('mod', moderation, 'USER_TRUSTED', { identityId: 'alice' })
  await make('mod', moderation, 'POST_HIDDEN', { postId: carolPost.eventId, note: 'deleted anyway' })
  await make('mod', moderation, 'POST_UNHIDDEN', { postId: carolPost.eventId })
  await make('mod', moderation, 'REPORT_RESOLVED', { reportId: report.eventId, action: 'dismissed' })
  await make('mod', moderation, 'POST_TAKEN_DOWN', { postId: carolPost.eventId, reason: 'other' })
  await make('mod', moderation, 'USER_BANNED', { identityId: 'carol', reason: 'spam', until: '2027-01-01T00:00:00.000Z' })
  await make('bob', profile('bob'), 'UNBLOCKED', { identityId: 'nobody' })
  await make('bob', profile('bob'), 'BLOCKED', { identityId: 'nobody' })

  const refused = async (name: string, expected: string, ...args: Parameters<typeof make>): Promise<SocialRefusedCase> => {
    const receipt = await make(args[0], args[1], args[2], args[3], false)
    return { name, line: JSON.stringify(receipt), expected }
  }
  const rule = (name: string) => `DOMAIN_RULE_VIOLATION:${name}`
  const cases: SocialRefusedCase[] = [
    await refused('handle taken (case-folded)', rule('handle_taken'), 'bob', profile('bob'), 'PROFILE_UPDATED', { handle: 'ALICE' }),
    await refused('edit of another’s post', rule('not_author'), 'bob', profile('bob'), 'POST_EDITED', { postId: post.eventId, title: 'x' }),
    await refused('delete of another’s post', rule('not_author'), 'bob', profile('bob'), 'POST_DELETED', { postId: post.eventId }),
    await refused('reaction to a deleted post', rule('post_unknown'), 'bob', profile('bob'), 'REACTION_ADDED', {
      postId: carolPost.eventId,
      emoji: '🔥',
    }),
    await refused('sixth distinct emoji', rule('reaction_cap'), 'bob', profile('bob'), 'REACTION_ADDED', {
      postId: post.eventId,
      emoji: '😀',
    }),
    await refused('reply three deep', rule('comment_depth'), 'alice', profile('alice'), 'COMMENT_ADDED', {
      postId: post.eventId,
      body: 'deep',
      parentId: c2.eventId,
    }),
    await refused('reply to a deleted comment', rule('comment_unknown'), 'alice', profile('alice'), 'COMMENT_ADDED', {
      postId: post.eventId,
      body: 'hm',
      parentId: doomed.eventId,
    }),
    await refused('a banned identity comments', rule('banned'), 'carol', profile('carol'), 'COMMENT_ADDED', {
      postId: post.eventId,
      body: 'hi',
    }),
    await refused('delete of another’s comment', rule('not_author'), 'alice', profile('alice'), 'COMMENT_DELETED', {
      commentId: c0.eventId,
    }),
    await refused('playlist created twice', rule('playlist_exists'), 'alice', profile('alice'), 'PLAYLIST_CREATED', {
      playlistId: 'best',
      title: 'Again',
      postIds: [],
    }),
    await refused('update of an unknown playlist', rule('playlist_unknown'), 'bob', profile('bob'), 'PLAYLIST_UPDATED', {
      playlistId: 'best',
      postIds: [],
    }),
    await refused('report of an unknown identity', rule('target_unknown'), 'bob', profile('bob'), 'REPORT_FILED', {
      target: { identityId: 'nobody' },
      reason: 'other',
    }),
    await refused('resolution of an unknown report', rule('report_unknown'), 'mod', moderation, 'REPORT_RESOLVED', {
      reportId: post.eventId,
      action: 'dismissed',
    }),
    await refused('moderation by a person', 'NOT_AUTHORIZED', 'alice', { type: 'moderation', identityId: 'alice' }, 'POST_HIDDEN', {
      postId: post.eventId,
    }),
    await refused('a profile stream opened by another type', 'STREAM_RULE_VIOLATION', 'mod', profile('mod'), 'FOLLOWED', {
      identityId: 'alice',
    }),
    // Alice blocks carol: alice may not react to carol's post either.
    await refused('reaction across a block', rule('blocked'), 'alice', profile('alice'), 'REACTION_ADDED', {
      postId: carolPost2.eventId,
      emoji: '👍',
    }),
    await refused('playlist listing a deleted post', rule('post_unknown'), 'alice', profile('alice'), 'PLAYLIST_UPDATED', {
      playlistId: 'best',
      postIds: [post.eventId, carolPost.eventId],
    }),
  ]
  return {
    files: {
      'social-valid.ndjson': lines.join('\n') + '\n',
      'social-refused.json': JSON.stringify(cases, null, 2) + '\n',
    },
  }
}
