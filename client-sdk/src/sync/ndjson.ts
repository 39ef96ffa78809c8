/**
 * Export and import of a local log as NDJSON — the format `pixpax verify` reads: one receipt per line,
 * in the relay's acceptance order (so key revocations fall where the relay placed them).
 */
import { ChainVerifier, streamKey, type Receipt, type Sha256, type SignatureVerifier, type TrustPolicy } from '@pixpax/shared'
import type { LocalLog, LoggedReceipt } from '../storage/local-log.js'

/** Lines (each ending in "\n") of the whole log, ordered by acceptance position. */
export async function* exportNdjson(log: LocalLog): AsyncGenerator<string> {
  // Positions come from the relay; receipts without one (imported) keep their local order after them.
  const all: LoggedReceipt[] = []
  for await (const logged of log.scan()) all.push(logged)
  const order = new Map(all.map((r, i) => [r, i]))
  all.sort((a, b) => (a.position ?? Number.MAX_SAFE_INTEGER) - (b.position ?? Number.MAX_SAFE_INTEGER) || order.get(a)! - order.get(b)!)
  for (const logged of all) yield JSON.stringify(logged.receipt) + '\n'
}

export interface ImportResult {
  imported: number
  skipped: number
  errors: Array<{ line: number; code: string; message: string }>
}

/**
 * Verifies NDJSON lines (as `pixpax verify` would, in file order, against what the log already holds)
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
