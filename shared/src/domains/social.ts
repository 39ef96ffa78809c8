/**
 * The social domain (ARCHITECTURE §8, the Makapix seed): each person's social acts in their own
 * `profile/{identityId}` stream, moderators' acts in their own `moderation/{identityId}` stream. Rules
 * that span streams (a unique handle, a reaction cap, a block, a comment's parent, a ban) are cross-stream
 * rules over facts (docs/receipts.md §8): the relay loads them from its inline projection, an offline
 * verifier keeps them in memory while replaying the log in order, and both decide the same.
 */
import { z } from 'zod'
import { PixpaxError } from '../errors.js'
import { CreatedAtSchema, IdSchema, Sha256RefSchema, UlidSchema } from '../schemas.js'
import type { IssuerRole } from '../streams.js'
import type { CheckedReceipt } from '../receipt.js'
import {
  text,
  type CrossStreamRule,
  type DomainModule,
  type DomainReceiptType,
  type DomainStreamType,
  type FactChange,
  type FactRef,
  type FactView,
} from './domain.js'

// ------------------------------------------------------------------------------------------------
// Payloads

/** A handle: 1–32 of `[A-Za-z0-9_-]`; unique across the relay case-folded (`handleKey`). */
export const HandleSchema = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'a handle: 1–32 of a–z 0–9 _ -')
/** The key a handle is unique under: lower case. */
export const handleKey = (handle: string): string => handle.toLowerCase()

export const MEDIA_MIME_TYPES = ['image/png', 'image/gif', 'image/webp', 'image/bmp'] as const
export const MediaRefSchema = z.strictObject({
  hash: Sha256RefSchema,
  mime: z.enum(MEDIA_MIME_TYPES),
  width: z.number().int().min(1).max(65535),
  height: z.number().int().min(1).max(65535),
  frames: z.number().int().min(1).max(65535),
})
export type MediaRef = z.infer<typeof MediaRefSchema>

/** A hashtag as written (without `#`); projections fold it to lower case. */
export const HashtagSchema = z.string().regex(/^[\p{L}\p{N}_-]{1,64}$/u, 'a hashtag: 1–64 letters, digits, _ or -')
/** The hashtag as feeds and search index it. */
export const hashtagKey = (tag: string): string => tag.toLowerCase()

/** A Creative Commons licence id (SPDX spelling), e.g. `CC-BY-4.0`, `CC0-1.0`. */
export const LicenseSchema = z
  .string()
  .regex(/^(CC0-1\.0|CC-BY(-NC)?(-SA|-ND)?-(1\.0|2\.0|2\.5|3\.0|4\.0))$/i, 'a Creative Commons licence id, e.g. CC-BY-4.0')

/** The nine report (and takedown) reasons of Makapix. */
export const REPORT_REASONS = [
  'spam',
  'harassment',
  'hate',
  'sexual_explicit',
  'violence_gore',
  'illegal_csam',
  'self_harm',
  'copyright',
  'other',
] as const
export const ReportReasonSchema = z.enum(REPORT_REASONS)
export const PROMOTION_CATEGORIES = ['frontpage', 'editor-pick', 'weekly-pack', 'daily-best'] as const
export const PromotionCategorySchema = z.enum(PROMOTION_CATEGORIES)

const PostId = UlidSchema
const CommentId = UlidSchema

