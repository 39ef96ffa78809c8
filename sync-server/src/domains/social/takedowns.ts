/**
 * Takedowns reach the blob store (ARCHITECTURE §8, issue: "a takedown removes the post from … the blob
 * store"). The projector hides a taken-down post but may do no I/O, so after a moderation batch — and at
 * start-up, for a crash in between — the media of every taken-down post is taken down too: its row kept
 * as `taken_down` (GET answers 410, the bytes cannot be uploaded again), its bytes deleted. A blob that a
 * post still standing also uses is kept: one post's takedown must not break another's art.
 */
import type { Queryable } from '../../db/projection-db.js'
import { takeDownMedia } from '../../media/media-store.js'
import type { ObjectStore } from '../../stores/object-store.js'

/** Takes down the media of taken-down posts that is still served; returns how many blobs. */
export async function takeDownPostMedia(db: Queryable, store: ObjectStore): Promise<number> {
  const { rows } = await db.query<{ hash: string }>(
    `SELECT DISTINCT p.media_hash AS hash FROM social_posts p JOIN media_blobs m ON m.hash = p.media_hash
     WHERE p.taken_down AND m.status <> 'taken_down'
       AND NOT EXISTS (SELECT 1 FROM social_posts q WHERE q.media_hash = p.media_hash AND NOT q.taken_down AND NOT q.deleted)`,
  )
  for (const { hash } of rows) await takeDownMedia(db, store, hash)
  return rows.length
}
