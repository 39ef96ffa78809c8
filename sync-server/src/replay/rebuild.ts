/**
 * rebuild: drop every projection and replay the object store, stream by stream in chain order, inside
 * one transaction (readers keep seeing the old projection until it commits; appends wait on the table
 * locks). Receipts are re-checked on their own (schema, hash, chain links) — a store that does not
 * chain is reported, not projected; full signature and authority checks are `verify-store`'s job.
 */
import { nextStreamState, parseReceipt, PixpaxError, utf8DecodeStrict, type Sha256, type StreamState } from '@pixpax/shared'
import type { ProjectionDb, Queryable } from '../db/projection-db.js'
import { projectReceipt } from '../projection/project.js'
import { PROJECTION_TABLES } from '../projection/tables.js'
import type { ObjectStore } from '../stores/object-store.js'
import { walkStreams } from './store-walk.js'

export interface ReplayProgress {
  (done: { receipts: number; streams: number }): void
}

/** Fetches a stream's objects a batch at a time, concurrently within the batch, yielding in order. */
export async function* readObjects(store: ObjectStore, keys: string[], concurrency = 64): AsyncGenerator<{ key: string; text: string }> {
  for (let i = 0; i < keys.length; i += concurrency) {
    const batch = keys.slice(i, i + concurrency)
    const bodies = await Promise.all(batch.map((k) => store.get(k)))
    for (const [j, body] of bodies.entries()) {
      if (!body) throw new Error(`object ${batch[j]} disappeared during replay`)
      yield { key: batch[j]!, text: utf8DecodeStrict(body) }
    }
  }
}

/** Replays one stream's objects into `tx`; throws a PixpaxError naming the object if the chain breaks. */
export async function replayStream(
  tx: Queryable,
  store: ObjectStore,
  streamKey: string,
  objectKeys: string[],
  sha256: Sha256,
  onReceipt?: () => void,
): Promise<number> {
  let state: StreamState | undefined
  for await (const { key, text } of readObjects(store, objectKeys)) {
    const checked = parseReceipt(text, sha256)
    const { receipt } = checked
    if (checked.streamKey !== streamKey || key !== `${key.slice(0, key.lastIndexOf('/') + 1)}${receipt.eventId}.json`) {
      throw new PixpaxError('CHAIN_BROKEN', `object ${key} holds receipt ${receipt.eventId} of ${checked.streamKey}`)
    }
    const expectedPrev = state ? { eventId: state.head.eventId, hash: state.head.hash } : { eventId: null, hash: null }
    if (receipt.prevEventId !== expectedPrev.eventId || receipt.prevHash !== expectedPrev.hash) {
      throw new PixpaxError('CHAIN_BROKEN', `object ${key} does not chain to its predecessor in the store`)
    }
    state = nextStreamState(checked, state)
    await projectReceipt(tx, {
      receipt,
      streamKey,
      seq: state.count,
      objectKey: key,
      ownerIdentityId: [...state.owners][0] ?? receipt.issuer.identityId,
    })
    onReceipt?.()
  }
  return state?.count ?? 0
}

export async function rebuild(
  db: ProjectionDb,
  store: ObjectStore,
  sha256: Sha256,
  progress?: ReplayProgress,
): Promise<{ receipts: number; streams: number }> {
  return db.transaction(async (tx) => {
    const names = PROJECTION_TABLES.map((t) => t.name).join(', ')
    await tx.query(`LOCK TABLE ${names} IN EXCLUSIVE MODE`)
    await tx.query(`TRUNCATE ${names}`)
    let receipts = 0
    let streams = 0
    for await (const { streamKey, objectKeys } of walkStreams(store)) {
      await replayStream(tx, store, streamKey, objectKeys, sha256, () => {
        receipts++
        if (receipts % 1000 === 0) progress?.({ receipts, streams })
      })
      streams++
    }
    // Open intents are settled by the projection we just rebuilt from the objects themselves.
    await tx.query('DELETE FROM append_intents')
    progress?.({ receipts, streams })
    return { receipts, streams }
  })
}