export const ProfileUpdatedPayload = z.strictObject({
  handle: HandleSchema,
  displayName: text(64).optional(),
  bio: text(1000).optional(),
  avatarHash: Sha256RefSchema.optional(),
  website: z
    .string()
    .max(200)
    .regex(/^https?:\/\/[^\s]+$/, 'an http(s) URL')
    .optional(),
})
const postFields = {
  title: text(128),
  description: text(5000).optional(),
  hashtags: z.array(HashtagSchema).max(64).optional(),
  license: LicenseSchema.optional(),
  remixOf: z.array(PostId).max(32).optional(),
  remixable: z.boolean().optional(),
}
export const PostPublishedPayload = z.strictObject({ ...postFields, media: MediaRefSchema })
export const PostEditedPayload = z.strictObject({
  postId: PostId,
  title: postFields.title.optional(),
  description: postFields.description,
  hashtags: postFields.hashtags,
  license: postFields.license,
  remixOf: postFields.remixOf,
  remixable: postFields.remixable,
})
export const PostDeletedPayload = z.strictObject({ postId: PostId })
export const ReactionPayload = z.strictObject({ postId: PostId, emoji: text(20) })
export const CommentAddedPayload = z.strictObject({ postId: PostId, body: text(2000), parentId: CommentId.optional() })
export const CommentDeletedPayload = z.strictObject({ commentId: CommentId })
export const IdentityTargetPayload = z.strictObject({ identityId: IdSchema })
export const MAX_PLAYLIST_POSTS = 1000
export const PlaylistCreatedPayload = z.strictObject({
  playlistId: IdSchema,
  title: text(128),
  postIds: z.array(PostId).max(MAX_PLAYLIST_POSTS),
  description: text(2000).optional(),
})
export const PlaylistUpdatedPayload = z.strictObject({
  playlistId: IdSchema,
  title: text(128).optional(),
  postIds: z.array(PostId).max(MAX_PLAYLIST_POSTS),
  description: text(2000).optional(),
})
export const ReportTargetSchema = z.union([
  z.strictObject({ postId: PostId }),
  z.strictObject({ commentId: CommentId }),
  z.strictObject({ identityId: IdSchema }),
])
export type ReportTarget = z.infer<typeof ReportTargetSchema>
export const ReportFiledPayload = z.strictObject({ target: ReportTargetSchema, reason: ReportReasonSchema, note: text(2000).optional() })

export const PostModerationPayload = z.strictObject({ postId: PostId, note: text(2000).optional() })
export const PostTakenDownPayload = z.strictObject({ postId: PostId, reason: ReportReasonSchema, note: text(2000).optional() })
export const PostPromotedPayload = z.strictObject({ postId: PostId, category: PromotionCategorySchema })
export const UserTrustedPayload = z.strictObject({ identityId: IdSchema })
export const UserBannedPayload = z.strictObject({ identityId: IdSchema, until: CreatedAtSchema.optional(), reason: text(2000) })
export const ReportResolvedPayload = z.strictObject({ reportId: UlidSchema, action: text(64), note: text(2000).optional() })

// ------------------------------------------------------------------------------------------------
// Facts (docs/receipts.md §8): kinds, keys and values, shared with the relay's loaders

/** Fact kinds of the social domain; keys are ids joined by ' '. */
export const SOCIAL_FACTS = {
  /** key identityId → ProfileFact (the profile stream's state the rules read). */
  profile: 'social.profile',
  /** key handleKey(handle) → the identityId holding it. */
  handle: 'social.handle',
  /** key postId → PostFact. */
  post: 'social.post',
  /** key commentId → CommentFact. */
  comment: 'social.comment',
  /** key `${identityId} ${postId}` → the distinct emoji that identity has on that post (sorted). */
  reactions: 'social.reactions',
  /** key `${follower} ${followee}` → true. */
  follow: 'social.follow',
  /** key `${blocker} ${blocked}` → true. */
  block: 'social.block',
  /** key `${owner} ${playlistId}` → true. */
  playlist: 'social.playlist',
  /** key reportId → ReportFact. */
  report: 'social.report',
  /** key identityId → BanFact. */
  ban: 'social.ban',
} as const
/** Validated media the relay holds (relay-sourced: not derivable from the log). key hash → MediaFact. */
export const MEDIA_FACT = 'media'

export interface ProfileFact {
  readonly handle: string
  /** Identities it follows now. */
  readonly following: number
  /** Identities it blocks now. */
  readonly blocking: number
}
export interface PostFact {
  readonly author: string
  readonly deleted: boolean
  /** Its comments not deleted (the cap counts these: deleting one frees a place). */
  readonly comments: number
}
export interface CommentFact {
  readonly postId: string
  readonly author: string
  /** 0 for a comment on the post, parent's depth + 1 for a reply. */
  readonly depth: number
  readonly deleted: boolean
}
export interface ReportFact {
  readonly reporter: string
}
export interface BanFact {
  /** createdAt bound: receipts created at or after it are allowed again; null = no end. */
  readonly until: string | null
}
export interface MediaFact {
  readonly mime: string
  readonly width: number
  readonly height: number
  readonly frames: number
}

