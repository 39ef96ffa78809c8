/**
 * repair: catches the projection up with the object store after a crash between an object write and its
 * batch's commit. `repairIntents` settles every stream with open append intents (cheap; run at start-up);
 * `repairFromStore` (`relay repair`) also walks the store and adopts, per stream, every object past the
 * stream's head — objects no intent names. Both go through the appender, so adoption follows exactly the
 * append rules.
 */
import { STREAM_TYPES } from '@pixpax/shared'
import type { ProjectionDb } from '../db/projection-db.js'
import type { Appender } from '../ingest/appender.js'
import { listKeys, type ObjectStore } from '../stores/object-store.js'

export async function repairIntents(db: ProjectionDb, appender: Appender): Promise<{ streams: number; receipts: number }> {
  const { rows } = await db.query<{ stream_key: string }>('SELECT DISTINCT stream_key FROM append_intents ORDER BY stream_key')
  const receipts = rows.length ? await appender.settle(rows.map((r) => r.stream_key)) : 0
  return { streams: rows.length, receipts }
}

export async function repairFromStore(
  db: ProjectionDb,
  store: ObjectStore,
  appender: Appender,
  progress?: (s: { streams: number; receipts: number }) => void,
): Promise<{ streams: number; receipts: number }> {
  const first = await repairIntents(db, appender)
  const behind: string[] = []
  let streams = 0
  for (const spec of Object.values(STREAM_TYPES)) {
    const prefix = `pixpax/${spec.plural}/`
    const newest = new Map<string, string>() // stream → its newest object's eventId
    for await (const key of listKeys(store, prefix)) {
      const parts = key.slice(prefix.length).split('/')
      if (parts.length !== spec.idFields.length + 2 || parts[spec.idFields.length] !== 'events' || !parts.at(-1)!.endsWith('.json'))
        continue
      newest.set([spec.type, ...parts.slice(0, spec.idFields.length)].join('/'), parts.at(-1)!.slice(0, -'.json'.length))
    }
    const keys = [...newest.keys()]
    for (let i = 0; i < keys.length; i += 1000) {
      const slice = keys.slice(i, i + 1000)
      const heads = await db.query<{ stream_key: string; head_event_id: string }>(
        'SELECT stream_key, head_event_id FROM streams WHERE stream_key = ANY($1::text[])',
        [slice],
      )
      const head = new Map(heads.rows.map((h) => [h.stream_key, h.head_event_id]))
      for (const k of slice) if ((head.get(k) ?? '') < newest.get(k)!) behind.push(k)
    }
    streams += keys.length
  }
  const receipts = first.receipts + (behind.length ? await appender.settle(behind, { fromStore: true }) : 0)
  progress?.({ streams, receipts })
  return { streams: behind.length, receipts }
}
