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

/** The cross-stream rule of a receipt's type, if its domain declares one. */
export function crossStreamRule(checked: CheckedReceipt): CrossStreamRule | undefined {
  return receiptRules(checked.spec, checked.receipt.type)?.crossStream
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
