import { useEffect } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { applyUpdate, offlineReady, updateAvailable } from './register.js'

/** Announces a waiting new version (and, once, that the app now works offline). */
export function UpdatePrompt() {
  const needsRefresh = useStore(updateAvailable)
  const ready = useStore(offlineReady)
  const shown = needsRefresh || ready
  useEffect(() => {
    // Room below the content so the fixed toast never covers the last control of a page.
    document.body.classList.toggle('has-toast', shown)
  }, [shown])
  useEffect(() => {
    if (!ready) return
    // "Ready offline" is news, not a question: it goes away by itself.
    const timer = setTimeout(() => offlineReady.set(false), 15_000)
    return () => clearTimeout(timer)
  }, [ready])
  if (needsRefresh) {
    return (
      <div class="toast" role="alert">
        <span>A new version of PixPax is available.</span>
        <button type="button" class="primary" onClick={() => void applyUpdate()}>
          Update now
        </button>
        <button type="button" onClick={() => updateAvailable.set(false)}>
          Later
        </button>
      </div>
    )
  }
  if (ready) {
    return (
      <div class="toast" role="status">
        <span>PixPax is ready to work offline.</span>
        <button type="button" onClick={() => offlineReady.set(false)}>
          OK
        </button>
      </div>
    )
  }
  return null
}
