/**
 * Export and import of a local log as NDJSON — the format `pixpax verify` reads: one receipt per line,
 * in the relay's acceptance order (so key revocations fall where the relay placed them). With `proofs`
 * the export is an offline proof bundle (docs/log.md §10) that `pixpax verify --log` checks.
 */
import {
  ChainVerifier,
  formatBundleHeader,
  formatInclusionLine,
  isInclusionLine,
  PROOF_BUNDLE_FORMAT,
  streamKey,
  type Receipt,
  type Sha256,
  type SignatureVerifier,
  type TrustPolicy,
} from '@pixpax/shared'
import type { LocalLog, LoggedReceipt } from '../storage/local-log.js'
import { heldProofContext, type ProofSourceOptions } from './bundle-proofs.js'

export interface ExportOptions {
  /**
   * Make an offline proof bundle: a header with the newest checkpoint this client verified and the relay
   * key it pinned, and after each receipt its inclusion proof in that checkpoint's tree, computed from log
   * tiles (`relayTileSource(relayUrl)`) and checked against the checkpoint before it is written. Every
   * receipt must have come from the relay (imported ones have no position): otherwise NOT_FOUND.
   */
  proofs?: ProofSourceOptions
}

/** Lines (each ending in "\n") of the whole log, ordered by acceptance position. */
export async function* exportNdjson(log: LocalLog, options: ExportOptions = {}): AsyncGenerator<string> {
  // Positions come from the relay; receipts without one (imported) keep their local order after them.
  const all: LoggedReceipt[] = []
  for await (const logged of log.scan()) all.push(logged)
  const order = new Map(all.map((r, i) => [r, i]))
  all.sort((a, b) => (a.position ?? Number.MAX_SAFE_INTEGER) - (b.position ?? Number.MAX_SAFE_INTEGER) || order.get(a)! - order.get(b)!)
  if (!options.proofs) {
    for (const logged of all) yield JSON.stringify(logged.receipt) + '\n'
    return
  }
  const proofs = await heldProofContext(log, options.proofs)
  yield formatBundleHeader(proofs.header)
  for (const logged of all) {
    const hashes = await proofs.inclusion(logged)
    yield JSON.stringify(logged.receipt) + '\n'
    yield formatInclusionLine({ position: logged.position!, seq: logged.seq, hashes })
  }
}

export interface ImportResult {
  imported: number
  skipped: number
  errors: Array<{ line: number; code: string; message: string }>
}

/**
 * Verifies NDJSON lines (a plain export or a proof bundle) (as `pixpax verify` would, in file order, against what the log already holds)
 * and appends the valid ones that extend the log. Nothing unverified enters the log.
 */
export async function importNdjson(
  log: LocalLog,
  lines: AsyncIterable<string> | Iterable<string>,
  options: { verifier: SignatureVerifier; sha256?: Sha256; trust?: TrustPolicy },
): Promise<ImportResult> {
  const chain = new ChainVerifier({ verifier: options.verifier, ...(options.sha256 ? { sha256: options.sha256 } : {}), ...options.trust })
  // Seed the verifier with what is already local, so imported receipts chain onto it.
  for await (const logged of log.scan()) await chain.add(logged.receipt)
  const result: ImportResult = { imported: 0, skipped: 0, errors: [] }
  let n = 0
  for await (const raw of lines) {
    n++
    const text = raw.trim()
    if (!text) continue
    // A proof bundle imports like a plain export: its header and proof lines are not receipts.
    if (isInclusionLine(text) || text.startsWith(`{"bundle":"${PROOF_BUNDLE_FORMAT}"`)) continue
    if (alreadyHeld(chain, text)) {
      result.skipped++
      continue
    }
    const verdict = await chain.add(text)
    if (!verdict.ok) {
      result.errors.push({ line: n, code: verdict.code, message: verdict.message })
      continue
    }
    await log.append([{ streamKey: verdict.streamKey, seq: verdict.seq, receipt: JSON.parse(text) as LoggedReceipt['receipt'] }])
    result.imported++
  }
  return result
}

/** Whether the exact receipt on this line is already in the log (re-importing an export is a no-op). */
function alreadyHeld(chain: ChainVerifier, text: string): boolean {
  try {
    const r = JSON.parse(text) as Receipt
    return chain.ledger.hasReceipt(streamKey(r.stream), r.eventId, r.hash)
  } catch {
    return false // the verifier reports it
  }
}
