/**
 * verify-store: checks the object store on its own, with no database — the log and every receipt in it.
 * - the checkpoint's signature (when the relay's key is given) and its root, recomputed from the entry
 *   bundles, and every stored hash tile against the recomputed ones;
 * - every log entry's receipt object: present, exactly the receipt the entry names, in the log once;
 * - every receipt, in log order, through the shared ChainVerifier: schema, hash, signature, key validity
 *   at its log position (so a revoked key is refused from its revocation on), authority, chain, seq;
 * - supply conservation over the accepted receipts (shared SupplyCheck): for every card, issued ≤ supply
 *   and issued = held + burned, from the log alone (`supply`; SUPPLY_NOT_CONSERVED errors otherwise).
 * Receipt objects in the store that the log does not name (a crashed append's leftovers that were never
 * adopted) are listed as orphans: they are not part of the history.
 */
import {
  bytesEqual,
  ChainVerifier,
  EMPTY_TREE,
  integrate,
  STREAM_TYPES,
  SupplyCheck,
  verifySignedCheckpoint,
  type Receipt,
  type SupplyReport,
  type PublicJwk,
  type Sha256,
  type SignatureVerifier,
  type TrustPolicy,
} from '@pixpax/shared'
import { listKeys, type ObjectStore } from '../stores/object-store.js'
import { loggedReceipts, readStoreCheckpoint, storeEntries } from './log-reader.js'

export interface StoreVerification {
  ok: boolean
  logSize: number
  receipts: number
  streams: number
  errorsByCode: Record<string, number>
  errors: Array<{ position?: number; objectKey: string; code: string; message: string }>
  /** Receipt objects the log does not name. */
  orphans: string[]
  /** Supply conservation; `cards` lists the failing cards. */
  supply: SupplyReport
}

export interface VerifyStoreOptions extends TrustPolicy {
  /** The relay's checkpoint key (name = origin); without it the signature is not checked. */
  relayKey?: { name: string; publicKey: PublicJwk }
  /** Called every 1000 receipts. */
  progress?: (done: { receipts: number; total: number }) => void
}

