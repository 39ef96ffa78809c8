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
 */
export function canonicalJsonWithout(value: Record<string, unknown>, omit: ReadonlySet<string>): { whole: string; without: string } {
  const all: string[] = []
  const kept: string[] = []
  for (const key of Object.keys(value).sort()) {
    const member = value[key]
    if (member === undefined) continue // as JSON (and canonicalize) drop undefined members
    const text = `${canonicalJson(key)}:${canonicalJson(member)}`
    all.push(text)
    if (!omit.has(key)) kept.push(text)
  }
  return { whole: `{${all.join(',')}}`, without: `{${kept.join(',')}}` }
}
