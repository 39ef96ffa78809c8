/**
 * Feeds: recent, following (needs an identity), promoted, and one hashtag (/tag/{tag}). Live: the list
 * is fetched again whenever the relay's log grows (see `changes`). My publications still on this device
 * come first, marked pending.
 */
import { useState } from 'preact/hooks'
import { navigate, useParams } from '../app/router.js'
import { useStore } from '../app/store.js'
import { identityState } from '../identity/identity-session.js'
import { PendingPublicationCard, PostCard } from '../social/post-card.js'
import { waitingPublications } from '../social/publisher.js'
import { useRelayQuery, type Page, type PostJson } from '../social/relay-api.js'

const TABS = [
  { id: 'recent', label: 'Recent' },
  { id: 'following', label: 'Following' },
  { id: 'promoted', label: 'Promoted' },
] as const
type Tab = (typeof TABS)[number]['id']

export default function Feed() {
  const { tag } = useParams()
  const state = useStore(identityState)
  const waiting = useStore(waitingPublications)
  const [tab, setTab] = useState<Tab>('recent')
  const [tagInput, setTagInput] = useState('')
  const needsSession = tab === 'following' && state.phase !== 'ready'
  const path = tag ? `/v1/feeds/hashtag/${encodeURIComponent(tag)}?limit=50` : needsSession ? undefined : `/v1/feeds/${tab}?limit=50`
  const feed = useRelayQuery<Page<PostJson>>(path)

  return (
    <section class="screen">
      <h1 tabIndex={-1}>{tag ? `#${tag}` : 'Feed'}</h1>
      {tag ? null : (
        <div class="tabs" role="group" aria-label="Which feed">
          {TABS.map((t) => (
            <button type="button" aria-pressed={tab === t.id} onClick={() => setTab(t.id)}>
              {t.label}
            </button>
          ))}
        </div>
      )}
      <form
        class="inline-form"
        role="search"
        aria-label="Open a hashtag"
        onSubmit={(e) => {
          e.preventDefault()
          const t = tagInput.trim().replace(/^#/, '')
          if (t) navigate(`/tag/${encodeURIComponent(t)}`)
        }}
      >
        <label for="tag-input">Hashtag</label>
        <input id="tag-input" value={tagInput} onInput={(e) => setTagInput(e.currentTarget.value)} placeholder="#sunset" />
        <button type="submit">Open</button>
      </form>
      {needsSession ? <p>Create an identity to follow people and see their posts here.</p> : null}
      {feed.error ? (
        <p role="status" class="error">
          {feed.error}
        </p>
      ) : null}
      <div class="post-grid" data-testid="feed" aria-busy={feed.loading}>
        {!tag && tab === 'recent' ? waiting.map((p) => <PendingPublicationCard key={p.id} publication={p} />) : null}
        {feed.data?.items.map((p) => (
          <PostCard key={p.postId} post={p} />
        ))}
      </div>
      {feed.data && feed.data.items.length === 0 && waiting.length === 0 ? <p>No posts here yet.</p> : null}
    </section>
  )
}
