/**
 * A delivered batch is proven by its checkpoint (docs/sync-protocol.md, "Delivery proofs"): each
 * receipt's leaf — the JCS bytes of {eventId, hash, seq, stream} — must be in the checkpoint's tree at the
 * receipt's `position`, all of them shown by one multi-leaf inclusion proof. This replaces checking a
 * relay signature per receipt: catch-up costs one ECDSA verify per receipt (its own) plus hashing.
 */
import { base64Decode, leafData, leafHash, PixpaxError, verifyMultiInclusion, type Checkpoint, type Sha256 } from '@pixpax/shared'

/** What the proof needs of one delivered receipt. */
export interface DeliveredLeaf {
  seq: number
  position: number
  receipt: unknown
}

/**
 * Throws unless `proof` shows every delivered receipt of `streamKey` at its position in `checkpoint`'s
 * tree: LOG_INCONSISTENT (positions not increasing or past the checkpoint, or a proof that does not
 * verify), SCHEMA_INVALID (a receipt without a well-formed eventId and hash).
 */
export function verifyDeliveryProof(
  sha256: Sha256,
  streamKey: string,
  batch: readonly DeliveredLeaf[],
  checkpoint: Checkpoint,
  proof: readonly string[],
): void {
  const positions: number[] = []
  const leaves: Uint8Array[] = []
  let last = -1
  for (const d of batch) {
    if (d.position <= last || d.position >= checkpoint.size) {
      throw new PixpaxError(
        'LOG_INCONSISTENT',
        `receipt seq ${d.seq} is at position ${d.position}: not after ${last} and below the checkpoint's size ${checkpoint.size}`,
        { reason: 'position' },
      )
    }
    last = d.position
    const r = d.receipt as { eventId?: unknown; hash?: unknown } | null
    leaves.push(leafHash(sha256, leafData({ eventId: r?.eventId as string, hash: r?.hash as string, seq: d.seq, stream: streamKey })))
    positions.push(d.position)
  }
  const hashes = proof.map((h) => base64Decode(h) ?? new Uint8Array(0)) // a non-hash fails verification
  if (!verifyMultiInclusion(sha256, positions, leaves, checkpoint.size, hashes, checkpoint.root)) {
    throw new PixpaxError(
      'LOG_INCONSISTENT',
      `the batch of ${streamKey} (seq ${batch[0]?.seq}…${batch.at(-1)?.seq}) is not in the relay's checkpoint of size ${checkpoint.size}`,
      { reason: 'inclusion' },
    )
  }
}
