/**
 * The relay signing as a platform issuer (ARCHITECTURE §3, §9): the issuer identity registers the
 * relay's custodial key for it (a KEY_ADDED it signs itself, as for any custodial key), and the
 * economy's routes then author that issuer's receipts — collections, drops, packs — through the same
 * Ingestor as any posted receipt: same rules, same ack.
 */
import {
  buildReceipt,
  parseReceipt,
  PixpaxError,
  utf8DecodeStrict,
  type ChainHead,
  type Receipt,
  type Signer,
  type StreamRef,
} from '@pixpax/shared'
import type { ProjectionDb } from '../../db/projection-db.js'
import { ApiError } from '../../errors.js'
import type { AcceptedResult, Ingestor } from '../../ingest/ingest.js'
import type { CustodialKeys } from '../../signing/custodial-keys.js'
import type { ObjectStore } from '../../stores/object-store.js'
import type { Sha256 } from '@pixpax/shared'
import { z } from 'zod'

export interface IssuedReceipt extends Omit<AcceptedResult, 'ok'> {
  receipt: Receipt
}

/** CHAIN_CONFLICT (another receipt took the head) and stale derivations are retried this many times. */
export const MAX_ISSUE_ATTEMPTS = 8

export interface IssueInput {
  identityId: string
  stream: StreamRef
  streamKey: string
  type: string
  genesis: boolean
  idempotencyKey: string
  payload: () => Promise<Record<string, unknown>>
  retry?: (error: { code: string; details?: Record<string, unknown> }) => boolean
}

export class CustodialIssuer {
  /** The last issue queued per stream in this process (see `issue`). */
  private readonly tails = new Map<string, Promise<unknown>>()

  constructor(private readonly deps: { db: ProjectionDb; store: ObjectStore; ingestor: Ingestor; sha256: Sha256; keys: CustodialKeys }) {}

  /** The issuer's registered, unrevoked custodial signer: else KEY_UNKNOWN / KEY_REVOKED (422). */
  async signer(identityId: string): Promise<Signer> {
    let signer: Signer | undefined
    try {
      signer = await this.deps.keys.get(identityId)
    } catch (cause) {
      throw new ApiError('UNAVAILABLE', 'custodial signing is unavailable; retry later', undefined, { cause })
    }
    const rows = signer
      ? (
          await this.deps.db.query<{ revoked_position: number | null }>(
            'SELECT revoked_position FROM identity_keys WHERE identity_id = $1 AND public_key_id = $2',
            [identityId, signer.publicKeyId],
          )
        ).rows
      : []
    if (!signer || rows.length === 0) {
      throw new ApiError(
        'KEY_UNKNOWN',
        `issuer ${identityId} has not registered a custodial key with this relay (GET /v1/identities/${identityId}/custodial-key, then a KEY_ADDED of it)`,
        { identityId },
      )
    }
    if (rows[0]!.revoked_position !== null)
      throw new ApiError('KEY_REVOKED', `the custodial key of ${identityId} is revoked`, { identityId })
    return signer
  }

  async head(streamKey: string): Promise<ChainHead | null> {
    const { rows } = await this.deps.db.query<{ head_event_id: string; head_hash: string }>(
      'SELECT head_event_id, head_hash FROM streams WHERE stream_key = $1',
      [streamKey],
    )
    return rows[0] ? { eventId: rows[0].head_event_id, hash: rows[0].head_hash } : null
  }

  /** The first result of (issuer, idempotencyKey) with its receipt, if that key was used. */
  async previous(identityId: string, idempotencyKey: string): Promise<IssuedReceipt | undefined> {
    const first = await this.deps.ingestor.lookupIdempotent(identityId, idempotencyKey)
    if (!first) return undefined
    const { rows } = await this.deps.db.query<{ object_key: string }>(
      'SELECT object_key FROM receipts WHERE stream_key = $1 AND seq = $2',
      [first.ack.stream, first.seq],
    )
    const bytes = rows[0] ? await this.deps.store.get(rows[0].object_key) : undefined
    if (!bytes) throw new ApiError('UNAVAILABLE', `receipt ${first.eventId} is missing from the object store`)
    const { ok: _ok, ...result } = first
    return { ...result, receipt: parseReceipt(utf8DecodeStrict(bytes), this.deps.sha256).receipt }
  }

  /**
   * Builds, signs and appends one receipt of `identityId` on the stream's current head; `payload` is
   * called again on every attempt (a derivation from fresh state). Refusals throw as ApiError with the
   * relay's code; `retry` says which refusals are worth another attempt.
   */
  issue(input: IssueInput): Promise<IssuedReceipt> {
    // One stream has one head: receipts this process signs into the same stream (20 codes redeemed into
    // one book at once) are issued one after the other, instead of racing for the head and spending
    // their CHAIN_CONFLICT retries. Other processes still race; the retries cover them.
    const before = this.tails.get(input.streamKey) ?? Promise.resolve()
    const run = before.then(
      () => this.issueNow(input),
      () => this.issueNow(input),
    )
    const tail = run.catch(() => undefined)
    this.tails.set(input.streamKey, tail)
    void tail.then(() => {
      if (this.tails.get(input.streamKey) === tail) this.tails.delete(input.streamKey)
    })
    return run
  }

  private async issueNow(input: IssueInput): Promise<IssuedReceipt> {
    const signer = await this.signer(input.identityId)
    for (let attempt = 1; ; attempt++) {
      const prev = input.genesis ? null : await this.head(input.streamKey)
      const receipt = await buildReceipt({
        stream: input.stream,
        type: input.type,
        payload: await input.payload(),
        identityId: input.identityId,
        signer,
        prev,
        idempotencyKey: input.idempotencyKey,
        sha256: this.deps.sha256,
      }).catch((cause: unknown) => {
        if (cause instanceof PixpaxError || cause instanceof ApiError) throw cause
        throw new ApiError('UNAVAILABLE', 'custodial signing is unavailable; retry later', undefined, { cause })
      })
      const [result] = await this.deps.ingestor.ingest([receipt])
      if (result!.ok) {
        const { ok: _ok, ...accepted } = result!
        return { ...accepted, receipt }
      }
      const { code, message, details } = result!.error
      const again = (code === 'CHAIN_CONFLICT' && !input.genesis) || input.retry?.({ code, ...(details ? { details } : {}) })
      if (again && attempt < MAX_ISSUE_ATTEMPTS) continue
      throw new ApiError(code, message, details)
    }
  }
}

/** The answer of a route that signed a receipt as an issuer. */
export const IssuedResponse = z.object({
  eventId: z.string(),
  seq: z.number(),
  position: z.number(),
  hash: z.string(),
  ack: z.record(z.string(), z.unknown()),
  receipt: z.record(z.string(), z.unknown()),
})

/** The JSON of a receipt the relay signed as an issuer (IssuedResponse). */
export const issuedJson = (r: IssuedReceipt) => ({
  eventId: r.eventId,
  seq: r.seq,
  position: r.position,
  hash: r.hash,
  ack: r.ack,
  receipt: r.receipt,
})
