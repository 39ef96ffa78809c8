/**
 * Typed commands for the social domain (docs/receipts.md §8): one function per receipt type, each
 * checking its payload against the shared schema and handing it to `append` — the SyncClient's (build,
 * sign, chain to the local head, queue in the outbox) or anything with its shape. A person's acts go
 * to `profile/{identityId}`, a moderator's to `moderation/{identityId}`; the relay decides the rules
 * across streams (handle taken, reaction cap, blocks, …) when the outbox pushes them.
 */
import {
  CommentAddedPayload,
  CommentDeletedPayload,
  hashtagKey,
  IdentityTargetPayload,
  PixpaxError,
  PlaylistCreatedPayload,
  PlaylistUpdatedPayload,
  PostDeletedPayload,
  PostEditedPayload,
  PostModerationPayload,
  PostPromotedPayload,
  PostPublishedPayload,
  PostTakenDownPayload,
  ProfileUpdatedPayload,
  ReactionPayload,
  ReportFiledPayload,
  ReportResolvedPayload,
  UserBannedPayload,
  UserTrustedPayload,
  type LiveNotification,
  type Receipt,
  type StreamRef,
} from '@pixpax/shared'
import type { z } from 'zod'

/** What the commands need: `SyncClient.append` has this shape. */
export interface SocialAppender {
  append(stream: StreamRef, type: string, payload: Record<string, unknown>, options?: { idempotencyKey?: string }): Promise<Receipt>
}

export type ProfileInput = z.input<typeof ProfileUpdatedPayload>
export type PublishInput = z.input<typeof PostPublishedPayload>
export type PostChanges = Omit<z.input<typeof PostEditedPayload>, 'postId'>
export type PlaylistInput = z.input<typeof PlaylistCreatedPayload>
export type PlaylistChanges = Omit<z.input<typeof PlaylistUpdatedPayload>, 'playlistId'>
export type ReportInput = z.input<typeof ReportFiledPayload>
export type ReportReason = ReportInput['reason']
export type PromotionCategory = z.input<typeof PostPromotedPayload>['category']

