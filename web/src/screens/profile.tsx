/** A person's profile: name, handle, counts, follow / block, and their posts. */
import { useParams } from '../app/router.js'
import { useStore } from '../app/store.js'
import { identityState } from '../identity/identity-session.js'
import { act } from '../social/acts.js'
import { FollowButton } from '../social/follow-button.js'
import { PostCard } from '../social/post-card.js'
import { useRelayQuery, type Page, type PostJson, type ProfileJson } from '../social/relay-api.js'

export default function Profile() {
  const { identityId } = useParams()
  const state = useStore(identityState)
  const profile = useRelayQuery<ProfileJson>(identityId ? `/v1/profiles/${encodeURIComponent(identityId)}` : undefined)
  const posts = useRelayQuery<Page<PostJson>>(identityId ? `/v1/feeds/user/${encodeURIComponent(identityId)}?limit=50` : undefined)
  const p = profile.data
  const other = state.phase === 'ready' && identityId && identityId !== state.identity?.identityId
  return (
    <section class="screen">
      <h1 tabIndex={-1}>{p ? p.displayName || `@${p.handle}` : 'Profile'}</h1>
      {profile.error ? <p class="error">{profile.error}</p> : null}
      {p ? (
        <>
          <p class="byline">@{p.handle}</p>
          {p.bio ? <p>{p.bio}</p> : null}
          <dl class="facts">
            <dt>Posts</dt>
            <dd>{p.posts}</dd>
            <dt>Followers</dt>
            <dd data-testid="followers">{p.followers}</dd>
            <dt>Following</dt>
            <dd>{p.following}</dd>
          </dl>
          {other ? (
            <div class="row">
              <FollowButton identityId={identityId} />
              <button
                type="button"
                onClick={() => {
                  if (confirm(`Block @${p.handle}? You will not see each other's posts and comments.`)) void act((s) => s.block(identityId))
                }}
              >
                Block
              </button>
            </div>
          ) : null}
        </>
      ) : null}
      <h2>Posts</h2>
      <div class="post-grid">
        {posts.data?.items.map((post) => (
          <PostCard key={post.postId} post={post} />
        ))}
      </div>
      {posts.data?.items.length === 0 ? <p>No posts yet.</p> : null}
    </section>
  )
}
