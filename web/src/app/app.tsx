import { useEffect } from 'preact/hooks'
import { identityState } from '../identity/identity-session.js'
import { useIsModerator } from '../moderation/is-moderator.js'
import { UpdatePrompt } from '../pwa/update-prompt.js'
import { applyTheme, effectiveTheme, theme } from '../theme/theme.js'
import { ROUTES } from './routes.js'
import { Link } from './router.js'
import { ScreenOutlet } from './screen-outlet.js'
import { useStore } from './store.js'
import { SyncBadge } from './sync-badge.js'

/** The app shell: skip link, header (navigation, sync status, theme), the current screen, update prompt. */
export function App() {
  const choice = useStore(theme)
  const state = useStore(identityState)
  const moderator = useIsModerator()
  // Publications left waiting on this device (offline, or the tab closed) go out from any screen.
  useEffect(() => {
    if (state.phase === 'ready') void import('../social/publisher.js').then((m) => m.drainPublications())
  }, [state.phase, state.identity?.identityId])
  const shown = effectiveTheme(choice)
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="app-header">
        <Link href="/" class="brand">
          <img src="/icon.svg" alt="" width="24" height="24" />
          PixPax
        </Link>
        <nav aria-label="Main">
          <ul>
            {ROUTES.filter((r) => r.nav && (!r.moderatorOnly || moderator)).map((r) => (
              <li key={r.path}>
                <Link href={r.path}>{r.title}</Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="header-tools">
          <SyncBadge />
          {state.identity ? <span class="who">{state.identity.displayName}</span> : null}
          <button
            type="button"
            class="icon-button"
            aria-label={`Switch to ${shown === 'dark' ? 'light' : 'dark'} theme`}
            onClick={() => applyTheme(shown === 'dark' ? 'light' : 'dark')}
          >
            {shown === 'dark' ? '☀' : '☾'}
          </button>
        </div>
      </header>
      <ScreenOutlet />
      <UpdatePrompt />
    </>
  )
}
