/**
 * Dark and light themes: the system's preference unless the user picked one, remembered on this device.
 * The choice is a `data-theme` attribute on <html>; the CSS holds both palettes.
 */
import { Store } from '../app/store.js'

export type ThemeChoice = 'system' | 'dark' | 'light'
const KEY = 'pixpax.theme'

function stored(): ThemeChoice {
  const value = localStorage.getItem(KEY)
  return value === 'dark' || value === 'light' ? value : 'system'
}

export const theme = new Store<ThemeChoice>(typeof localStorage === 'undefined' ? 'system' : stored())

export function applyTheme(choice: ThemeChoice): void {
  if (choice === 'system') {
    localStorage.removeItem(KEY)
    delete document.documentElement.dataset.theme
  } else {
    localStorage.setItem(KEY, choice)
    document.documentElement.dataset.theme = choice
  }
  theme.set(choice)
}

/** The theme actually shown (the system's when the choice is `system`). */
export function effectiveTheme(choice: ThemeChoice): 'dark' | 'light' {
  if (choice !== 'system') return choice
  return matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark'
}
