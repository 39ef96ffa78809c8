/**
 * Fast start-up: the sync engine's verified state (its ledger of identities and streams, and the head
 * it logged of every stream) stored in the local log (`LocalLog.putSnapshot`), so `SyncClient.open`
 * need not replay every receipt of the log to rebuild it.
 *
 * The snapshot is only a cache of what replaying the log yields, and it never outranks the log: it is
 * bound to the head (seq, eventId, hash) it saw of every stream, and used only where the log still has
 * exactly those receipts at those seqs.
 *
 * - Every stream's receipt at the snapshot's seq is the snapshot's: the snapshot is used, and only what
 *   the log holds beyond it (receipts logged after it was written, e.g. before a crash) is replayed.
 *   Streams the snapshot does not name are replayed whole.
 * - Anything else — a stream shorter than the snapshot says (a truncated log), another receipt at that
 *   seq (a rewritten log), a stream gone, a snapshot that does not parse or is of another version — and
 *   the whole log is replayed, as if there were no snapshot.
 *
 * Writing it is one `putSnapshot`, which every LocalLog makes atomic (a crash leaves the old snapshot or
 * the new one), and a stale snapshot is still a valid prefix, so when it is written is a matter of cost
 * only (the SyncClient writes it at `stop()` and once enough was logged since the last one).
 */
import { checkStreamRef, type CheckedReceipt } from '@pixpax/shared'
import type { LocalLog, LoggedReceipt } from '../storage/local-log.js'
import { ClientLedger, type LedgerSnapshot } from './client-ledger.js'

/** Bumped whenever the stored shape or the ledger's meaning changes: an old snapshot is then replayed over. */
export const START_SNAPSHOT_VERSION = 1

/** The stored form (`LocalLog.putSnapshot` text is its JSON). */
export interface StartSnapshot {
  v: typeof START_SNAPSHOT_VERSION
  /** The head the ledger had of every stream: what binds the snapshot to the log. */
  heads: Record<string, { seq: number; eventId: string; hash: string }>
  ledger: LedgerSnapshot
}

/** How the state was rebuilt, and how many receipts of the log had to be replayed for it. */
export interface RestoredState {
  ledger: ClientLedger
  heads: Map<string, LoggedReceipt>
  /** `snapshot`: the stored state was used (plus `replayed` receipts logged after it); `replay`: the whole log. */
  source: 'snapshot' | 'replay'
  replayed: number
  /** Why a stored snapshot was not used (absent when there was none, or it was used). */
  fallback?: string
}

/** The ledger keeps neither canonical bytes nor signatures; replayed receipts need none. */
const NOT_KEPT = new Uint8Array(0)

/** The text `putSnapshot` stores for this ledger and these heads. */
export function encodeStartSnapshot(ledger: ClientLedger, heads: ReadonlyMap<string, LoggedReceipt>): string {
  const snapshot: StartSnapshot = { v: START_SNAPSHOT_VERSION, heads: {}, ledger: ledger.toSnapshot() }
  for (const [key, logged] of heads) snapshot.heads[key] = { seq: logged.seq, eventId: logged.receipt.eventId, hash: logged.receipt.hash }
  return JSON.stringify(snapshot)
}

/**
 * Rebuilds a receipt of the local log into the ledger. It was verified before it was written (and the
 * log checks its chains when it opens), so it is not canonicalized and hashed again: a map update per
 * receipt, not a verification.
 */
export function replayTrusted(ledger: ClientLedger, heads: Map<string, LoggedReceipt>, logged: LoggedReceipt): void {
  const { receipt } = logged
  const checked: CheckedReceipt = {
    receipt,
    streamKey: logged.streamKey,
    spec: checkStreamRef(receipt.stream),
    canonical: NOT_KEPT,
    signature: NOT_KEPT,
  }
  ledger.apply({ checked, seq: logged.seq }, logged.position)
  heads.set(logged.streamKey, logged)
}

/** The engine's state for `log`: from its snapshot where that still describes the log, else by replaying all of it. */
export async function restoreVerifiedState(log: LocalLog): Promise<RestoredState> {
  let fallback: string | undefined
  const text = await log.getSnapshot()
  if (text !== undefined) {
    try {
      const restored = await fromSnapshot(log, text)
      if (typeof restored !== 'string') return restored
      fallback = restored
    } catch (error) {
      fallback = `the snapshot does not load: ${(error as Error).message}`
    }
  }
  const ledger = new ClientLedger()
  const heads = new Map<string, LoggedReceipt>()
  let replayed = 0
  for await (const logged of log.scan()) {
    replayTrusted(ledger, heads, logged)
    replayed++
  }
  return { ledger, heads, source: 'replay', replayed, ...(fallback !== undefined ? { fallback } : {}) }
}

/** The state from the snapshot plus the log's receipts after it, or why the snapshot does not fit the log. */
async function fromSnapshot(log: LocalLog, text: string): Promise<RestoredState | string> {
  const snapshot = JSON.parse(text) as StartSnapshot
  if (snapshot?.v !== START_SNAPSHOT_VERSION || typeof snapshot.heads !== 'object' || snapshot.heads === null)
    return `snapshot version ${String(snapshot?.v)} is not ${START_SNAPSHOT_VERSION}`
  const keys = await log.streamKeys()
  const present = new Set(keys)
  for (const key of Object.keys(snapshot.heads)) if (!present.has(key)) return `stream ${key} is no longer in the log`
  const heads = new Map<string, LoggedReceipt>()
  const tails: Array<{ key: string; after: number }> = []
  for (const key of keys) {
    const head = await log.head(key)
    if (!head) return `stream ${key} has no head`
    const bound = snapshot.heads[key]
    if (!bound) {
      tails.push({ key, after: 0 })
      continue
    }
    if (head.seq < bound.seq) return `stream ${key} is at seq ${head.seq}, the snapshot saw ${bound.seq} (truncated)`
    const atBound = head.seq === bound.seq ? head : (await log.read(key, bound.seq - 1, 1))[0]
    if (atBound?.receipt.eventId !== bound.eventId || atBound.receipt.hash !== bound.hash)
      return `stream ${key} has another receipt at seq ${bound.seq} than the snapshot saw (rewritten)`
    heads.set(key, head)
    if (head.seq > bound.seq) tails.push({ key, after: bound.seq })
  }
  const ledger = ClientLedger.fromSnapshot(snapshot.ledger)
  let replayed = 0
  // Identity streams first, as everywhere: a key is known before what it signed (the ledger does not
  // verify here, but it keeps the same order the live engine would).
  tails.sort((a, b) => Number(!a.key.startsWith('identity/')) - Number(!b.key.startsWith('identity/')))
  for (const { key, after } of tails) {
    for (const logged of await log.read(key, after)) {
      replayTrusted(ledger, heads, logged)
      replayed++
    }
  }
  return { ledger, heads, source: 'snapshot', replayed }
}
