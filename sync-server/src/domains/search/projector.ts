/**
 * The search projector (tail, ARCHITECTURE §7): each post's searchable text (title, description,
 * hashtags) with its English tsvector, plus every word and hashtag ever indexed for the typo and
 * hashtag lookups. A batch is folded per post in memory (a post published and edited in one batch is
 * one row), then written with one upsert per table. It reads only its own rows.
 */
import { hashtagKey } from '@pixpax/shared'
import type { Queryable } from '../../db/projection-db.js'
import { unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'

type Payload = Record<string, unknown>

interface SearchRow {
  postId: string
  title: string
  description: string | null
  hashtags: string[]
  position: number
}

/** The text a post is searched by: what concat_ws(' ', title, description, tags) gives. */
export function searchText(row: Pick<SearchRow, 'title' | 'description' | 'hashtags'>): string {
  return [row.title, row.description, row.hashtags.join(' ')].filter((x) => x !== null).join(' ')
}

/**
 * A post's weighted tsvector (alias-free SQL over `title`, `description`, `hashtags`): title words weigh
 * A, hashtags B, description D, so ts_rank puts a title match first. Migration 002 rewrites stored rows
 * with this same expression.
 */
const SEARCH_VECTOR = `setweight(to_tsvector('english', title), 'A')
  || setweight(to_tsvector('english', array_to_string(hashtags, ' ')), 'B')
  || setweight(to_tsvector('english', coalesce(description, '')), 'D')`

const tagsOf = (value: unknown): string[] => [...new Set(((value as string[] | undefined) ?? []).map(hashtagKey))]

export const searchProjector: Projector = {
  name: 'search',
  mode: 'tail',
  streamTypes: ['profile'],
  tables: [
    { name: 'search_posts', orderBy: 'post_id' },
    { name: 'search_words', orderBy: 'word' },
    { name: 'search_hashtags', orderBy: 'tag' },
  ],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    const touched = batch.filter((p) => p.receipt.type === 'POST_PUBLISHED' || p.receipt.type === 'POST_EDITED')
    if (touched.length === 0) return
    const rows = new Map<string, SearchRow>()
    const stored = [
      ...new Set(touched.filter((p) => p.receipt.type === 'POST_EDITED').map((p) => (p.receipt.payload as Payload).postId as string)),
    ]
    if (stored.length) {
      const found = await tx.query<{ post_id: string; title: string; description: string | null; hashtags: string[]; position: number }>(
        'SELECT post_id, title, description, hashtags, position FROM search_posts WHERE post_id = ANY($1::text[])',
        [stored],
      )
      for (const r of found.rows)
        rows.set(r.post_id, { postId: r.post_id, title: r.title, description: r.description, hashtags: r.hashtags, position: r.position })
    }
    for (const { receipt: r, position } of touched) {
      const pl = r.payload as Payload
      if (r.type === 'POST_PUBLISHED') {
        rows.set(r.eventId, {
          postId: r.eventId,
          title: pl.title as string,
          description: (pl.description as string | undefined) ?? null,
          hashtags: tagsOf(pl.hashtags),
          position,
        })
        continue
      }
      // POST_EDITED: the fields it names replace the post's; the others stay (the rules checked the post exists).
      const row = rows.get(pl.postId as string)
      if (!row) continue
      if (pl.title !== undefined) row.title = pl.title as string
      if (pl.description !== undefined) row.description = pl.description as string
      if (pl.hashtags !== undefined) row.hashtags = tagsOf(pl.hashtags)
    }
    const final = [...rows.values()]
    const texts = final.map(searchText)
    const v = unnestRows(
      [
        ['post_id', 'text'],
        ['title', 'text'],
        ['description', 'text'],
        ['hashtags', 'jsonb'],
        ['search_text', 'text'],
        ['position', 'int8'],
      ],
      final.map((row, i) => [row.postId, row.title, row.description, JSON.stringify(row.hashtags), texts[i], row.position]),
    )
    await tx.query(
      `INSERT INTO search_posts (post_id, title, description, hashtags, search_text, search_vector, position)
       SELECT post_id, title, description, hashtags, search_text, ${SEARCH_VECTOR}, position
       FROM (SELECT post_id, title, description, ARRAY(SELECT jsonb_array_elements_text(hashtags)) AS hashtags, search_text, position
             FROM ${v.from}) r
       ON CONFLICT (post_id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
         hashtags = EXCLUDED.hashtags, search_text = EXCLUDED.search_text, search_vector = EXCLUDED.search_vector`,
      v.params,
    )
    // Unstemmed words of 2–64 characters (the 'simple' configuration: lower case, no stop words removed).
    await tx.query(
      `INSERT INTO search_words (word)
       SELECT DISTINCT w FROM unnest($1::text[]) AS t(text), unnest(tsvector_to_array(to_tsvector('simple', t.text))) AS w
       WHERE length(w) BETWEEN 2 AND 64
       ON CONFLICT DO NOTHING`,
      [texts],
    )
    const tags = [...new Set(final.flatMap((row) => row.hashtags))]
    if (tags.length) {
      await tx.query('INSERT INTO search_hashtags (tag) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [tags])
    }
  },
}
