import { STREAM_TYPES, type StreamRef } from '@pixpax/shared'
import type { ObjectStore } from '../stores/object-store.js'

/**
 * Every stream in the object store with its receipt object keys in chain order (eventId order), one
 * stream at a time. Identity streams come first, then accounts, then the rest: keys and memberships
 * exist before the receipts that use them.
 */
export async function* walkStreams(
  store: ObjectStore,
  pageSize = 1000,
): AsyncGenerator<{ stream: StreamRef; streamKey: string; objectKeys: string[] }> {
  const order = Object.values(STREAM_TYPES).sort((a, b) => rank(a.type) - rank(b.type))
  for (const spec of order) {
    const prefix = `pixpax/${spec.plural}/`
    let current: { streamKey: string; stream: StreamRef; objectKeys: string[] } | undefined
    let startAfter: string | undefined
    for (;;) {
      const page = await store.list(prefix, { ...(startAfter ? { startAfter } : {}), limit: pageSize })
      for (const key of page) {
        const parts = key.slice(prefix.length).split('/')
        // {ids…}/events/{eventId}.json — anything else (snapshot.json) is derived and skipped.
        if (parts.length !== spec.idFields.length + 2 || parts[spec.idFields.length] !== 'events' || !parts.at(-1)!.endsWith('.json'))
          continue
        const ids = parts.slice(0, spec.idFields.length)
        const streamKey = [spec.type, ...ids].join('/')
        if (current?.streamKey !== streamKey) {
          if (current) yield current
          const stream: StreamRef = { type: spec.type }
          spec.idFields.forEach((f, i) => (stream[f] = ids[i]!))
          current = { streamKey, stream, objectKeys: [] }
        }
        current.objectKeys.push(key)
      }
      if (page.length < pageSize) break
      startAfter = page[page.length - 1]
    }
    if (current) yield current
  }
}

function rank(type: string): number {
  return type === 'identity' ? 0 : type === 'account' ? 1 : 2
}
