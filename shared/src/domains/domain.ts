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
  /** A rule across streams (ARCHITECTURE §7), decided from facts of the log prefix. */
  readonly crossStream?: CrossStreamRule
}

/**
 * A fact a cross-stream rule reads: `kind` is declared by a domain module (`social.handle`), `key` names
 * the row (ids joined by a space). Facts are what a rule needs to know about OTHER streams — a post's
 * author, a block, who owns a card — kept by the relay in its inline projections and, by an offline
 * verifier of a whole log, in memory.
 */
export interface FactRef {
  readonly kind: string
  readonly key: string
}

/** Facts at one point of the log. */
export interface FactView {
  /** The fact's JSON value; undefined when absent. */
  fact(kind: string, key: string): unknown
  /** False where the view cannot hold this kind (an offline verifier holds no `relay`-sourced kind). */
  knows(kind: string): boolean
}

/** A change an accepted receipt makes to a fact; `value` undefined deletes it. */
export interface FactChange {
  readonly kind: string
  readonly key: string
  readonly value: unknown
}

/**
 * A rule across streams. The relay loads (and locks) what `reads` names before `decide`, so a replica
 * never decides on a fact another replica is changing; `record` keeps the facts current for the
 * receipts after this one, in the same batch and on replay.
 */
export interface CrossStreamRule {
  /**
   * The facts `decide` and `record` read, given the facts known so far. Called again with what was
   * loaded until it names nothing new, so a second round may depend on the first (a post, then its
   * author's blocks).
   */
  readonly reads: (checked: CheckedReceipt, facts: FactView) => readonly FactRef[]
  /**
   * Refuses with `DOMAIN_RULE_VIOLATION` (details.rule names the rule). Runs after every shared rule
   * (signature, authority, chain, idempotency) passed.
   */
  readonly decide?: (checked: CheckedReceipt, facts: FactView, policy: TrustPolicy) => void
  /** The accepted receipt's changes to facts; only facts `reads` named. */
  readonly record?: (checked: CheckedReceipt, facts: FactView) => readonly FactChange[]
}

/**
 * A kind of fact a domain keeps. `log`: a pure function of receipts in log order (an offline verifier
 * replaying a whole log keeps it too); `relay`: relay state that is not in the log (validated media),
 * so rules reading it must skip where `knows` is false.
 */
export interface FactKindSpec {
  readonly name: string
  readonly source: 'log' | 'relay'
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
  /** The fact kinds its cross-stream rules read (names prefixed with the domain's name). */
  readonly factKinds?: readonly FactKindSpec[]
  /**
   * A cross-stream rule every receipt of every domain passes before its own type's (social: a banned
   * issuer's receipts are refused, whatever the stream). It reads and decides; it records nothing.
   */
  readonly everyReceipt?: Omit<CrossStreamRule, 'record'>
}

/** A payload string of 1..max UTF-16 code units (`text(n)` in docs/receipts.md). */
export const text = (max: number) => z.string().min(1).max(max)
