import { identityState } from '../identity/identity-session.js'
import { useStore } from './store.js'
import { useOnline } from './use-online.js'

const LABELS = { offline: 'Offline', connecting: 'Connecting…', syncing: 'Syncing…', synced: 'Synced', error: 'Sync error' } as const

/** The sync status, always visible: offline / syncing / synced / error, and what is still pending. */
export function SyncBadge() {
  const state = useStore(identityState)
  const online = useOnline()
  const status = !online ? 'offline' : state.phase === 'ready' ? state.sync : 'offline'
  const label = state.phase !== 'ready' && online ? 'Local only' : LABELS[status]
  return (
    <span class={`sync-badge sync-${status}`} role="status" aria-live="polite" data-testid="sync-status" data-status={status}>
      <span class="dot" aria-hidden="true" />
      {label}
      {state.pending > 0 ? ` · ${state.pending} pending` : ''}
    </span>
  )
}