export const SOCIAL_LIMITS = {
  reactionsPerUserPerPost: 5,
  maxCommentDepth: 2,
  commentsPerPost: 1000,
  follows: 1000,
  blocks: 1000,
  playlistPosts: MAX_PLAYLIST_POSTS,
} as const

// ------------------------------------------------------------------------------------------------
// Rules

const F = SOCIAL_FACTS
const ref = (kind: string, key: string): FactRef => ({ kind, key })
const set = (kind: string, key: string, value: unknown): FactChange => ({ kind, key, value })
const pair = (a: string, b: string): string => `${a} ${b}`

/** Refuses with DOMAIN_RULE_VIOLATION naming the rule (details.rule). */
function refuse(rule: string, message: string, details: Record<string, unknown> = {}): never {
  throw new PixpaxError('DOMAIN_RULE_VIOLATION', message, { rule, ...details })
}

const me = (c: CheckedReceipt): string => c.receipt.issuer.identityId
const pl = (c: CheckedReceipt): Record<string, unknown> => c.receipt.payload
const str = (c: CheckedReceipt, field: string): string => pl(c)[field] as string
const post = (facts: FactView, postId: string): PostFact | undefined => facts.fact(F.post, postId) as PostFact | undefined
const comment = (facts: FactView, id: string): CommentFact | undefined => facts.fact(F.comment, id) as CommentFact | undefined
const profile = (facts: FactView, id: string): ProfileFact | undefined => facts.fact(F.profile, id) as ProfileFact | undefined

function livePost(facts: FactView, postId: string): PostFact {
  const p = post(facts, postId)
  if (!p || p.deleted) refuse('post_unknown', `post ${postId} does not exist (or was deleted)`, { postId })
  return p
}
function liveComment(facts: FactView, commentId: string): CommentFact {
  const c = comment(facts, commentId)
  if (!c || c.deleted) refuse('comment_unknown', `comment ${commentId} does not exist (or was deleted)`, { commentId })
  return c
}

/** Whether `a` blocks `b` or `b` blocks `a`. */
const blockedEitherWay = (facts: FactView, a: string, b: string): boolean =>
  facts.fact(F.block, pair(a, b)) === true || facts.fact(F.block, pair(b, a)) === true
const blockRefs = (a: string, b: string): FactRef[] => [ref(F.block, pair(a, b)), ref(F.block, pair(b, a))]

/**
 * Whether a ban stands against a receipt: bans are decided at acceptance against the receipt's own
 * createdAt, the only time in the log (an offline replay must decide the same).
 */
export function banApplies(ban: BanFact | undefined, createdAt: string): boolean {
  return ban !== undefined && (ban.until === null || createdAt < ban.until)
}

/**
 * Every receipt of every domain (`everyReceipt`, ARCHITECTURE §7): its issuer must not be banned
 * (`banned`) — a ban refuses a banned identity's new receipts in any stream, not only its profile.
 */
const notBanned: Omit<CrossStreamRule, 'record'> = {
  reads: (c) => [ref(F.ban, me(c))],
  decide: (c, facts) => {
    if (banApplies(facts.fact(F.ban, me(c)) as BanFact | undefined, c.receipt.createdAt)) {
      refuse('banned', `identity ${me(c)} is banned`, { identityId: me(c) })
    }
  },
}

/** A rule for a receipt in a person's profile stream (the ban is checked for every receipt, `notBanned`). */
const profileRule = (rule: CrossStreamRule): CrossStreamRule => rule

function ownPost(c: CheckedReceipt, facts: FactView): PostFact {
  const p = livePost(facts, str(c, 'postId'))
  if (p.author !== me(c)) refuse('not_author', `post ${str(c, 'postId')} is not ${me(c)}'s`, { postId: str(c, 'postId') })
  return p
}

