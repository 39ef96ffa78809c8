import canonicalize from 'canonicalize'
import { utf8Encode } from './encoding.js'
import { PixpaxError } from './errors.js'

/**
 * RFC 8785 (JCS) canonical text of a JSON value. The value must already be valid PixPax JSON
 * (`parseStrictJson` output or checked with `assertJsonValue`); JCS itself is delegated to the
 * `canonicalize` package, the implementation by the RFC's author line of work.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new PixpaxError('SCHEMA_INVALID', 'value has no JSON representation')
  return text
}

/** RFC 8785 canonical UTF-8 bytes of a JSON value. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8Encode(canonicalJson(value))
}

/**
 * The canonical text of an object and of the same object without some of its members, from one
 * canonicalization of each member: RFC 8785 writes an object as its members sorted by key (UTF-16 code
 * units, as Array.prototype.sort orders strings), each value canonical on its own, so both texts are the
 * same member texts in the same order, one with fewer of them. A receipt needs both: its body (no
 * `hash`, no `signature`) is what is hashed and signed, and its whole text is the object's bytes.
 *
 * `value` must be JSON as `assertJsonValue` defines it (checkReceipt checks that first): the members are
 * then written by `checkedCanonicalJson`, which skips the checks `canonicalize` repeats on every string.
 */
export function canonicalJsonWithout(value: Record<string, unknown>, omit: ReadonlySet<string>): { whole: string; without: string } {
  // A receipt as stored and delivered is canonical text, so once parsed its members are in canonical
  // order at every level; JSON.stringify then writes exactly its RFC 8785 text, natively.
  // Each member is written once and joined into both texts (two whole stringifies and a copy of the
  // object cost twice as much on the catch-up's main thread).
  if (membersInCanonicalOrder(value)) {
    let whole = '{'
    let without = '{'
    for (const key of Object.keys(value)) {
      const text = `${JSON.stringify(key)}:${JSON.stringify(value[key])}`
      whole += whole.length === 1 ? text : `,${text}`
      if (!omit.has(key)) without += without.length === 1 ? text : `,${text}`
    }
    return { whole: `${whole}}`, without: `${without}}` }
  }
  let whole = '{'
  let without = '{'
  for (const key of Object.keys(value).sort()) {
    const member = value[key]
    if (member === undefined) continue // as JSON (and canonicalize) drop undefined members
    const text = `${JSON.stringify(key)}:${checkedCanonicalJson(member)}`
    whole += whole.length === 1 ? text : `,${text}`
    if (!omit.has(key)) without += without.length === 1 ? text : `,${text}`
  }
  return { whole: `${whole}}`, without: `${without}}` }
}

/**
 * The canonical text of an object without some of its members — `canonicalJsonWithout(...).without`
 * alone, for callers that never need the whole text (a client checking delivered receipts): building
 * the whole text too cost a second string per receipt that stayed alive until its batch was applied.
 * `value` must be JSON as `assertJsonValue` defines it.
 */
export function canonicalJsonOmitting(value: Record<string, unknown>, omit: ReadonlySet<string>): string {
  const kept: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    if (omit.has(key)) continue
    // A plain assignment of "__proto__" would set the prototype instead of creating the member.
    if (key === '__proto__') Object.defineProperty(kept, key, { value: value[key], enumerable: true, writable: true, configurable: true })
    else kept[key] = value[key]
  }
  // In canonical order JSON.stringify writes the RFC 8785 text natively, in one pass.
  return membersInCanonicalOrder(kept) ? JSON.stringify(kept) : checkedCanonicalJson(kept)
}

/**
 * RFC 8785 text of a value already known to be JSON (finite numbers, well-formed strings, plain objects
 * and arrays, no cycles — what `assertJsonValue` or `parseStrictJson` guarantee). For such values JCS is
 * JSON.stringify on every leaf (ECMAScript number and string serialization are what RFC 8785 §3.2.2
 * specifies) with object members sorted by UTF-16 code units. It is the catch-up hot path: every
 * delivered receipt is canonicalized once, and `canonicalize` re-scans each string for lone surrogates
 * and tracks a set of seen objects, which a checked value cannot need. Property-tested against
 * `canonicalJson` (shared/test/jcs.test.ts).
 */
export function checkedCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (i > 0) out += ','
      // As JSON.stringify and canonicalize do: an array hole or undefined is null.
      out += item === undefined ? 'null' : checkedCanonicalJson(item)
    }
    return `${out}]`
  }
  const record = value as Record<string, unknown>
  let out = '{'
  for (const key of Object.keys(record).sort()) {
    const member = record[key]
    if (member === undefined) continue
    if (out.length > 1) out += ','
    out += `${JSON.stringify(key)}:${checkedCanonicalJson(member)}`
  }
  return `${out}}`
}

/**
 * Whether every object in a checked JSON value lists its members sorted by UTF-16 code units (the order
 * RFC 8785 writes them in; `<` on strings compares code units, as Array.prototype.sort does) with no
 * undefined member. For such a value JSON.stringify is its canonical text.
 */
function membersInCanonicalOrder(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (item === undefined || !membersInCanonicalOrder(item)) return false
    }
    return true
  }
  const record = value as Record<string, unknown>
  let previous: string | undefined
  for (const key of Object.keys(record)) {
    if (previous !== undefined && !(previous < key)) return false
    const member = record[key]
    if (member === undefined || !membersInCanonicalOrder(member)) return false
    previous = key
  }
  return true
}
