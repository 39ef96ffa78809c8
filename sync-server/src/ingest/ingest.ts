/**
 * The append path's front door (ARCHITECTURE §1): check each receipt on its own (schema, canonical hash,
 * eventId time), start its signature verification ahead of any lock, group it by stream, and hand the
 * groups to the replica's group-commit appender (appender.ts).
 */
import {
  checkReceipt,
  introducedKey,
  jwkThumbprint,
  PixpaxError,
  startVerification,
  ulidTime,
  type CheckedReceipt,
  type EarlyVerification,
  type PublicJwk,
  type Sha256,
  type SignatureVerifier,
} from '@pixpax/shared'
import { Appender, storedResults, type AppenderDeps } from './appender.js'
import { rejected, type AcceptedResult, type IngestResult, type StreamGroup } from './commit-batch.js'

export type { AcceptedResult, IngestResult, RejectedResult } from './commit-batch.js'

export interface IngestDeps extends AppenderDeps {
  verifier: SignatureVerifier
  sha256: Sha256
  /** The relay's clock (injected in tests). */
  now?: () => number
  /** Called after receipts of one stream are acknowledged (metrics). */
  /** After a request's receipts of one stream were accepted; awaited before the request is answered. */
  onAccepted?: (streamKey: string, accepted: AcceptedResult[]) => void | Promise<void>
}

/** How far in the future an eventId's time may be: clocks drift, but not by this much. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000

/**
 * A ULID from the far future would freeze its stream (every later eventId must be greater), so the relay
 * refuses eventIds whose time is more than MAX_CLOCK_SKEW_MS ahead of its own clock.
 */
function checkEventIdTime(checked: CheckedReceipt, now: number): void {
  const time = ulidTime(checked.receipt.eventId)
  if (time > now + MAX_CLOCK_SKEW_MS) {
    throw new PixpaxError(
      'EVENT_ID_ORDER',
      `eventId time ${new Date(time).toISOString()} is more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes ahead of the relay's clock`,
    )
  }
}

/** Public keys by thumbprint. A thumbprint names exactly one key, so an entry can never be stale. */
class KeyCache {
  readonly #keys = new Map<string, PublicJwk>()
  constructor(private readonly capacity = 10_000) {}
  get(kid: string): PublicJwk | undefined {
    const key = this.#keys.get(kid)
    if (key) {
      this.#keys.delete(kid)
      this.#keys.set(kid, key)
    }
    return key
  }
  set(kid: string, key: PublicJwk): void {
    this.#keys.delete(kid)
    this.#keys.set(kid, key)
    if (this.#keys.size > this.capacity) this.#keys.delete(this.#keys.keys().next().value!)
  }
}

export class Ingestor {
  readonly appender: Appender
  readonly #keys = new KeyCache()

  constructor(private readonly deps: IngestDeps) {
    this.appender = new Appender(deps)
  }

  /** Appends receipts (any streams; each stream's receipts in chain order). One result per input. */
  async ingest(values: readonly unknown[]): Promise<IngestResult[]> {
    const results: IngestResult[] = new Array<IngestResult>(values.length)
    const groups = new Map<string, Array<{ index: number; checked: CheckedReceipt }>>()
    const now = this.deps.now?.() ?? Date.now()
    values.forEach((value, index) => {
      try {
        const checked = checkReceipt(value, this.deps.sha256)
        checkEventIdTime(checked, now)
        const group = groups.get(checked.streamKey) ?? []
        group.push({ index, checked })
        groups.set(checked.streamKey, group)
      } catch (error) {
        const eventId =
          typeof (value as { eventId?: unknown })?.eventId === 'string'
            ? String((value as { eventId: string }).eventId).slice(0, 64)
            : undefined
        results[index] = rejected(error, eventId)
      }
    })
    if (groups.size === 0) return results
    const early = await this.verifyAhead([...groups.values()].flat().map((g) => g.checked))
    const streamGroups: StreamGroup[] = [...groups].map(([streamKey, group]) => ({
      streamKey,
      receipts: group.map((g) => g.checked),
      early,
    }))
    const out = await this.deps.log.ready().then(() => this.appender.append(streamGroups))
    const hooks: Array<Promise<void>> = []
    ;[...groups.values()].forEach((group, i) => {
      const accepted: AcceptedResult[] = []
      group.forEach((g, j) => {
        const result = out[i]![j]!
        results[g.index] = result
        if (result.ok) accepted.push(result)
      })
      const streamKey = streamGroups[i]!.streamKey
      if (accepted.length && this.deps.onAccepted) hooks.push(Promise.resolve(this.deps.onAccepted(streamKey, accepted)))
    })
    await Promise.all(hooks)
    return results
  }

  /**
   * Starts every signature verification before taking any lock. A publicKeyId is a thumbprint, so the
   * key it names is fixed; whether that key is still valid for its identity is decided in the batch.
   */
  private async verifyAhead(checked: CheckedReceipt[]): Promise<Map<CheckedReceipt, EarlyVerification>> {
    const known = new Map<string, PublicJwk>()
    for (const c of checked) {
      const key = introducedKey(c)
      if (key) known.set(jwkThumbprint(key), key)
    }
    const wanted = new Set<string>()
    for (const c of checked) {
      const kid = c.receipt.issuer.publicKeyId
      if (known.has(kid)) continue
      const cached = this.#keys.get(kid)
      if (cached) known.set(kid, cached)
      else wanted.add(kid)
    }
    if (wanted.size) {
      const rows = await this.deps.db.query<{ public_key_id: string; public_key: PublicJwk | string }>(
        'SELECT DISTINCT ON (public_key_id) public_key_id, public_key FROM identity_keys WHERE public_key_id = ANY($1::text[])',
        [[...wanted]],
      )
      for (const r of rows.rows) {
        const key = typeof r.public_key === 'string' ? (JSON.parse(r.public_key) as PublicJwk) : r.public_key
        this.#keys.set(r.public_key_id, key)
        known.set(r.public_key_id, key)
      }
    }
    const out = new Map<CheckedReceipt, EarlyVerification>()
    for (const c of checked) {
      const publicKey = known.get(c.receipt.issuer.publicKeyId)
      if (publicKey) out.set(c, startVerification(this.deps.verifier, publicKey, c.canonical, c.signature))
    }
    return out
  }

  /** The first result for (identity, idempotencyKey), outside any lock: the fast path for retries. */
  async lookupIdempotent(identityId: string, idempotencyKey: string): Promise<AcceptedResult | undefined> {
    const found = (await storedResults(this.deps.db, this.deps.relaySigner, [{ identityId, idempotencyKey }])).get(
      `${identityId} ${idempotencyKey}`,
    )
    if (found) await this.deps.log.waitFor(found.position + 1) // never an ack ahead of its checkpoint
    return found
  }
}