/** Hashtags as feeds index them: without `#`, lower case, each once. */
export function normalizeHashtags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => hashtagKey(t.replace(/^#/, ''))))]
}

function checked<S extends z.ZodType<Record<string, unknown>>>(schema: S, type: string, payload: unknown): Record<string, unknown> {
  const result = schema.safeParse(payload)
  if (!result.success) {
    const issue = result.error.issues[0]!
    throw new PixpaxError('SCHEMA_INVALID', `payload of ${type}: ${issue.path.join('.')}: ${issue.message}`, {
      path: `payload.${issue.path.join('.')}`,
    })
  }
  return payload as Record<string, unknown>
}

const withTags = <T extends { hashtags?: string[] | undefined }>(input: T): T =>
  input.hashtags ? { ...input, hashtags: normalizeHashtags(input.hashtags) } : input

/**
 * A person's social commands. Each resolves with the receipt once it is durable locally; a post's id
 * (and a comment's, a report's) is that receipt's `eventId`.
 */
export function socialCommands(client: SocialAppender, identityId: string) {
  const stream: StreamRef = { type: 'profile', identityId }
  const put = <S extends z.ZodType<Record<string, unknown>>>(type: string, schema: S, payload: z.input<S>): Promise<Receipt> =>
    client.append(stream, type, checked(schema, type, payload))
  return {
    stream,
    /** States the whole profile (an optional field left out is cleared); the first one opens the stream. */
    updateProfile: (profile: ProfileInput) => put('PROFILE_UPDATED', ProfileUpdatedPayload, profile),
    /** Publishes a post naming an uploaded, validated media blob (PUT /v1/media first). */
    publish: (post: PublishInput) => put('POST_PUBLISHED', PostPublishedPayload, withTags(post)),
    editPost: (postId: string, changes: PostChanges) => put('POST_EDITED', PostEditedPayload, { postId, ...withTags(changes) }),
    deletePost: (postId: string) => put('POST_DELETED', PostDeletedPayload, { postId }),
    react: (postId: string, emoji: string) => put('REACTION_ADDED', ReactionPayload, { postId, emoji }),
    unreact: (postId: string, emoji: string) => put('REACTION_REMOVED', ReactionPayload, { postId, emoji }),
    comment: (postId: string, body: string, options: { parentId?: string } = {}) =>
      put('COMMENT_ADDED', CommentAddedPayload, { postId, body, ...(options.parentId ? { parentId: options.parentId } : {}) }),
    deleteComment: (commentId: string) => put('COMMENT_DELETED', CommentDeletedPayload, { commentId }),
    follow: (target: string) => put('FOLLOWED', IdentityTargetPayload, { identityId: target }),
    unfollow: (target: string) => put('UNFOLLOWED', IdentityTargetPayload, { identityId: target }),
    block: (target: string) => put('BLOCKED', IdentityTargetPayload, { identityId: target }),
    unblock: (target: string) => put('UNBLOCKED', IdentityTargetPayload, { identityId: target }),
    createPlaylist: (playlist: PlaylistInput) => put('PLAYLIST_CREATED', PlaylistCreatedPayload, playlist),
    updatePlaylist: (playlistId: string, changes: PlaylistChanges) =>
      put('PLAYLIST_UPDATED', PlaylistUpdatedPayload, { playlistId, ...changes }),
    report: (target: ReportInput['target'], reason: ReportReason, note?: string) =>
      put('REPORT_FILED', ReportFiledPayload, { target, reason, ...(note ? { note } : {}) }),
  }
}

/** A moderator's commands, in its own `moderation/{identityId}` stream (relay MODERATORS only). */
export function moderationCommands(client: SocialAppender, identityId: string) {
  const stream: StreamRef = { type: 'moderation', identityId }
  const put = <S extends z.ZodType<Record<string, unknown>>>(type: string, schema: S, payload: z.input<S>): Promise<Receipt> =>
    client.append(stream, type, checked(schema, type, payload))
  const note = (text?: string) => (text ? { note: text } : {})
  return {
    stream,
    hidePost: (postId: string, why?: string) => put('POST_HIDDEN', PostModerationPayload, { postId, ...note(why) }),
    unhidePost: (postId: string, why?: string) => put('POST_UNHIDDEN', PostModerationPayload, { postId, ...note(why) }),
    takeDown: (postId: string, reason: ReportReason, why?: string) =>
      put('POST_TAKEN_DOWN', PostTakenDownPayload, { postId, reason, ...note(why) }),
    approve: (postId: string) => put('POST_APPROVED', PostModerationPayload, { postId }),
    promote: (postId: string, category: PromotionCategory) => put('POST_PROMOTED', PostPromotedPayload, { postId, category }),
    trustUser: (target: string) => put('USER_TRUSTED', UserTrustedPayload, { identityId: target }),
    banUser: (target: string, reason: string, options: { until?: string } = {}) =>
      put('USER_BANNED', UserBannedPayload, { identityId: target, reason, ...(options.until ? { until: options.until } : {}) }),
    resolveReport: (reportId: string, action: string, why?: string) =>
      put('REPORT_RESOLVED', ReportResolvedPayload, { reportId, action, ...note(why) }),
  }
}

/** What live notifications need: `SyncClient` has this shape. */
export interface NotificationSource {
  watchNotifications(after?: number | null): void
  on(event: 'notification', handler: (n: LiveNotification) => void): () => void
}

/**
 * The session's notifications as the relay projects them (reaction, comment, reply, follow, promoted,
 * report_resolved), pushed over the sync WebSocket instead of polled: `handler` gets each one, those
 * after log position `after` first (null: only new ones). Returns the unsubscribe function.
 */
export function liveNotifications(
  client: NotificationSource,
  handler: (n: LiveNotification) => void,
  after: number | null = null,
): () => void {
  const off = client.on('notification', handler)
  client.watchNotifications(after)
  return off
}

export type SocialCommands = ReturnType<typeof socialCommands>
export type ModerationCommands = ReturnType<typeof moderationCommands>
