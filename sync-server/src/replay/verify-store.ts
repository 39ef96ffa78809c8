/**
 * verify-store: re-verifies every stored chain with the shared verifier — schema, hash, signature, key
 * authority, stream rules, chain — and counts problems by code. Identity streams go first. The store
 * does not record the acceptance order across streams, so a key's revocation cannot be placed relative
 * to other streams' receipts: here every key an identity ever had counts as valid for non-identity
 * streams (the relay refused revoked keys at acceptance; exports in acceptance order keep the strict
 * check, see docs).
 */
import { ChainVerifier, type IdentityState, type LedgerView, type Sha256, type SignatureVerifier, type TrustPolicy } from '@pixpax/shared'
import type { ObjectStore } from '../stores/object-store.js'
import { readObjects } from './rebuild.js'
import { walkStreams } from './store-walk.js'

export interface StoreVerification {
  ok: boolean
  receipts: number
  streams: number
  errorsByCode: Record<string, number>
  errors: Array<{ objectKey: string; code: string; message: string }>
}

export async function verifyStore(
  store: ObjectStore,
  verifier: SignatureVerifier,
  sha256: Sha256,
  policy: TrustPolicy = {},
): Promise<StoreVerification> {
  const chain = new ChainVerifier({ verifier, sha256, ...policy })
  // Revocation-blind view of identities for non-identity streams (see above).
  const ledger = chain.ledger
  const identity = ledger.identity.bind(ledger)
  const blind: Pick<LedgerView, 'identity'> = {
    identity(id: string): IdentityState | undefined {
      const state = identity(id)
      if (!state) return undefined
      return { ...state, keys: new Map([...state.keys].map(([k, v]) => [k, { ...v, revoked: false }])) }
    },
  }
  const result: StoreVerification = { ok: true, receipts: 0, streams: 0, errorsByCode: {}, errors: [] }
  for await (const { streamKey, objectKeys } of walkStreams(store)) {
    if (!streamKey.startsWith('identity/')) ledger.identity = blind.identity
    result.streams++
    for await (const { key, text } of readObjects(store, objectKeys)) {
      const verdict = await chain.add(text)
      if (verdict.ok) result.receipts++
      else {
        result.ok = false
        result.errorsByCode[verdict.code] = (result.errorsByCode[verdict.code] ?? 0) + 1
        if (result.errors.length < 1000) result.errors.push({ objectKey: key, code: verdict.code, message: verdict.message })
      }
    }
  }
  return result
}
