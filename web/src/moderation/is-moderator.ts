/**
 * Whether this device's identity is a moderator: its IDENTITY_CREATED (verified into the local log) has
 * kind `moderator`, which the relay only accepts for identities it lists in MODERATORS. Read from the
 * local log, so no request is made to find out (and it holds offline); the queue route still answers
 * 403 to anyone else.
 */
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { changes, identityState, localReceipts } from '../identity/identity-session.js'

export function useIsModerator(): boolean {
  const state = useStore(identityState)
  const tick = useStore(changes)
  const [moderator, setModerator] = useState(false)
  const id = state.phase === 'ready' ? state.identity?.identityId : undefined
  useEffect(() => {
    if (!id) return setModerator(false)
    let cancelled = false
    void localReceipts(`identity/${id}`).then((receipts) => {
      const created = receipts.find((r) => r.type === 'IDENTITY_CREATED')
      if (!cancelled) setModerator(created?.payload.kind === 'moderator')
    })
    return () => {
      cancelled = true
    }
  }, [id, tick])
  return moderator
}