export async function verifyStore(
  store: ObjectStore,
  verifier: SignatureVerifier,
  sha256: Sha256,
  options: VerifyStoreOptions = {},
): Promise<StoreVerification> {
  const result: StoreVerification = {
    ok: true,
    logSize: 0,
    receipts: 0,
    streams: 0,
    errorsByCode: {},
    errors: [],
    orphans: [],
    supply: { ok: true, instances: 0, cards: [], problems: [] },
  }
  const supply = new SupplyCheck()
  const fail = (code: string, message: string, objectKey = '', position?: number): void => {
    result.ok = false
    result.errorsByCode[code] = (result.errorsByCode[code] ?? 0) + 1
    if (result.errors.length < 1000) result.errors.push({ ...(position !== undefined ? { position } : {}), objectKey, code, message })
  }
  const stored = await readStoreCheckpoint(store).catch((error: Error) => {
    fail('LOG_INCONSISTENT', `the checkpoint cannot be read: ${error.message}`, 'pixpax/log/checkpoint')
    return undefined
  })
  const size = stored?.checkpoint.size ?? 0
  result.logSize = size
  if (stored && options.relayKey) {
    await verifySignedCheckpoint(stored.note, options.relayKey, verifier).catch((error: Error) =>
      fail('LOG_INCONSISTENT', error.message, 'pixpax/log/checkpoint'),
    )
  }

  // The tree from the entries, tile by tile, compared with what the store holds.
  let state = EMPTY_TREE
  const pendingLeaves: Uint8Array[] = []
  const checkTiles = async (leaves: Uint8Array[]): Promise<void> => {
    const step = integrate(sha256, state, leaves)
    state = step.state
    const objects = [...step.tiles, ...step.entryBundles]
    // Only tiles whose width is final at the checkpoint's size must exist: intermediate partial ones may be gone.
    const stable = objects.filter((o) => !o.path.includes('.p/') || state.size === size)
    const found = await Promise.all(stable.map((o) => store.get(o.path)))
    stable.forEach((o, i) => {
      const bytes = found[i]
      if (!bytes) fail('LOG_INCONSISTENT', `log tile ${o.path} is missing`, o.path)
      else if (!bytesEqual(bytes, o.bytes)) fail('LOG_INCONSISTENT', `log tile ${o.path} does not match the entries`, o.path)
    })
  }

  // The store's log is the whole log from position 0, in log order: the rules across streams apply too.
  const chain = new ChainVerifier({ verifier, sha256, ...options, crossStream: true })
  const inLog = new Set<string>()
  const streams = new Set<string>()
  const window: Array<{ key: string; position: number; seq: number; receipt: Receipt; prepared: ReturnType<ChainVerifier['prepare']> }> = []
  const commitOne = async (): Promise<void> => {
    const item = window.shift()!
    const verdict = await chain.commit(item.prepared)
    if (!verdict.ok) fail(verdict.code, verdict.message, item.key, item.position)
    else if (verdict.seq !== item.seq)
      fail('LOG_INCONSISTENT', `log entry ${item.position} says seq ${item.seq}, the chain says ${verdict.seq}`, item.key, item.position)
    else {
      result.receipts++
      supply.add(item.receipt)
    }
    if (result.receipts % 1000 === 0) options.progress?.({ receipts: result.receipts, total: size })
  }
  const entries = storeEntries(store, size)
  const tee = async function* (): AsyncGenerator<{ position: number; data: Uint8Array }> {
    for await (const e of entries) {
      pendingLeaves.push(e.data)
      if (pendingLeaves.length === 256) await checkTiles(pendingLeaves.splice(0))
      yield e
    }
  }
  try {
    for await (const logged of loggedReceipts(tee(), store, sha256)) {
      if (logged.objectKey && inLog.has(logged.objectKey))
        fail('LOG_INCONSISTENT', `${logged.objectKey} is in the log twice`, logged.objectKey, logged.position)
      if (logged.objectKey) inLog.add(logged.objectKey) // named by the log, even if broken: not an orphan
      if (logged.problem || !logged.checked) {
        fail(logged.problem!.code, logged.problem!.message, logged.objectKey, logged.position)
        continue
      }
      streams.add(logged.entry.stream)
      window.push({
        key: logged.objectKey,
        position: logged.position,
        seq: logged.entry.seq,
        receipt: logged.checked.receipt,
        prepared: chain.prepareChecked(logged.checked),
      })
      if (window.length >= 512) await commitOne()
    }
    while (window.length) await commitOne()
    await checkTiles(pendingLeaves.splice(0))
    if (stored && !bytesEqual(integrate(sha256, state, []).root, stored.checkpoint.root)) {
      fail('LOG_INCONSISTENT', `the entries' root does not match the checkpoint's root at size ${size}`, 'pixpax/log/checkpoint')
    }
  } catch (error) {
    fail('LOG_INCONSISTENT', `the log cannot be read: ${(error as Error).message}`)
  }
  result.streams = streams.size
  result.supply = supply.report()
  for (const c of result.supply.cards)
    fail(
      'SUPPLY_NOT_CONSERVED',
      `card ${c.cardId} of ${c.collectionId}: supply ${c.supply ?? 'unlimited'}, issued ${c.issued}, held ${c.held}, burned ${c.burned}`,
    )
  for (const p of result.supply.problems) fail('SUPPLY_NOT_CONSERVED', `receipt ${p.eventId}: ${p.problem}`)

  // Receipt objects the log does not name.
  for (const spec of Object.values(STREAM_TYPES)) {
    for await (const key of listKeys(store, `pixpax/${spec.plural}/`)) {
      if (/\/events\/[^/]+\.json$/.test(key) && !inLog.has(key)) result.orphans.push(key)
    }
  }
  options.progress?.({ receipts: result.receipts, total: size })
  return result
}
