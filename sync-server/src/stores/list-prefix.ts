import { assertObjectKey } from './object-store.js'

/**
 * Splits a `list()` prefix into the directory part (a valid key, or '') and the start of the next
 * segment: `pixpax/pixbooks/acc` → `{dir: 'pixpax/pixbooks', namePrefix: 'acc'}`. A prefix no valid key
 * could start with in a well-formed way (`../`, `a//`, `/abs`, spaces) is rejected like a bad key, so
 * every store fails the same way and the filesystem store can never walk outside its root.
 */
export function parseListPrefix(prefix: string): { dir: string; namePrefix: string } {
  const cut = prefix.lastIndexOf('/')
  const dir = cut < 0 ? '' : prefix.slice(0, cut)
  const namePrefix = prefix.slice(cut + 1)
  let ok = /^[A-Za-z0-9._-]*$/.test(namePrefix)
  if (ok && cut >= 0) {
    try {
      assertObjectKey(dir)
    } catch {
      ok = false
    }
  }
  if (!ok) throw new RangeError(`invalid list prefix ${JSON.stringify(prefix)}`)
  return { dir, namePrefix }
}
