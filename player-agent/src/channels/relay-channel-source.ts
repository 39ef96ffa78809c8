/**
 * A channel (channel.ts) played from relay data the owner controls, verified before it is played:
 *
 * - `playlist:<owner>/<id>`: the newest PLAYLIST_CREATED/UPDATED of that id in the owner's profile stream,
 *   its posts in playlist order;
 * - `user:<id>`: that identity's posts, newest first;
 * - `hashtag:<tag>`: the relay's hashtag feed (newest first, at most `maxItems`);
 * - `promoted[:<category>]`: the relay's promoted feed (most recently promoted first);
 * - `following:<id>`: the posts of the identities that identity follows — read from the FOLLOWED and
 *   UNFOLLOWED receipts of its own verified profile stream, never from the relay — newest first.
 *
 * A post a moderator took down (`takedowns`, the relay's list) is dropped from every channel at its next
 * load. The relay is believed for that removal only: it could refuse to serve the blob anyway, so a false
 * "taken down" costs nothing a relay could not already do, while nothing it says ever adds art.
 *
 * Every item comes from a POST_PUBLISHED the sync engine verified in its author's profile stream, so the
 * artwork hash is the one the author signed; the cache then checks the bytes against it (SHA-256). The
 * relay is asked only *where* to look — who wrote a post, which posts carry a hashtag — and a post it
 * names is played only if the author's verified stream has it (not deleted, with that hashtag). Streams
 * followed once stay followed, so the playlist updates live and plays offline from the local log.
 */
import { formatChannel, type SimpleChannel } from './channel.js'
import type { ChannelSource, PlaylistItem } from './channel-source.js'
import { foldProfile, profileStreamKey, type VerifiedPost } from './profile-view.js'
import type { VerifiedStreams } from './verified-streams.js'

/** The relay's hints, never trusted for content: each answer is checked against verified streams. */
export interface PostDirectory {
  /** The identity the relay says published `postId` (undefined: unknown to it). */
  authorOf(postId: string): Promise<string | undefined>
  /** The posts the relay lists under a hashtag, newest first. */
  hashtag(tag: string, limit: number): Promise<Array<{ postId: string; author: string }>>
  /** The posts the relay promotes (of one category, or all), most recently promoted first. */
  promoted(category: string | undefined, limit: number): Promise<Array<{ postId: string; author: string }>>
}

export interface RelayChannelOptions {
  /** Most items a channel plays (a hashtag feed is cut there). */
  maxItems?: number
  /** Seconds a still image is shown. */
  durationSeconds?: number
  warn?: (line: string) => void
  /** The post ids moderators took down (relay-told; see the module comment). */
  takedowns?: () => Promise<ReadonlySet<string>>
}

export class RelayChannelSource implements ChannelSource {
  readonly name: string
  private readonly maxItems: number
  /** Profile streams the last load read: a verified receipt in one of them is a change. */
  private watched = new Set<string>()
  private readonly listeners = new Set<() => void>()
  private unsubscribe: (() => void) | undefined

  constructor(
    readonly channel: SimpleChannel,
    private readonly streams: VerifiedStreams,
    private readonly directory: PostDirectory,
    private readonly options: RelayChannelOptions = {},
  ) {
    this.name = `relay:${formatChannel(channel)}`
    this.maxItems = options.maxItems ?? 500
  }

  async load(): Promise<PlaylistItem[]> {
    const watched = new Set<string>()
    const profile = async (identityId: string) => {
      const key = profileStreamKey(identityId)
      watched.add(key)
      // Watched from now on: receipts the engine delivers while this load runs are a change too.
      this.watched.add(key)
      this.streams.follow(key)
      return foldProfile(await this.streams.read(key))
    }
    let posts: VerifiedPost[]
    switch (this.channel.kind) {
      case 'user': {
        posts = [...(await profile(this.channel.identityId)).posts.values()].filter((p) => !p.deleted).reverse()
        break
      }
      case 'playlist': {
        const playlist = (await profile(this.channel.owner)).playlists.get(this.channel.playlistId)
        posts = playlist ? await this.resolve(playlist.postIds, profile) : []
        break
      }
      case 'hashtag': {
        const tag = this.channel.tag
        const listed = await this.directory.hashtag(tag, this.maxItems)
        posts = await this.verifiedListed(listed, profile, (post) => post.hashtags.includes(tag))
        break
      }
      case 'promoted': {
        // Which posts are promoted is the relay's word (moderators' receipts it applied); the art is not.
        const listed = await this.directory.promoted(this.channel.category, this.maxItems)
        posts = await this.verifiedListed(listed, profile, () => true)
        break
      }
      case 'following': {
        const found: VerifiedPost[] = []
        for (const followee of (await profile(this.channel.identityId)).follows)
          for (const post of (await profile(followee)).posts.values()) if (!post.deleted) found.push(post)
        // Post ids are ULIDs: their order is their publication time, across authors.
        posts = found.sort((a, b) => (a.postId < b.postId ? 1 : a.postId > b.postId ? -1 : 0))
        break
      }
    }
    this.watched = watched
    const takenDown = (await this.options.takedowns?.()) ?? new Set<string>()
    return posts
      .filter((p) => !takenDown.has(p.postId))
      .slice(0, this.maxItems)
      .map((p) => this.item(p))
  }

  /** The posts a relay list names that their author's verified stream has (not deleted, passing `keep`). */
  private async verifiedListed(
    listed: ReadonlyArray<{ postId: string; author: string }>,
    profile: (identityId: string) => Promise<{ posts: Map<string, VerifiedPost> }>,
    keep: (post: VerifiedPost) => boolean,
  ): Promise<VerifiedPost[]> {
    const found: VerifiedPost[] = []
    const seen = new Set<string>()
    for (const { postId, author } of listed) {
      const post = (await profile(author)).posts.get(postId)
      if (post && !post.deleted && keep(post) && !seen.has(postId)) {
        seen.add(postId)
        found.push(post)
      }
    }
    return found
  }

  /** Posts by id, in that order: from the verified profiles held locally, else where the relay points. */
  private async resolve(
    postIds: readonly string[],
    profile: (identityId: string) => Promise<{ posts: Map<string, VerifiedPost> }>,
  ): Promise<VerifiedPost[]> {
    const known = new Map<string, VerifiedPost>()
    for (const key of await this.streams.keys()) {
      if (!key.startsWith('profile/')) continue
      for (const post of (await profile(key.slice('profile/'.length))).posts.values()) known.set(post.postId, post)
    }
    const out: VerifiedPost[] = []
    for (const postId of postIds) {
      let post = known.get(postId)
      if (!post) {
        const author = await this.directory.authorOf(postId).catch((error: unknown) => {
          this.options.warn?.(`channel: where is post ${postId}: ${(error as Error).message}`)
          return undefined
        })
        if (author) {
          for (const p of (await profile(author)).posts.values()) known.set(p.postId, p)
          post = known.get(postId)
        }
      }
      if (post && !post.deleted) out.push(post)
    }
    return out
  }

  private item(post: VerifiedPost): PlaylistItem {
    return {
      artwork: post.media.hash,
      source: post.postId,
      postId: post.postId,
      width: post.media.width,
      height: post.media.height,
      animated: post.media.frames > 1,
      ...(this.options.durationSeconds ? { durationSeconds: this.options.durationSeconds } : {}),
    }
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    this.unsubscribe ??= this.streams.onReceipt((key) => {
      if (this.watched.has(key)) for (const l of [...this.listeners]) l()
    })
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) {
        this.unsubscribe?.()
        this.unsubscribe = undefined
      }
    }
  }
}
