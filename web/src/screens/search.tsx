/** Search posts, people or hashtags, with results as you type (each keystroke cancels the last query). */
import { useEffect, useState } from 'preact/hooks'
import { Link } from '../app/router.js'
import { PostCard } from '../social/post-card.js'
import { relayJson, type Page, type PostJson, type ProfileJson } from '../social/relay-api.js'

const KINDS = [
  { id: 'posts', label: 'Posts' },
  { id: 'users', label: 'People' },
  { id: 'hashtags', label: 'Hashtags' },
] as const
type Kind = (typeof KINDS)[number]['id']
type Results =
  | { kind: 'posts'; items: PostJson[] }
  | { kind: 'users'; items: ProfileJson[] }
  | { kind: 'hashtags'; items: Array<{ hashtag: string; posts: number }> }

export default function Search() {
  const [q, setQ] = useState('')
  const [kind, setKind] = useState<Kind>('posts')
  const [results, setResults] = useState<{ q: string; results: Results } | undefined>()
  const [error, setError] = useState<string | undefined>()

  useEffect(() => {
    const query = q.trim()
    if (!query) return setResults(undefined)
    let cancelled = false
    // A short pause, so a fast typist sends one query rather than one per letter.
    const timer = setTimeout(() => {
      relayJson<Page<unknown>>(`/v1/search?type=${kind}&limit=30&q=${encodeURIComponent(query)}`).then(
        (page) => {
          if (cancelled) return
          setError(undefined)
          setResults({ q: query, results: { kind, items: page.items } as Results })
        },
        (e: unknown) => !cancelled && setError(navigator.onLine ? (e as Error).message : 'Search needs the relay: you are offline.'),
      )
    }, 150)
    return () => {
      cancelled = true
      clearTimeout(timer)
    }
  }, [q, kind])

  const r = results?.results
  return (
    <section class="screen">
      <h1 tabIndex={-1}>Search</h1>
      <form role="search" class="inline-form" onSubmit={(e) => e.preventDefault()}>
        <label for="search-q">Search</label>
        <input id="search-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} autoComplete="off" />
      </form>
      <div class="tabs" role="group" aria-label="Search for">
        {KINDS.map((k) => (
          <button type="button" aria-pressed={kind === k.id} onClick={() => setKind(k.id)}>
            {k.label}
          </button>
        ))}
      </div>
      {error ? <p class="error">{error}</p> : null}
      <p role="status" class="status-line">
        {r ? `${r.items.length} ${r.items.length === 1 ? 'result' : 'results'} for “${results.q}”` : ''}
      </p>
      <div data-testid="search-results">
        {r?.kind === 'posts' ? (
          <div class="post-grid">
            {r.items.map((p) => (
              <PostCard key={p.postId} post={p} />
            ))}
          </div>
        ) : null}
        {r?.kind === 'users' ? (
          <ul>
            {r.items.map((u) => (
              <li>
                <Link href={`/u/${u.identityId}`}>
                  {u.displayName || u.handle} (@{u.handle})
                </Link>
              </li>
            ))}
          </ul>
        ) : null}
        {r?.kind === 'hashtags' ? (
          <ul>
            {r.items.map((t) => (
              <li>
                <Link href={`/tag/${encodeURIComponent(t.hashtag)}`}>#{t.hashtag}</Link> · {t.posts} posts
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </section>
  )
}
