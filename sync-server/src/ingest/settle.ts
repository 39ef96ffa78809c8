/**
 * Settling a stream: a relay that died between writing receipt objects and committing their projection
 * leaves append intents behind. Under the stream's lock, before anything else is accepted there, each
 * leftover is resolved: an object that made it to the store is a receipt that passed every check, so
 * it is projected (and acked) now; one that did not is forgotten. The store never gets a fork.
 */
import {
  evaluateReceipt,
  parseReceipt,
  parseStreamKey,
  streamEventsPrefix,
  utf8DecodeStrict,
  type Sha256,
  type SignatureVerifier,
  type Signer,
  type TrustPolicy,
} from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import type { ObjectStore } from '../stores/object-store.js'
import { DbLedgerView } from './db-ledger.js'
import { commitAccepted } from './ingest.js'

export interface SettleDeps {
  relaySigner: Signer
  verifier: SignatureVerifier
  sha256: Sha256
  policy: TrustPolicy
}

/**
 * Returns how many leftover receipts were projected. `leftover`, when given, receives the eventIds of the
 * intents found (their rows are deleted by `tx`, so until it commits no other connection may write them).
 */
export async function settleStream(
  tx: Queryable,
  store: ObjectStore,
  streamKey: string,
  deps: SettleDeps,
  leftover?: Set<string>,
): Promise<number> {
  const intents = await tx.query<{ event_id: string; object_key: string }>(
    'SELECT event_id, object_key FROM append_intents WHERE stream_key = $1 ORDER BY event_id',
    [streamKey],
  )
  if (intents.rows.length === 0) return 0
  for (const i of intents.rows) leftover?.add(i.event_id)
  const projected = await adoptObjects(
    tx,
    store,
    streamKey,
    intents.rows.map((i) => i.object_key),
    deps,
  )
  await tx.query('DELETE FROM append_intents WHERE stream_key = $1', [streamKey])
  return projected
}

/**
 * Adopts the stream's objects after its projected head: what an append that failed after writing them
 * leaves behind when its intents were in its own transaction (PGlite, one connection) and so are gone.
 */
export async function settleFromStore(tx: Queryable, store: ObjectStore, streamKey: string, deps: SettleDeps): Promise<number> {
  const head = await tx.query<{ head_event_id: string }>('SELECT head_event_id FROM streams WHERE stream_key = $1', [streamKey])
  const prefix = streamEventsPrefix(parseStreamKey(streamKey))
  const keys: string[] = []
  let startAfter = head.rows[0] ? `${prefix}${head.rows[0].head_event_id}.json` : undefined
  for (;;) {
    const page = await store.list(prefix, { limit: 1000, ...(startAfter ? { startAfter } : {}) })
    keys.push(...page)
    if (page.length < 1000) break
    startAfter = page[page.length - 1]
  }
  return keys.length ? adoptObjects(tx, store, streamKey, keys, deps) : 0
}

/**
 * Projects receipt objects that are in the store but not in the projection, in order, under the
 * stream's lock: each is checked against the projection's state by the same rules as an append. Stops
 * at the first missing object (objects are written in chain order, so nothing after a gap belongs).
 */
export async function adoptObjects(
  tx: Queryable,
  store: ObjectStore,
  streamKey: string,
  objectKeys: readonly string[],
  deps: SettleDeps,
): Promise<number> {
  let projected = 0
  for (const key of objectKeys) {
    const bytes = await store.get(key)
    if (!bytes) break
    const checked = parseReceipt(utf8DecodeStrict(bytes), deps.sha256)
    const already = await tx.query('SELECT 1 FROM receipts WHERE stream_key = $1 AND event_id = $2', [streamKey, checked.receipt.eventId])
    if (already.rows.length) continue
    const view = await DbLedgerView.load(tx, streamKey, [checked])
    const acceptance = await evaluateReceipt(checked, view, deps.verifier, deps.policy)
    view.apply(acceptance)
    await commitAccepted(tx, deps.relaySigner, streamKey, acceptance, [...view.stream()!.owners][0] ?? checked.receipt.issuer.identityId)
    projected++
  }
  return projected
}
