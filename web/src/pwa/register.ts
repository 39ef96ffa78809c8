/**
 * Service worker registration (vite-plugin-pwa's `prompt` mode): a new version waits until the user
 * accepts the "update available" prompt, so a page is never swapped under someone mid-drawing.
 */
import { registerSW } from 'virtual:pwa-register'
import { Store } from '../app/store.js'

export const updateAvailable = new Store(false)
export const offlineReady = new Store(false)

let update: ((reload?: boolean) => Promise<void>) | undefined

/** The build's label (`VITE_PIXPAX_BUILD` at build time, e.g. a release or commit), on `<html data-build>`. */
export const BUILD_ID: string = (import.meta.env.VITE_PIXPAX_BUILD as string | undefined) || 'local'

export function registerServiceWorker(): void {
  document.documentElement.dataset.build = BUILD_ID
  if (!('serviceWorker' in navigator)) return
  update = registerSW({
    onNeedRefresh: () => updateAvailable.set(true),
    onOfflineReady: () => offlineReady.set(true),
  })
}

export async function applyUpdate(): Promise<void> {
  await update?.(true)
}