const profileUpdated = profileRule({
  reads: (c, facts) => {
    const refs = [ref(F.profile, me(c)), ref(F.handle, handleKey(str(c, 'handle')))]
    const old = profile(facts, me(c))
    if (old && old.handle !== handleKey(str(c, 'handle'))) refs.push(ref(F.handle, old.handle))
    return refs
  },
  decide: (c, facts) => {
    const key = handleKey(str(c, 'handle'))
    const holder = facts.fact(F.handle, key)
    if (holder !== undefined && holder !== me(c)) refuse('handle_taken', `handle ${key} is taken`, { handle: key })
  },
  record: (c, facts) => {
    const key = handleKey(str(c, 'handle'))
    const old = profile(facts, me(c))
    const changes = [
      set(F.handle, key, me(c)),
      set(F.profile, me(c), { handle: key, following: old?.following ?? 0, blocking: old?.blocking ?? 0 } satisfies ProfileFact),
    ]
    if (old && old.handle !== key) changes.push(set(F.handle, old.handle, undefined))
    return changes
  },
})

/** The media fields of a post that must equal what the relay measured (media_mismatch). */
const MEDIA_FIELDS = ['mime', 'width', 'height', 'frames'] as const

const postPublished = profileRule({
  reads: (c, facts) => {
    const refs = [ref(F.post, c.receipt.eventId)]
    if (facts.knows(MEDIA_FACT)) refs.push(ref(MEDIA_FACT, (pl(c).media as MediaRef).hash))
    return refs
  },
  decide: (c, facts) => {
    // An offline verifier holds no relay-sourced facts: the relay decided media when it accepted the post.
    if (!facts.knows(MEDIA_FACT)) return
    const media = pl(c).media as MediaRef
    const held = facts.fact(MEDIA_FACT, media.hash) as MediaFact | undefined
    if (!held) refuse('media_unknown', `media ${media.hash} is not a validated blob this relay holds`, { hash: media.hash })
    const differs = MEDIA_FIELDS.filter((field) => held[field] !== media[field])
    if (differs.length) {
      refuse('media_mismatch', `media ${media.hash}: ${differs.join(', ')} differ from what the relay measured`, {
        hash: media.hash,
        fields: differs,
        measured: Object.fromEntries(MEDIA_FIELDS.map((f) => [f, held[f]])),
      })
    }
  },
  record: (c) => [set(F.post, c.receipt.eventId, { author: me(c), deleted: false, comments: 0 } satisfies PostFact)],
})

const postEdited = profileRule({
  reads: (c) => [ref(F.post, str(c, 'postId'))],
  decide: (c, facts) => void ownPost(c, facts),
})

const postDeleted = profileRule({
  reads: (c) => [ref(F.post, str(c, 'postId'))],
  decide: (c, facts) => void ownPost(c, facts),
  record: (c, facts) => [set(F.post, str(c, 'postId'), { ...post(facts, str(c, 'postId'))!, deleted: true })],
})

const reactionKey = (c: CheckedReceipt): string => pair(me(c), str(c, 'postId'))
const emojiOf = (facts: FactView, key: string): readonly string[] => (facts.fact(F.reactions, key) as string[] | undefined) ?? []

/** Reads for an act on a post: the post, then (its author known) the blocks between the two. */
function onPostReads(c: CheckedReceipt, facts: FactView, extra: FactRef[] = []): FactRef[] {
  const refs = [ref(F.post, str(c, 'postId')), ...extra]
  const p = post(facts, str(c, 'postId'))
  if (p) refs.push(...blockRefs(me(c), p.author))
  return refs
}

function refuseBlocked(c: CheckedReceipt, facts: FactView, other: string): void {
  if (other !== me(c) && blockedEitherWay(facts, me(c), other)) {
    refuse('blocked', `${me(c)} and ${other} block each other (one of them blocks the other)`, { identityId: other })
  }
}

