/**
 * Shape tests shared by the hand-written fast accepts of zod schemas (receipt-envelope.ts,
 * receipts-message.ts). Each is at least as strict as the zod check it stands in for, so a value these
 * accept is one zod accepts too; anything else goes to zod.
 */

/**
 * A non-array object as JSON.parse makes it: prototype Object.prototype or null, and no own
 * `constructor` function (zod's `isPlainObject`, which z.record uses, then inspects that function).
 */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return false
  return !Object.hasOwn(value, 'constructor') || typeof (value as { constructor?: unknown }).constructor !== 'function'
}

/**
 * Every enumerable key of `value` (`for…in`, as zod's strict objects enumerate them) is an own key and
 * one of `keys`, and there are `count` of them (the required keys plus the optional ones present).
 */
export function hasOnlyOwnKeys(value: Record<string, unknown>, keys: ReadonlySet<string>, count = keys.size): boolean {
  let n = 0
  for (const key in value) {
    if (!keys.has(key) || !Object.hasOwn(value, key)) return false
    n++
  }
  return n === count
}
