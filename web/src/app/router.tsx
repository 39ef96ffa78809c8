/**
 * History-API routing: the relay answers every non-API path with index.html (and the service worker
 * does too, offline), so each screen has a real URL. Screens are listed in routes.ts.
 */
import type { ComponentChildren } from 'preact'
import { routeFor, routeParams } from './routes.js'
import { Store, useStore } from './store.js'

export const currentPath = new Store(typeof location === 'undefined' ? '/' : location.pathname)

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => currentPath.set(location.pathname))
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname + location.search) return
  if (options.replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  currentPath.set(location.pathname)
}

export function usePath(): string {
  return useStore(currentPath)
}

/** The current route's `:name` parameters (empty when it has none). */
export function useParams(): Record<string, string> {
  const path = usePath()
  const route = routeFor(path)
  return (route && routeParams(route, path)) ?? {}
}

/** An in-app link: a real `<a href>` (keyboard, middle-click, copy link) that navigates without reload. */
export function Link(props: { href: string; class?: string; 'aria-label'?: string; children: ComponentChildren }) {
  const path = usePath()
  const { href, children } = props
  return (
    <a
      class={props.class}
      href={href}
      aria-label={props['aria-label']}
      aria-current={path === href ? 'page' : undefined}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
        event.preventDefault()
        navigate(href)
      }}
    >
      {children}
    </a>
  )
}
