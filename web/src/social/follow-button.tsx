import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { changes } from '../identity/identity-session.js'
import { act, followedIdentities, pendingReceipts } from './acts.js'

/** Follow / unfollow, from my own profile stream (local log + outbox): works offline, pending shown. */
export function FollowButton({ identityId }: { identityId: string }) {
  const tick = useStore(changes)
  const [following, setFollowing] = useState<boolean | undefined>()
  useEffect(() => {
    void followedIdentities().then((set) => setFollowing(set.has(identityId)))
  }, [identityId, tick])
  const pending = pendingReceipts().some((r) => (r.type === 'FOLLOWED' || r.type === 'UNFOLLOWED') && r.payload.identityId === identityId)
  if (following === undefined) return null
  return (
    <button
      type="button"
      class="follow-button"
      aria-pressed={following}
      onClick={() => void act((s) => (following ? s.unfollow(identityId) : s.follow(identityId)))}
    >
      {following ? 'Following' : 'Follow'}
      {pending ? <span class="badge-pending"> (pending)</span> : null}
    </button>
  )
}
