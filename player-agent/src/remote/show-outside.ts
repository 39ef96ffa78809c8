/**
 * The remote `show` of a post outside the current channel: the post found in its author's verified
 * profile stream (channels/post-lookup.ts), refused when taken down or too big for the display, its blob
 * downloaded and verified against the hash the author signed, then shown once.
 */
import { filterForDisplay, type PlaylistItem } from '../channels/channel-source.js'
import { findVerifiedPost } from '../channels/post-lookup.js'
import type { PostDirectory } from '../channels/relay-channel-source.js'
import type { VerifiedStreams } from '../channels/verified-streams.js'
import type { CommandOutcome } from './remote-control.js'

/** How long it waits for the author's stream to arrive verified. */
const LOOKUP_MS = 15_000

export interface ShowOutsideDeps {
  streams: VerifiedStreams
  directory: Pick<PostDirectory, 'authorOf'>
  takedowns: () => Promise<ReadonlySet<string>>
  capabilities: () => { maxWidth: number; maxHeight: number; animation: boolean }
  /** Whether the verified bytes are in the cache. */
  cached: (artwork: string) => boolean
  /** Downloads and verifies a blob into the cache; false when it could not. */
  fetch: (artwork: string) => Promise<boolean>
  show: (item: PlaylistItem) => boolean
  durationSeconds: number
  warn: (line: string) => void
}

export async function showOutside(postId: string, deps: ShowOutsideDeps): Promise<CommandOutcome> {
  const post = await findVerifiedPost(deps.streams, deps.directory, postId, LOOKUP_MS).catch((error: unknown) => {
    deps.warn(`show ${postId}: ${(error as Error).message}`)
    return undefined
  })
  if (!post) return { result: 'refused', message: `show: post ${postId} not found in its author's verified stream` }
  if ((await deps.takedowns()).has(postId)) return { result: 'refused', message: `show: post ${postId} was taken down` }
  const item: PlaylistItem = {
    artwork: post.media.hash,
    source: post.postId,
    width: post.media.width,
    height: post.media.height,
    animated: post.media.frames > 1,
    durationSeconds: deps.durationSeconds,
  }
  if (filterForDisplay([item], deps.capabilities()).length === 0)
    return { result: 'refused', message: 'show: this display cannot show that artwork' }
  if (!deps.cached(item.artwork) && !(await deps.fetch(item.artwork)))
    return { result: 'refused', message: `show: ${item.artwork} could not be downloaded and verified` }
  return deps.show(item) ? { result: 'done' } : { result: 'refused', message: 'show: not playable' }
}
