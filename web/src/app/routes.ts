/**
 * The app's screens. Each is a lazily loaded module with a default-exported component, so the shell
 * stays small and a new screen (feeds, pixbook, players, receipts) is one entry here.
 */
import type { ComponentType } from 'preact'

export interface Route {
  path: string
  title: string
  /** Shown in the main navigation. */
  nav: boolean
  /** Needs an identity on this device (else the onboarding screen shows). */
  needsIdentity: boolean
  load: () => Promise<{ default: ComponentType }>
}

export const ROUTES: readonly Route[] = [
  { path: '/', title: 'Home', nav: true, needsIdentity: false, load: () => import('../screens/home.js') },
  { path: '/editor', title: 'Draw', nav: true, needsIdentity: false, load: () => import('../screens/editor.js') },
  { path: '/identity', title: 'Identity', nav: true, needsIdentity: true, load: () => import('../screens/identity.js') },
  { path: '/welcome', title: 'Welcome', nav: false, needsIdentity: false, load: () => import('../screens/onboarding.js') },
]

export function routeFor(path: string): Route | undefined {
  const normalized = path !== '/' ? path.replace(/\/+$/, '') : path
  return ROUTES.find((r) => r.path === normalized)
}
