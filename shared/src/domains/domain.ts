/**
 * What a domain module declares (ARCHITECTURE §7): its stream types and, for each receipt type, the
 * payload schema, who may issue it and the hooks for everything else about it. The generic rules in
 * chain.ts (key lookup, signature, revocation, authority, genesis, chain, idempotency) call these hooks
 * and name no receipt type themselves, so adding a receipt type is adding one entry to one module.
 */
import { z } from 'zod'
import type { PublicJwk } from '../crypto/jwk.js'
import type { IdentityState, LedgerView, StreamState, TrustPolicy } from '../chain.js'
import type { CheckedReceipt } from '../receipt.js'
import type { ReceiptTypeSpec, StreamTypeSpec } from '../streams.js'

/**
 * The hooks of one receipt type, each optional. The rules call them in the order of `docs/receipts.md`
 * §7; a hook refuses a receipt by throwing a PixpaxError.
 */
export interface ReceiptRules {
  /**
   * For a receipt signed by a key it introduces itself (an identity's first key): that key, after
   * checking it is the one `issuer.publicKeyId` names (KEY_UNKNOWN). Undefined when the ordinary lookup
   * of the issuer's keys applies.
   */
  readonly selfSignedKey?: (checked: CheckedReceipt, view: LedgerView) => PublicJwk | undefined
  /**
   * A public key the receipt makes known (before it is accepted): lets a verifier start checking
   * signatures under it ahead of the ordered rules. Whether the key is valid is still decided in order.
   */
  readonly introducedKey?: (checked: CheckedReceipt) => PublicJwk
  /** Authority beyond the issuer roles that depends on the trust policy (NOT_AUTHORIZED); runs after them. */
  readonly authorize?: (checked: CheckedReceipt, policy: TrustPolicy) => void
  /**
   * Stateful rules the payload schema cannot say (STREAM_RULE_VIOLATION), after the genesis rules and
   * before the chain. `stream` is the stream's state before this receipt (undefined: not opened yet).
   */
  readonly check?: (checked: CheckedReceipt, stream: StreamState | undefined, view: LedgerView) => void
  /** The accepted receipt's effect on its issuer's identity state (keys); returns the new state. */
  readonly applyIdentity?: (checked: CheckedReceipt, identity: IdentityState | undefined) => IdentityState
  /**
   * The accepted receipt's effect on its stream's state (account members, owners), applied in place
   * after count and head moved. `opened`: this receipt opened the stream.
   */
  readonly applyStream?: (checked: CheckedReceipt, stream: StreamState, opened: boolean) => void
}

/** A receipt type as a domain declares it: its registry entry and its hooks, side by side. */
export interface DomainReceiptType extends ReceiptTypeSpec, ReceiptRules {}

/** A stream type as a domain declares it: a registry entry whose receipt types carry their hooks. */
export interface DomainStreamType extends StreamTypeSpec {
  readonly receipts: Readonly<Record<string, DomainReceiptType>>
}

/** One domain in `@pixpax/shared`: registered in `DOMAINS` (domains/index.ts), read by streams.ts. */
export interface DomainModule {
  /** A short name, e.g. `identity`, `pixbook`. */
  readonly name: string
  /** The stream types the domain owns, in registry order. */
  readonly streamTypes: readonly DomainStreamType[]
}

/** A payload string of 1..max UTF-16 code units (`text(n)` in docs/receipts.md). */
export const text = (max: number) => z.string().min(1).max(max)
