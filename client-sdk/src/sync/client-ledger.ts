/**
 * The client's view of identities and streams for verifying what the relay delivers. It wraps the shared
 * MemoryLedger with one addition: key revocations are placed by the relay's acceptance `position`, so
 * a receipt accepted before a revocation still verifies when it is delivered after it (streams arrive
 * one at a time, not interleaved as they were accepted).
 */
import { MemoryLedger, type Acceptance, type IdentityState, type LedgerView, type StreamState } from '@pixpax/shared'

export class ClientLedger implements LedgerView {
  readonly inner = new MemoryLedger()
  /** identityId → publicKeyId → position of the KEY_REVOKED that revoked it. */
  private readonly revokedAt = new Map<string, Map<string, number>>()
  /** The position of the receipt being evaluated (undefined: treat every revocation as in force). */
  current: number | undefined

  identity(identityId: string): IdentityState | undefined {
    const state = this.inner.identity(identityId)
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
    return this.inner.stream(key)
  }
  hasReceipt(streamKey: string, eventId: string, hash: string): boolean {
    return this.inner.hasReceipt(streamKey, eventId, hash)
  }
  idempotency(identityId: string, idempotencyKey: string): string | undefined {
    return this.inner.idempotency(identityId, idempotencyKey)
  }

  apply(acceptance: Acceptance, position: number | undefined): void {
    this.inner.apply(acceptance)
    const { receipt } = acceptance.checked
    if (receipt.type === 'KEY_REVOKED') {
      const identityId = receipt.issuer.identityId
      const map = this.revokedAt.get(identityId) ?? new Map<string, number>()
      map.set(receipt.payload.publicKeyId as string, position ?? Number.MAX_SAFE_INTEGER)
      this.revokedAt.set(identityId, map)
    }
  }
}
