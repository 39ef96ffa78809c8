/**
 * The app's screens. Each is a lazily loaded module with a default-exported component, so the shell
 * stays small and a new screen (feeds, pixbook, players, receipts) is one entry here.
 */
import type { ComponentType } from 'preact'

export interface Route {
  /** The URL path; `:name` segments match one path segment each (see routeParams). */
  path: string
  title: string
  /** Shown in the main navigation. */
  nav: boolean
  /** Needs an identity on this device (else the onboarding screen shows). */
  needsIdentity: boolean
  /** In the navigation only for a moderator identity (moderation/is-moderator.ts). */
  moderatorOnly?: boolean
  load: () => Promise<{ default: ComponentType }>
}

export const ROUTES: readonly Route[] = [
  { path: '/', title: 'Home', nav: true, needsIdentity: false, load: () => import('../screens/home.js') },
  { path: '/editor', title: 'Draw', nav: true, needsIdentity: false, load: () => import('../screens/editor.js') },
  { path: '/feed', title: 'Feed', nav: true, needsIdentity: false, load: () => import('../screens/feed.js') },
  { path: '/search', title: 'Search', nav: true, needsIdentity: false, load: () => import('../screens/search.js') },
  { path: '/notifications', title: 'Notifications', nav: true, needsIdentity: true, load: () => import('../screens/notifications.js') },
  { path: '/post/:postId', title: 'Post', nav: false, needsIdentity: false, load: () => import('../screens/post.js') },
  { path: '/u/:identityId', title: 'Profile', nav: false, needsIdentity: false, load: () => import('../screens/profile.js') },
  { path: '/tag/:tag', title: 'Hashtag', nav: false, needsIdentity: false, load: () => import('../screens/feed.js') },
  { path: '/pixbook', title: 'Pixbook', nav: true, needsIdentity: true, load: () => import('../screens/pixbook.js') },
  { path: '/players', title: 'Players', nav: true, needsIdentity: true, load: () => import('../screens/players.js') },
  { path: '/receipts', title: 'Receipts', nav: true, needsIdentity: true, load: () => import('../screens/receipts.js') },
  {
    path: '/moderation',
    title: 'Moderation',
    nav: true,
    needsIdentity: true,
    moderatorOnly: true,
    load: () => import('../screens/moderation.js'),
  },
  { path: '/identity', title: 'Identity', nav: true, needsIdentity: true, load: () => import('../screens/identity.js') },
  { path: '/welcome', title: 'Welcome', nav: false, needsIdentity: false, load: () => import('../screens/onboarding.js') },
]

function normalize(path: string): string {
  return path !== '/' ? path.replace(/\/+$/, '') : path
}

/** The `:name` segments of `route` in `path` (decoded), or undefined when it does not match. */
export function routeParams(route: Route, path: string): Record<string, string> | undefined {
  const want = route.path.split('/')
  const have = normalize(path).split('/')
  if (want.length !== have.length) return undefined
  const params: Record<string, string> = {}
  for (const [i, segment] of want.entries()) {
    const value = have[i]!
    if (segment.startsWith(':')) {
      if (value === '') return undefined
      try {
        params[segment.slice(1)] = decodeURIComponent(value)
      } catch {
        return undefined
      }
    } else if (segment !== value) return undefined
  }
  return params
}

export function routeFor(path: string): Route | undefined {
  return ROUTES.find((r) => routeParams(r, path) !== undefined)
}
