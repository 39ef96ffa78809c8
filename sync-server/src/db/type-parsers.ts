/**
 * Result types that pg and PGlite must agree on, so projection code (and digests of projection rows)
 * behave the same on both. Their defaults differ: int8 is a string in pg and a lossy number in PGlite;
 * bytea is a Buffer in pg and a Uint8Array in PGlite.
 *
 * - int8 (bigint, count(*), sum of ints) → number, throwing on values outside ±(2^53−1) rather than
 *   rounding them (PixPax integers are safe integers by construction: ARCHITECTURE §2).
 * - bytea → plain Uint8Array.
 * Unchanged, and already the same on both: int4 → number, numeric → string, json/jsonb → parsed,
 * timestamptz → Date, text[] → string[].
 */
export const INT8_OID = 20
export const INT8_ARRAY_OID = 1016
export const BYTEA_OID = 17

export function parseInt8(text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is outside the safe integer range`)
  return n
}
