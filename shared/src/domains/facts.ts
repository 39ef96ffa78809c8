/**
 * Facts for rules across streams (ARCHITECTURE §7; the types are in domain.ts): an in-memory fact store
 * for verifiers that replay a whole log in log order, and the lookups the relay and the verifiers share.
 */
import type { CheckedReceipt } from '../receipt.js'
import { receiptRules } from '../streams.js'
import type { CrossStreamRule, FactChange, FactView } from './domain.js'
import { DOMAINS } from './index.js'

let relayKinds: ReadonlySet<string> | undefined
/** Kinds of facts that are relay state, not derived from the log: no offline verifier holds them. */
export function relayFactKinds(): ReadonlySet<string> {
  // Computed on first use: the domain modules import this module's neighbours while they load.
  relayKinds ??= new Set(
    DOMAINS.flatMap((d) => d.factKinds ?? [])
      .filter((k) => k.source === 'relay')
      .map((k) => k.name),
  )
  return relayKinds
}

/** A fact's key from its ids (ids never contain a space: ARCHITECTURE §3). */
export function factKey(...ids: readonly string[]): string {
  return ids.join(' ')
}

let everyReceipt: ReadonlyArray<Omit<CrossStreamRule, 'record'>> | undefined
/** A receipt type's rule with the domains' `everyReceipt` rules before it, composed once per rule. */
const composed = new WeakMap<object, CrossStreamRule>()
const NO_RULE = {}

/**
 * The cross-stream rule of a receipt: the `everyReceipt` rules of every domain (a ban), then its own
 * type's rule if its domain declares one.
 */
export function crossStreamRule(checked: CheckedReceipt): CrossStreamRule | undefined {
  const own = receiptRules(checked.spec, checked.receipt.type)?.crossStream
  // Computed on first use, as relayFactKinds: the domain modules load after this one.
  everyReceipt ??= DOMAINS.flatMap((d) => (d.everyReceipt ? [d.everyReceipt] : []))
  if (everyReceipt.length === 0) return own
  const key = own ?? NO_RULE
  let rule = composed.get(key)
  if (!rule) {
    const rules = [...everyReceipt, ...(own ? [own] : [])]
    rule = {
      reads: (c, facts) => rules.flatMap((r) => r.reads(c, facts)),
      decide: (c, facts, policy) => {
        for (const r of rules) r.decide?.(c, facts, policy)
      },
      ...(own?.record ? { record: own.record } : {}),
    }
    composed.set(key, rule)
  }
  return rule
}

const tag = (kind: string, key: string): string => `${kind}\n${key}`

/**
 * Every `log` fact of a log replayed from its start: an absent fact is one no receipt so far created.
 * Only valid for a whole log — a verifier of one stream's export cannot know other streams' facts and
 * must not decide on them (ChainVerifier's `crossStream` option is off by default).
 */
export class MemoryFacts implements FactView {
  private readonly values = new Map<string, unknown>()

  fact(kind: string, key: string): unknown {
    return this.values.get(tag(kind, key))
  }
  knows(kind: string): boolean {
    return !relayFactKinds().has(kind)
  }
  /** Records an accepted receipt's changes. */
  apply(changes: readonly FactChange[]): void {
    for (const { kind, key, value } of changes) {
      if (value === undefined) this.values.delete(tag(kind, key))
      else this.values.set(tag(kind, key), value)
    }
  }
}
