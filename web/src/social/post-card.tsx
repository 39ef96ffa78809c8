import { useEffect, useMemo } from 'preact/hooks'
import { Link } from '../app/router.js'
import type { Publication } from './publisher.js'
import type { PostJson } from './relay-api.js'

/** The largest whole-number scale of a `size`-pixel side that fits in `max` CSS pixels (crisp pixels). */
export function crispScale(size: number, max: number): number {
  return Math.max(1, Math.floor(max / size))
}

export function authorName(author: { identityId: string; handle: string | null; displayName?: string | null }): string {
  return author.displayName || (author.handle ? `@${author.handle}` : author.identityId)
}

/** Pixel art drawn at a whole-number scale with `image-rendering: pixelated`: every pixel stays square. */
export function PixelArt(props: { src: string; width: number; height: number; max: number; alt: string }) {
  const scale = crispScale(Math.max(props.width, props.height), props.max)
  return (
    <img class="pixel-art" src={props.src} alt={props.alt} width={props.width * scale} height={props.height * scale} decoding="async" />
  )
}

export function PostCard({ post }: { post: PostJson }) {
  return (
    <article class="post-card" aria-labelledby={`post-${post.postId}`}>
      <Link href={`/post/${post.postId}`} aria-label={`${post.title} by ${authorName(post.author)}`}>
        <PixelArt src={post.media.url} width={post.media.width} height={post.media.height} max={192} alt="" />
      </Link>
      <h3 id={`post-${post.postId}`}>
        <Link href={`/post/${post.postId}`}>{post.title}</Link>
      </h3>
      <p class="byline">
        by <Link href={`/u/${post.author.identityId}`}>{authorName(post.author)}</Link>
      </p>
      <p class="counts">
        <span>{post.reactionCount} reactions</span> · <span>{post.commentCount} comments</span>
      </p>
    </article>
  )
}

/** A publication still on this device (offline, or uploading): its own bytes, marked pending. */
export function PendingPublicationCard({ publication }: { publication: Publication }) {
  const url = useMemo(() => URL.createObjectURL(new Blob([publication.bytes as BlobPart], { type: publication.mime })), [publication])
  useEffect(() => () => URL.revokeObjectURL(url), [url])
  return (
    <article class="post-card pending" aria-labelledby={`pub-${publication.id}`} data-testid="pending-publication">
      <PixelArt src={url} width={publication.width} height={publication.height} max={192} alt="" />
      <h3 id={`pub-${publication.id}`}>{publication.title}</h3>
      {publication.error ? (
        <p class="error">Refused by the relay: {publication.error}</p>
      ) : (
        <p class="badge-pending">Pending — publishes when the relay is reachable</p>
      )}
    </article>
  )
}