const reactionAdded = profileRule({
  reads: (c, facts) => onPostReads(c, facts, [ref(F.reactions, reactionKey(c))]),
  decide: (c, facts) => {
    const p = livePost(facts, str(c, 'postId'))
    refuseBlocked(c, facts, p.author)
    const emoji = emojiOf(facts, reactionKey(c))
    if (!emoji.includes(str(c, 'emoji')) && emoji.length >= SOCIAL_LIMITS.reactionsPerUserPerPost) {
      refuse('reaction_cap', `at most ${SOCIAL_LIMITS.reactionsPerUserPerPost} distinct emoji per user per post`, {
        postId: str(c, 'postId'),
        emoji,
      })
    }
  },
  record: (c, facts) => {
    const emoji = new Set(emojiOf(facts, reactionKey(c)))
    emoji.add(str(c, 'emoji'))
    return [set(F.reactions, reactionKey(c), [...emoji].sort())]
  },
})

const reactionRemoved = profileRule({
  reads: (c) => [ref(F.reactions, reactionKey(c))],
  record: (c, facts) => {
    const emoji = emojiOf(facts, reactionKey(c)).filter((e) => e !== str(c, 'emoji'))
    return [set(F.reactions, reactionKey(c), emoji.length ? emoji : undefined)]
  },
})

const commentAdded = profileRule({
  reads: (c, facts) => {
    const parentId = pl(c).parentId as string | undefined
    const refs = onPostReads(c, facts, [ref(F.comment, c.receipt.eventId)])
    if (parentId) {
      refs.push(ref(F.comment, parentId))
      const parent = comment(facts, parentId)
      if (parent) refs.push(...blockRefs(me(c), parent.author))
    }
    return refs
  },
  decide: (c, facts) => {
    const postId = str(c, 'postId')
    const p = livePost(facts, postId)
    refuseBlocked(c, facts, p.author)
    const parentId = pl(c).parentId as string | undefined
    if (parentId) {
      const parent = liveComment(facts, parentId)
      if (parent.postId !== postId) refuse('comment_unknown', `comment ${parentId} is not on post ${postId}`, { commentId: parentId })
      refuseBlocked(c, facts, parent.author)
      if (parent.depth + 1 > SOCIAL_LIMITS.maxCommentDepth) {
        refuse('comment_depth', `replies nest at most ${SOCIAL_LIMITS.maxCommentDepth} deep`, { parentId, depth: parent.depth + 1 })
      }
    }
    if (p.comments >= SOCIAL_LIMITS.commentsPerPost) {
      refuse('comment_cap', `post ${postId} has ${SOCIAL_LIMITS.commentsPerPost} comments, the most a post takes`, { postId })
    }
  },
  record: (c, facts) => {
    const postId = str(c, 'postId')
    const p = post(facts, postId)!
    const parentId = pl(c).parentId as string | undefined
    const depth = parentId ? comment(facts, parentId)!.depth + 1 : 0
    return [
      set(F.comment, c.receipt.eventId, { postId, author: me(c), depth, deleted: false } satisfies CommentFact),
      set(F.post, postId, { ...p, comments: p.comments + 1 }),
    ]
  },
})

const commentDeleted = profileRule({
  // The comment, then (its post known) the post, whose count of comments the deletion lowers.
  reads: (c, facts) => {
    const target = comment(facts, str(c, 'commentId'))
    return [ref(F.comment, str(c, 'commentId')), ...(target ? [ref(F.post, target.postId)] : [])]
  },
  decide: (c, facts) => {
    const target = liveComment(facts, str(c, 'commentId'))
    if (target.author !== me(c))
      refuse('not_author', `comment ${str(c, 'commentId')} is not ${me(c)}'s`, { commentId: str(c, 'commentId') })
  },
  record: (c, facts) => {
    const target = comment(facts, str(c, 'commentId'))!
    const p = post(facts, target.postId)!
    return [
      set(F.comment, str(c, 'commentId'), { ...target, deleted: true }),
      set(F.post, target.postId, { ...p, comments: p.comments - 1 }),
    ]
  },
})

