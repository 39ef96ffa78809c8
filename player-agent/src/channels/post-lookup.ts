/**
 * One post by id, verified: from a profile stream the sync engine verified — held locally already, or
 * followed now where the relay says the post is and waited for until the engine delivers it. The relay
 * is asked only where to look; a post its author's verified stream does not have (or deleted) is not found.
 * For the remote `show` of an artwork outside the current channel.
 */
import { foldProfile, profileStreamKey, type VerifiedPost } from './profile-view.js'
import type { PostDirectory } from './relay-channel-source.js'
import type { VerifiedStreams } from './verified-streams.js'

export async function findVerifiedPost(
  streams: VerifiedStreams,
  directory: Pick<PostDirectory, 'authorOf'>,
  postId: string,
  timeoutMs: number,
): Promise<VerifiedPost | undefined> {
  const inStream = async (key: string) => {
    const post = foldProfile(await streams.read(key)).posts.get(postId)
    return post && !post.deleted ? post : undefined
  }
  for (const key of await streams.keys()) {
    if (!key.startsWith('profile/')) continue
    const post = await inStream(key)
    if (post) return post
  }
  const author = await directory.authorOf(postId)
  if (!author) return undefined
  const key = profileStreamKey(author)
  // Listen before following, so a delivery between the two is not missed.
  let wake: () => void = () => undefined
  const off = streams.onReceipt((k) => k === key && wake())
  try {
    streams.follow(key)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const arrived = new Promise<void>((resolve) => (wake = resolve))
      const post = await inStream(key)
      if (post) return post
      const left = deadline - Date.now()
      if (left <= 0) return undefined
      let timer: NodeJS.Timeout | undefined
      await Promise.race([arrived, new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))])
      clearTimeout(timer)
    }
  } finally {
    off()
  }
}
