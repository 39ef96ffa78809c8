/**
 * repair: catches the projection up with the object store after a crash between an object write and
 * its projection. `repairAll` settles every stream with open append intents (cheap; run at start-up);
 * `repairFromOffsets` also walks the whole store and adopts, per stream, every object after the
 * stream's projector offset (the `relay repair` command).
 */
import { relayTrustPolicy, type AppDeps } from '../app.js'
import { adoptObjects, settleStream, type SettleDeps } from '../ingest/settle.js'
import { PROJECTOR } from '../projection/project.js'
import { walkStreams } from './store-walk.js'

function settleDeps(deps: AppDeps): SettleDeps {
  return {
    relaySigner: deps.relaySigner,
    verifier: deps.verifier,
    sha256: deps.sha256,
    policy: relayTrustPolicy(deps.config),
  }
}

export async function repairAll(deps: AppDeps): Promise<{ streams: number; receipts: number }> {
  const { db, store } = deps
  const streams = await db.query<{ stream_key: string }>('SELECT DISTINCT stream_key FROM append_intents ORDER BY stream_key')
  let receipts = 0
  for (const { stream_key } of streams.rows) {
    receipts += await db.withLock(stream_key, (tx) => settleStream(tx, store, stream_key, settleDeps(deps)))
  }
  return { streams: streams.rows.length, receipts }
}

export async function repairFromOffsets(
  deps: AppDeps,
  progress?: (s: { streams: number; receipts: number }) => void,
): Promise<{ streams: number; receipts: number }> {
  const first = await repairAll(deps)
  const { db, store } = deps
  let receipts = first.receipts
  let streams = 0
  for await (const { streamKey, objectKeys } of walkStreams(store)) {
    streams++
    const offset = await db.query<{ last_event_id: string }>(
      'SELECT last_event_id FROM projector_offsets WHERE projector = $1 AND stream_key = $2',
      [PROJECTOR, streamKey],
    )
    const last = offset.rows[0]?.last_event_id
    const pending = last ? objectKeys.filter((k) => k.slice(k.lastIndexOf('/') + 1, -'.json'.length) > last) : objectKeys
    if (pending.length === 0) continue
    receipts += await db.withLock(streamKey, (tx) => adoptObjects(tx, store, streamKey, pending, settleDeps(deps)))
    progress?.({ streams, receipts })
  }
  return { streams, receipts }
}
