import type { ComponentType } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { identityState } from '../identity/identity-session.js'
import { routeFor, ROUTES, type Route } from './routes.js'
import { navigate, usePath } from './router.js'
import { useStore } from './store.js'

const loaded = new Map<string, ComponentType>()

/**
 * Shows the current route's screen, loading its chunk on first use. Focus moves to the screen's
 * heading on navigation so keyboard and screen-reader users land on the new content.
 */
export function ScreenOutlet() {
  const path = usePath()
  const state = useStore(identityState)
  const route: Route | undefined = routeFor(path)
  const [screen, setScreen] = useState<{ path: string; component: ComponentType } | undefined>()
  const [failed, setFailed] = useState<string | undefined>()
  const main = useRef<HTMLElement>(null)

  useEffect(() => {
    if (route?.needsIdentity && state.phase === 'none') navigate('/welcome', { replace: true })
  }, [route, state.phase])

  useEffect(() => {
    if (!route) return
    document.title = `${route.title} · PixPax`
    const cached = loaded.get(route.path)
    if (cached) return setScreen({ path: route.path, component: cached })
    let cancelled = false
    route.load().then(
      (module) => {
        loaded.set(route.path, module.default)
        if (!cancelled) setScreen({ path: route.path, component: module.default })
      },
      (error: unknown) => !cancelled && setFailed(String(error)),
    )
    return () => {
      cancelled = true
    }
  }, [route])

  useEffect(() => {
    if (!screen) return
    // The first screen on view: what "loaded to interactive" means for the tests and benchmarks.
    if (performance.getEntriesByName('pixpax:first-screen').length === 0) performance.mark('pixpax:first-screen')
    main.current?.querySelector<HTMLElement>('h1')?.focus()
  }, [screen])

  if (!route) {
    return (
      <main id="main" ref={main} tabIndex={-1}>
        <h1 tabIndex={-1}>Not found</h1>
        <p>There is no page at {path}.</p>
        <p>Try {ROUTES.filter((r) => r.nav).map((r, i) => [i > 0 ? ', ' : '', <a href={r.path}>{r.title}</a>])}.</p>
      </main>
    )
  }
  const Screen = screen?.path === route.path ? screen.component : undefined
  return (
    <main id="main" ref={main} tabIndex={-1}>
      {failed ? <p role="alert">This screen could not load: {failed}</p> : Screen ? <Screen /> : <p aria-busy="true">Loading…</p>}
    </main>
  )
}
