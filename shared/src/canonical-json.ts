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
