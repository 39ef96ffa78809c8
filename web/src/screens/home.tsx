import { Link } from '../app/router.js'
import { useStore } from '../app/store.js'
import { identityState } from '../identity/identity-session.js'

export default function Home() {
  const state = useStore(identityState)
  return (
    <section class="screen">
      <h1 tabIndex={-1}>PixPax</h1>
      <p class="lead">
        Draw pixel art anywhere — offline too. Everything you make is signed on this device and synced with receipts anyone can verify.
      </p>
      <div class="cards">
        <Link href="/editor" class="card">
          <strong>Draw</strong>
          <span>Open the pixel editor</span>
        </Link>
        {state.phase === 'ready' ? (
          <Link href="/identity" class="card">
            <strong>{state.identity?.displayName}</strong>
            <span>Your identity, backup and session</span>
          </Link>
        ) : (
          <Link href="/welcome" class="card">
            <strong>Get started</strong>
            <span>Create your identity or import a backup</span>
          </Link>
        )}
      </div>
    </section>
  )
}