/** FOLLOWED/UNFOLLOWED and BLOCKED/UNBLOCKED: a relation from the issuer, counted in its profile fact. */
function relation(kind: typeof F.follow | typeof F.block, on: boolean): CrossStreamRule {
  const counter = kind === F.follow ? 'following' : 'blocking'
  const cap = kind === F.follow ? SOCIAL_LIMITS.follows : SOCIAL_LIMITS.blocks
  const key = (c: CheckedReceipt): string => pair(me(c), str(c, 'identityId'))
  return profileRule({
    reads: (c) => [ref(F.profile, me(c)), ref(kind, key(c))],
    decide: (c, facts) => {
      if (!on || facts.fact(kind, key(c)) === true) return
      const mine = profile(facts, me(c))
      if ((mine?.[counter] ?? 0) >= cap) {
        refuse(
          kind === F.follow ? 'follow_cap' : 'block_cap',
          `${me(c)} already ${kind === F.follow ? 'follows' : 'blocks'} ${cap} identities`,
        )
      }
    },
    record: (c, facts) => {
      const was = facts.fact(kind, key(c)) === true
      const mine = profile(facts, me(c))
      if (was === on || !mine) return []
      return [set(kind, key(c), on ? true : undefined), set(F.profile, me(c), { ...mine, [counter]: mine[counter] + (on ? 1 : -1) })]
    },
  })
}

const playlistKey = (c: CheckedReceipt): string => pair(me(c), str(c, 'playlistId'))
const playlistPosts = (c: CheckedReceipt): string[] => [...new Set(pl(c).postIds as string[])]
/** Every post a playlist lists must exist and not be deleted (`post_unknown`, the first such post). */
function refuseUnknownPosts(c: CheckedReceipt, facts: FactView): void {
  for (const postId of playlistPosts(c)) livePost(facts, postId)
}
const playlistCreated = profileRule({
  reads: (c) => [ref(F.playlist, playlistKey(c)), ...playlistPosts(c).map((id) => ref(F.post, id))],
  decide: (c, facts) => {
    if (facts.fact(F.playlist, playlistKey(c)) === true) refuse('playlist_exists', `playlist ${str(c, 'playlistId')} already exists`)
    refuseUnknownPosts(c, facts)
  },
  record: (c) => [set(F.playlist, playlistKey(c), true)],
})
const playlistUpdated = profileRule({
  reads: (c) => [ref(F.playlist, playlistKey(c)), ...playlistPosts(c).map((id) => ref(F.post, id))],
  decide: (c, facts) => {
    if (facts.fact(F.playlist, playlistKey(c)) !== true) refuse('playlist_unknown', `playlist ${str(c, 'playlistId')} does not exist`)
    refuseUnknownPosts(c, facts)
  },
})

/** The fact a report or moderation target names. */
function targetRef(target: ReportTarget): FactRef {
  if ('postId' in target) return ref(F.post, target.postId)
  if ('commentId' in target) return ref(F.comment, target.commentId)
  return ref(F.profile, target.identityId)
}
function refuseUnknownTarget(facts: FactView, target: ReportTarget): void {
  const { kind, key } = targetRef(target)
  const value = facts.fact(kind, key) as { deleted?: boolean } | undefined
  if (value === undefined || value.deleted === true)
    refuse('target_unknown', `the reported ${kind.slice(7)} ${key} does not exist`, { target })
}

const reportFiled = profileRule({
  reads: (c) => [targetRef(pl(c).target as ReportTarget), ref(F.report, c.receipt.eventId)],
  decide: (_c, facts) => refuseUnknownTarget(facts, pl(_c).target as ReportTarget),
  record: (c) => [set(F.report, c.receipt.eventId, { reporter: me(c) } satisfies ReportFact)],
})

/** A moderation act on a post: the post must exist (deleted posts included: a takedown may follow a delete). */
const onPost: CrossStreamRule = {
  reads: (c) => [ref(F.post, str(c, 'postId'))],
  decide: (c, facts) => {
    if (post(facts, str(c, 'postId')) === undefined) refuse('target_unknown', `post ${str(c, 'postId')} does not exist`)
  },
}
const userBanned: CrossStreamRule = {
  reads: (c) => [ref(F.ban, str(c, 'identityId'))],
  record: (c) => [set(F.ban, str(c, 'identityId'), { until: (pl(c).until as string | undefined) ?? null } satisfies BanFact)],
}
const reportResolved: CrossStreamRule = {
  reads: (c) => [ref(F.report, str(c, 'reportId'))],
  decide: (c, facts) => {
    if (facts.fact(F.report, str(c, 'reportId')) === undefined) refuse('report_unknown', `report ${str(c, 'reportId')} does not exist`)
  },
}

