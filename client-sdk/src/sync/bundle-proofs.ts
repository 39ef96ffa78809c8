/**
 * Inclusion proofs for an offline proof bundle (docs/log.md §10), against the newest checkpoint the client
 * verified. They are computed from the log's tiles — fetched from the relay, or any copy of its object
 * store — rather than asked for one by one: a tile serves the proofs of up to 256 neighbouring receipts.
 * Nothing fetched is trusted: each proof is checked against the held checkpoint's root before it is used.
 */
import {
  base64Decode,
  hashAtFromTiles,
  inclusionProof,
  leafData,
  leafHash,
  LOG_PREFIX,
  nobleSha256,
  PixpaxError,
  tileReaderFromStore,
  verifyInclusion,
  type BundleHeader,
  type NodeHashSource,
  type Sha256,
} from '@pixpax/shared'
import type { LocalLog, LoggedReceipt } from '../storage/local-log.js'
import { META_CHECKPOINT, type HeldCheckpoint } from './checkpoint-verifier.js'
import { META_RELAY_PIN, type RelayPin } from './relay-trust.js'

/** Reads a log object at its store path (`pixpax/log/tile/…`); undefined when it does not exist. */
export type LogObjectSource = (path: string) => Promise<Uint8Array | undefined>

export interface ProofSourceOptions {
  /** Where the tiles come from: `relayTileSource(relayUrl)`, or a copied object store. */
  tiles: LogObjectSource
  sha256?: Sha256
}

/** The relay's public tile routes (`GET /v1/log/tile/…`, docs/log.md §6) as a LogObjectSource. */
export function relayTileSource(relayUrl: string, fetchFn: typeof fetch = (input, init) => fetch(input, init)): LogObjectSource {
  const base = relayUrl.replace(/\/$/, '')
  return async (path) => {
    if (!path.startsWith(LOG_PREFIX)) throw new RangeError(`${path} is not a log object`)
    const response = await fetchFn(`${base}/v1/log/${path.slice(LOG_PREFIX.length)}`)
    if (response.status === 404) return undefined
    if (!response.ok) throw new PixpaxError('UNAVAILABLE', `the relay answered ${response.status} for ${path}`)
    return new Uint8Array(await response.arrayBuffer())
  }
}

/** Node hashes are shared by neighbouring receipts' proofs: compute each once per export. */
function memo(hashAt: NodeHashSource): NodeHashSource {
  const cache = new Map<string, Promise<Uint8Array>>()
  return (height, index) => {
    const key = `${height}/${index}`
    let hash = cache.get(key)
    if (!hash) {
      hash = hashAt(height, index)
      cache.set(key, hash)
    }
    return hash
  }
}

export interface HeldProofContext {
  header: BundleHeader
  /** The verified inclusion proof of a logged receipt in the held checkpoint's tree. */
  inclusion(logged: LoggedReceipt): Promise<Uint8Array[]>
}

/**
 * The held checkpoint and pinned relay key (from the local log), and a proof maker over the tiles.
 * NOT_FOUND when the client holds no checkpoint by its pinned key (it never synced), or for a receipt
 * the held checkpoint does not cover; LOG_INCONSISTENT when the tiles do not prove a receipt.
 */
export async function heldProofContext(log: LocalLog, options: ProofSourceOptions): Promise<HeldProofContext> {
  const sha256 = options.sha256 ?? nobleSha256
  const pin = (await log.getMeta(META_RELAY_PIN)) as RelayPin | undefined
  const held = (await log.getMeta(META_CHECKPOINT)) as HeldCheckpoint | undefined
  if (!pin || !held || held.relayKeyId !== pin.publicKeyId || held.size === 0)
    throw new PixpaxError('NOT_FOUND', 'no checkpoint verified under the pinned relay key is held: sync with the relay first')
  const root = base64Decode(held.root)!
  const hashAt = memo(hashAtFromTiles(sha256, held.size, tileReaderFromStore(options.tiles)))
  return {
    header: { checkpoint: held.note, relay: { publicKeyId: pin.publicKeyId, publicKey: pin.publicKey } },
    async inclusion(logged) {
      const { position } = logged
      const eventId = logged.receipt.eventId
      if (position === undefined)
        throw new PixpaxError('NOT_FOUND', `receipt ${eventId} has no log position (it was imported, not delivered by the relay)`)
      if (position >= held.size)
        throw new PixpaxError('NOT_FOUND', `receipt ${eventId} at position ${position} is beyond the held checkpoint (${held.size})`)
      const hashes = await inclusionProof(sha256, position, held.size, hashAt)
      const leaf = leafHash(sha256, leafData({ eventId, hash: logged.receipt.hash, seq: logged.seq, stream: logged.streamKey }))
      if (!verifyInclusion(sha256, position, held.size, leaf, hashes, root))
        throw new PixpaxError('LOG_INCONSISTENT', `the log's tiles do not prove receipt ${eventId} at position ${position}`, {
          reason: 'inclusion',
        })
      return hashes
    },
  }
}
