/**
 * A store written by hand: exactly the given receipts as its acceptance log, in that order — the receipt
 * objects, the tiles and entry bundles, and a checkpoint signed by `signer` — what a relay would have
 * written had it accepted them in this order, whether or not the rules allow it. For verify-store and
 * rebuild tests of histories no honest relay produces.
 */
import {
  canonicalBytes,
  CHECKPOINT_PATH,
  EMPTY_TREE,
  integrate,
  leafData,
  signCheckpoint,
  streamEventsPrefix,
  streamKey,
  type Receipt,
  type Signer,
} from '@pixpax/shared'
import { nodeSha256 } from '@pixpax/shared/node'
import type { ObjectStore } from '../../src/stores/object-store.js'

export const FORGED_LOG_ORIGIN = 'pixpax.local/log'

export const receiptObjectKey = (r: Receipt): string => `${streamEventsPrefix(r.stream)}${r.eventId}.json`

export async function writeLog(
  store: ObjectStore,
  entries: ReadonlyArray<{ receipt: Receipt; seq: number }>,
  signer: Signer,
  origin = FORGED_LOG_ORIGIN,
): Promise<void> {
  for (const { receipt } of entries) await store.putIfAbsent(receiptObjectKey(receipt), canonicalBytes(receipt), 'application/json')
  const leaves = entries.map(({ receipt, seq }) =>
    leafData({ eventId: receipt.eventId, hash: receipt.hash, seq, stream: streamKey(receipt.stream) }),
  )
  const { root, tiles, entryBundles } = integrate(nodeSha256, EMPTY_TREE, leaves)
  for (const o of [...tiles, ...entryBundles]) await store.put(o.path, o.bytes, 'application/octet-stream')
  const note = await signCheckpoint({ origin, size: leaves.length, root }, origin, signer)
  await store.put(CHECKPOINT_PATH, new TextEncoder().encode(note), 'text/plain; charset=utf-8')
}
