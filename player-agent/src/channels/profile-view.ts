/**
 * A person's profile stream (social domain) folded into what a player reads from it: the posts it
 * published (media, hashtags, deleted or not) and its playlists. Input: receipts the sync engine has
 * verified (signature, key, chain) before they entered the local log — never the relay's read model.
 */
import { hashtagKey, type MediaRef, type Receipt } from '@pixpax/shared'

export interface VerifiedPost {
  /** The POST_PUBLISHED receipt's eventId. */
  readonly postId: string
  readonly author: string
  readonly media: MediaRef
  /** Lower case, as feeds index them; the latest POST_EDITED that names them wins. */
  hashtags: readonly string[]
  deleted: boolean
}

export interface ProfileView {
  /** In publication (stream) order. */
  readonly posts: Map<string, VerifiedPost>
  readonly playlists: Map<string, { title: string; postIds: readonly string[] }>
  /** The identities it follows now (FOLLOWED not undone by a later UNFOLLOWED), in first-followed order. */
  readonly follows: Set<string>
}

export function foldProfile(receipts: readonly Receipt[]): ProfileView {
  const view: ProfileView = { posts: new Map(), playlists: new Map(), follows: new Set() }
  for (const r of receipts) {
    const p = r.payload
    switch (r.type) {
      case 'POST_PUBLISHED':
        view.posts.set(r.eventId, {
          postId: r.eventId,
          author: r.issuer.identityId,
          media: p.media as MediaRef,
          hashtags: ((p.hashtags as string[] | undefined) ?? []).map(hashtagKey),
          deleted: false,
        })
        break
      case 'POST_EDITED': {
        const post = view.posts.get(p.postId as string)
        if (post && p.hashtags) post.hashtags = (p.hashtags as string[]).map(hashtagKey)
        break
      }
      case 'POST_DELETED': {
        const post = view.posts.get(p.postId as string)
        if (post) post.deleted = true
        break
      }
      case 'FOLLOWED':
        view.follows.add(p.identityId as string)
        break
      case 'UNFOLLOWED':
        view.follows.delete(p.identityId as string)
        break
      case 'PLAYLIST_CREATED':
      case 'PLAYLIST_UPDATED': {
        const old = view.playlists.get(p.playlistId as string)
        view.playlists.set(p.playlistId as string, {
          title: (p.title as string | undefined) ?? old?.title ?? '',
          postIds: p.postIds as string[],
        })
        break
      }
    }
  }
  return view
}

export const profileStreamKey = (identityId: string): string => `profile/${identityId}`
