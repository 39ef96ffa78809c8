/**
 * The client's view of identities and streams for verifying what the relay delivers: the same state the
 * shared MemoryLedger keeps (built with the shared `nextIdentityState` / `nextStreamState`, so the rules
 * agree), plus two things of its own:
 *
 * - key revocations are placed by the relay's acceptance `position`, so a receipt accepted before a
 *   revocation still verifies when it is delivered after it (streams arrive one at a time, not
 *   interleaved as they were accepted);
 * - the whole state can be written out and read back (`toSnapshot` / `fromSnapshot`), which is what lets
 *   `SyncClient.open` start from its stored verified state instead of replaying the local log
 *   (start-snapshot.ts binds that snapshot to the log).
 */
import { receiptTag, recordAcceptance, type Acceptance, type IdentityState, type LedgerView, type StreamState } from '@pixpax/shared'

/** The ledger's state as JSON (`decodeState` restores its Maps and Sets). */
export interface LedgerSnapshot {
  identities: unknown
  streams: unknown
  revokedAt: unknown
  /** One receipt tag per line (see receiptTag). */
  receipts: string
  /** `identityId idempotencyKey`, one per line (neither can hold a space or newline)… */
  idempotency: string
  /** …and the hash of the receipt that used it, on the same line of this one. */
  idempotencyHashes: string
}

export class ClientLedger implements LedgerView {
  private identities = new Map<string, IdentityState>()
  private streams = new Map<string, StreamState>()
  private receipts = new Set<string>()
  private idempotencyKeys = new Map<string, string>()
  /** identityId → publicKeyId → position of the KEY_REVOKED that revoked it. */
  private revokedAt = new Map<string, Map<string, number>>()
  /** The position of the receipt being evaluated (undefined: treat every revocation as in force). */
  current: number | undefined

  /** An identity's state with every revocation seen in force (where a key was seen, whatever its position). */
  rawIdentity(identityId: string): IdentityState | undefined {
    return this.identities.get(identityId)
  }

  identity(identityId: string): IdentityState | undefined {
    const state = this.identities.get(identityId)
    if (!state || this.current === undefined) return state
    const revocations = this.revokedAt.get(identityId)
    if (!revocations) return state
    const keys = new Map(state.keys)
    for (const [keyId, position] of revocations) {
      const key = keys.get(keyId)
      if (key) keys.set(keyId, { ...key, revoked: position < this.current })
    }
    return { ...state, keys }
  }
  stream(key: string): StreamState | undefined {
    return this.streams.get(key)
  }
  hasReceipt(streamKey: string, eventId: string, hash: string): boolean {
    return this.receipts.has(receiptTag(streamKey, eventId, hash))
  }
  idempotency(identityId: string, idempotencyKey: string): string | undefined {
    return this.idempotencyKeys.get(`${identityId} ${idempotencyKey}`)
  }

  apply(acceptance: Acceptance, position: number | undefined): void {
    const { checked } = acceptance
    const { receipt } = checked
    recordAcceptance(
      { identities: this.identities, streams: this.streams, receipts: this.receipts, idempotencyKeys: this.idempotencyKeys },
      checked,
    )
    if (receipt.type === 'KEY_REVOKED') {
      const identityId = receipt.issuer.identityId
      const map = this.revokedAt.get(identityId) ?? new Map<string, number>()
      map.set(receipt.payload.publicKeyId as string, position ?? Number.MAX_SAFE_INTEGER)
      this.revokedAt.set(identityId, map)
    }
  }

  /**
   * The whole state as JSON. The per-receipt parts (fork detection, idempotency) are newline-joined
   * strings, not arrays: one long string parses at memcpy speed, 100k small ones do not.
   */
  toSnapshot(): LedgerSnapshot {
    return {
      identities: encodeState(this.identities),
      streams: encodeState(this.streams),
      revokedAt: encodeState(this.revokedAt),
      receipts: [...this.receipts].join('\n'),
      idempotency: [...this.idempotencyKeys.keys()].join('\n'),
      idempotencyHashes: [...this.idempotencyKeys.values()].join('\n'),
    }
  }

  /** A ledger holding exactly the state `toSnapshot` wrote (throws on a malformed snapshot). */
  static fromSnapshot(snapshot: LedgerSnapshot): ClientLedger {
    const ledger = new ClientLedger()
    const identities = decodeState(snapshot.identities)
    const streams = decodeState(snapshot.streams)
    const revokedAt = decodeState(snapshot.revokedAt)
    if (!(identities instanceof Map) || !(streams instanceof Map) || !(revokedAt instanceof Map))
      throw new Error('ledger snapshot: not the shape toSnapshot writes')
    if (typeof snapshot.receipts !== 'string' || typeof snapshot.idempotency !== 'string' || typeof snapshot.idempotencyHashes !== 'string')
      throw new Error('ledger snapshot: per-receipt state missing')
    ledger.identities = identities as Map<string, IdentityState>
    ledger.streams = streams as Map<string, StreamState>
    ledger.revokedAt = revokedAt as Map<string, Map<string, number>>
    ledger.receipts = new Set(snapshot.receipts === '' ? [] : snapshot.receipts.split('\n'))
    if (snapshot.idempotency !== '') {
      const keys = snapshot.idempotency.split('\n')
      const hashes = snapshot.idempotencyHashes.split('\n')
      if (keys.length !== hashes.length) throw new Error('ledger snapshot: idempotency keys and hashes differ in number')
      for (let i = 0; i < keys.length; i++) ledger.idempotencyKeys.set(keys[i]!, hashes[i]!)
    }
    return ledger
  }
}

const MAP = '__map'
const SET = '__set'

/** JSON for a value of plain objects, arrays, Maps and Sets (the ledger's states are made of these). */
export function encodeState(value: unknown): unknown {
  if (value instanceof Map) return { [MAP]: [...value].map(([k, v]) => [encodeState(k), encodeState(v)]) }
  if (value instanceof Set) return { [SET]: [...value].map(encodeState) }
  if (Array.isArray(value)) return value.map(encodeState)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encodeState(v)
    return out
  }
  return value
}

/** The inverse of encodeState. */
export function decodeState(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeState)
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>
    if (Array.isArray(record[MAP]))
      return new Map((record[MAP] as unknown[]).map((pair) => (pair as unknown[]).map(decodeState) as [unknown, unknown]))
    if (Array.isArray(record[SET])) return new Set((record[SET] as unknown[]).map(decodeState))
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(record)) out[k] = decodeState(v)
    return out
  }
  return value
}
