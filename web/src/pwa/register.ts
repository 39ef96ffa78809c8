/**
 * Service worker registration (vite-plugin-pwa's `prompt` mode): a new version waits until the user
 * accepts the "update available" prompt, so a page is never swapped under someone mid-drawing.
 */
import { registerSW } from 'virtual:pwa-register'
import { Store } from '../app/store.js'

export const updateAvailable = new Store(false)
export const offlineReady = new Store(false)

let update: ((reload?: boolean) => Promise<void>) | undefined

export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return
  update = registerSW({
    onNeedRefresh: () => updateAvailable.set(true),
    onOfflineReady: () => offlineReady.set(true),
  })
}

export async function applyUpdate(): Promise<void> {
  await update?.(true)
}