// ------------------------------------------------------------------------------------------------
// Stream types

type SocialReceiptType = DomainReceiptType

const owner: readonly IssuerRole[] = ['owner']
const mine = (payload: SocialReceiptType['payload'], crossStream: CrossStreamRule): SocialReceiptType => ({
  payload,
  issuers: owner,
  crossStream,
})

const profileReceipts: Record<string, SocialReceiptType> = {
  PROFILE_UPDATED: mine(ProfileUpdatedPayload, profileUpdated),
  POST_PUBLISHED: mine(PostPublishedPayload, postPublished),
  POST_EDITED: mine(PostEditedPayload, postEdited),
  POST_DELETED: mine(PostDeletedPayload, postDeleted),
  REACTION_ADDED: mine(ReactionPayload, reactionAdded),
  REACTION_REMOVED: mine(ReactionPayload, reactionRemoved),
  COMMENT_ADDED: mine(CommentAddedPayload, commentAdded),
  COMMENT_DELETED: mine(CommentDeletedPayload, commentDeleted),
  FOLLOWED: mine(IdentityTargetPayload, relation(F.follow, true)),
  UNFOLLOWED: mine(IdentityTargetPayload, relation(F.follow, false)),
  BLOCKED: mine(IdentityTargetPayload, relation(F.block, true)),
  UNBLOCKED: mine(IdentityTargetPayload, relation(F.block, false)),
  PLAYLIST_CREATED: mine(PlaylistCreatedPayload, playlistCreated),
  PLAYLIST_UPDATED: mine(PlaylistUpdatedPayload, playlistUpdated),
  REPORT_FILED: mine(ReportFiledPayload, reportFiled),
}

const profile_: DomainStreamType = {
  type: 'profile',
  plural: 'profiles',
  idFields: ['identityId'],
  owner: { idField: 'identityId' },
  genesis: 'PROFILE_UPDATED',
  opening: 'first',
  receipts: profileReceipts,
}

/** Moderators write only their own moderation stream (the `moderator` role alone would allow any). */
function ownModerationStream(c: CheckedReceipt): void {
  if (c.receipt.stream.identityId !== me(c)) {
    throw new PixpaxError('NOT_AUTHORIZED', `${me(c)} may only write its own moderation stream (moderation/${me(c)})`)
  }
}
const moderator = (payload: SocialReceiptType['payload'], crossStream?: CrossStreamRule): SocialReceiptType => ({
  payload,
  issuers: ['moderator'],
  authorize: ownModerationStream,
  ...(crossStream ? { crossStream } : {}),
})

const moderation: DomainStreamType = {
  type: 'moderation',
  plural: 'moderation',
  idFields: ['identityId'],
  owner: { idField: 'identityId' },
  genesis: 'POST_HIDDEN',
  opening: 'any',
  receipts: {
    POST_HIDDEN: moderator(PostModerationPayload, onPost),
    POST_UNHIDDEN: moderator(PostModerationPayload, onPost),
    POST_TAKEN_DOWN: moderator(PostTakenDownPayload, onPost),
    POST_APPROVED: moderator(PostModerationPayload, onPost),
    POST_PROMOTED: moderator(PostPromotedPayload, onPost),
    USER_TRUSTED: moderator(UserTrustedPayload),
    USER_BANNED: moderator(UserBannedPayload, userBanned),
    REPORT_RESOLVED: moderator(ReportResolvedPayload, reportResolved),
  } satisfies Record<string, SocialReceiptType>,
}

/** Profiles (people's social acts) and moderation. */
export const socialDomain: DomainModule = {
  name: 'social',
  streamTypes: [profile_, moderation],
  factKinds: [...Object.values(SOCIAL_FACTS).map((name) => ({ name, source: 'log' as const })), { name: MEDIA_FACT, source: 'relay' }],
  everyReceipt: notBanned,
}
