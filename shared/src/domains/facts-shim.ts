// TEMPORARY: mirrors the facts API of /work/wt/FACTS-API.md until main has it (deleted on merge).
import type { TrustPolicy } from '../chain.js'
import type { CheckedReceipt } from '../receipt.js'
export interface FactRef {
  readonly kind: string
  readonly key: string
}
export interface FactView {
  fact(kind: string, key: string): unknown
  knows(kind: string): boolean
}
export interface FactChange {
  readonly kind: string
  readonly key: string
  readonly value: unknown
}
export interface CrossStreamRule {
  readonly reads: (checked: CheckedReceipt, facts: FactView) => readonly FactRef[]
  readonly decide?: (checked: CheckedReceipt, facts: FactView, policy: TrustPolicy) => void
  readonly record?: (checked: CheckedReceipt, facts: FactView) => readonly FactChange[]
}
