/** leafData's fast path gives exactly the JCS bytes the schema-checked path gives, and refuses what it refuses. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalBytes, leafData, PixpaxError } from '../src/index.js'

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const ulid = fc
  .tuple(fc.constantFrom(...'01234567'), fc.array(fc.constantFrom(...crockford), { minLength: 25, maxLength: 25 }))
  .map(([first, rest]) => first + rest.join(''))
const hash = fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: 64, maxLength: 64 }).map((h) => 'sha256:' + h.join(''))
const id = fc.array(fc.constantFrom(...'abcXYZ019_-'), { minLength: 1, maxLength: 64 }).map((c) => c.join(''))
const stream = fc
  .tuple(fc.constantFrom('pixbook', 'identity', 'profile'), fc.array(id, { minLength: 1, maxLength: 3 }))
  .map(([t, ids]) => [t, ...ids].join('/'))

describe('leafData', () => {
  it('is the JCS of the four members for every well-formed entry', () => {
    fc.assert(
      fc.property(ulid, hash, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), stream, (eventId, h, seq, s) => {
        const entry = { stream: s, seq, hash: h, eventId } // key order of the input does not matter
        expect(Buffer.from(leafData(entry)).toString()).toBe(Buffer.from(canonicalBytes(entry)).toString())
      }),
    )
  })

  it('refuses malformed entries with SCHEMA_INVALID, as before', () => {
    const good = { eventId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', hash: 'sha256:' + 'ab'.repeat(32), seq: 3, stream: 'pixbook/a/b' }
    for (const bad of [
      { ...good, seq: 1.5 },
      { ...good, seq: 0 },
      { ...good, eventId: '01arz3ndektsv4rrffq69g5fav' },
      { ...good, hash: 'sha256:' + 'AB'.repeat(32) },
      { ...good, stream: 'pixbook/a"b' },
      { ...good, extra: 1 },
    ]) {
      expect(() => leafData(bad)).toThrow(PixpaxError)
    }
  })
})
