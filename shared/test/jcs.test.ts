/**
 * RFC 8785 (JCS) against the reference test data of cyberphone/json-canonicalization: the six
 * input/output pairs byte for byte, and the ES6 number serialization sample (10,000 doubles).
 * canonicalJson is plain JCS and must handle floats here; refusing floats is parseStrictJson's policy.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  bytesToHex,
  canonicalBytes,
  canonicalJson,
  canonicalJsonOmitting,
  canonicalJsonWithout,
  checkedCanonicalJson,
  checkReceipt,
  receiptBody,
} from '../src/index.js'
import { nodeSha256 } from '../src/node/index.js'
import { actor, author, makeIdentityCreated, make, pixbookStream } from '../src/testing/index.js'
import { listVectorDir, readVectorBytes, readVectorText } from './support/vectors.js'

const JCS = 'test-vectors/jcs'
const CASES = ['arrays', 'french', 'structures', 'unicode', 'values', 'weird'] as const

describe('RFC 8785 reference input/output pairs', () => {
  it('has exactly the six vendored cases in input/, output/ and outhex/', () => {
    expect(listVectorDir(`${JCS}/input`)).toEqual(CASES.map((c) => `${c}.json`))
    expect(listVectorDir(`${JCS}/output`)).toEqual(CASES.map((c) => `${c}.json`))
    expect(listVectorDir(`${JCS}/outhex`)).toEqual(CASES.map((c) => `${c}.txt`))
  })

  for (const name of CASES) {
    it(`${name}: canonicalJson(JSON.parse(input)) equals output/${name}.json byte for byte and outhex/${name}.txt`, () => {
      const input = readVectorText(`${JCS}/input/${name}.json`)
      const expectedBytes = readVectorBytes(`${JCS}/output/${name}.json`)
      const hex = readVectorText(`${JCS}/outhex/${name}.txt`)
        .split(/\s+/)
        .filter((h) => h.length > 0)
      expect(hex.length).toBe(expectedBytes.length)
      expect(hex.every((h) => /^[0-9a-f]{2}$/.test(h))).toBe(true)

      const text = canonicalJson(JSON.parse(input))
      const bytes = canonicalBytes(JSON.parse(input))
      expect(text).toBe(readVectorText(`${JCS}/output/${name}.json`))
      expect(bytes).toEqual(expectedBytes)
      expect(bytesToHex(bytes)).toBe(hex.join(''))
      // Canonical output is a fixed point.
      expect(canonicalJson(JSON.parse(text))).toBe(text)
    })
  }
})

describe('ES6 number serialization (es6testfile10k.txt)', () => {
  function doubleFromHex(hex: string): number {
    if (!/^[0-9a-f]{1,16}$/.test(hex)) throw new Error(`bad ieee754 hex ${JSON.stringify(hex)}`)
    const view = new DataView(new ArrayBuffer(8))
    view.setBigUint64(0, BigInt('0x' + hex))
    return view.getFloat64(0)
  }

  it('canonicalJson(number) matches the expected text on all 10,000 lines', () => {
    const lines = readVectorText(`${JCS}/es6testfile10k.txt`).split('\n')
    expect(lines.pop()).toBe('') // the file ends with a newline, nothing after it
    expect(lines.length).toBe(10_000)
    const wrong: string[] = []
    let checked = 0
    for (const [i, line] of lines.entries()) {
      const comma = line.indexOf(',')
      if (comma < 1) throw new Error(`line ${i + 1} is not "hex,expected": ${JSON.stringify(line)}`)
      const value = doubleFromHex(line.slice(0, comma))
      const expected = line.slice(comma + 1)
      const actual = canonicalJson(value)
      if (actual !== expected) wrong.push(`line ${i + 1}: ${line} → ${actual}`)
      checked++
    }
    expect(wrong.slice(0, 20)).toEqual([])
    expect(wrong.length).toBe(0)
    expect(checked).toBe(10_000)
  })

  it("spot checks (the file's hand-picked edge cases, and 1e20)", () => {
    expect(canonicalJson(doubleFromHex('0'))).toBe('0')
    expect(canonicalJson(doubleFromHex('8000000000000000'))).toBe('0') // −0 serializes as 0
    expect(canonicalJson(doubleFromHex('1'))).toBe('5e-324')
    expect(canonicalJson(doubleFromHex('7fefffffffffffff'))).toBe('1.7976931348623157e+308')
    expect(canonicalJson(doubleFromHex('4340000000000000'))).toBe('9007199254740992')
    expect(canonicalJson(doubleFromHex('444b1ae4d6e2ef50'))).toBe('1e+21')
    expect(canonicalJson(doubleFromHex('4415af1d78b58c40'))).toBe('100000000000000000000')
  })
})

describe('canonicalJsonWithout (two canonical texts from one canonicalization per member)', () => {
  // Keys that sort differently by code unit than by code point or locale, and that need escaping.
  const key = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.constantFrom('hash', 'signature', 'a"b', '\u0000', 'é', 'E', '\u{1F600}', '\uFB33'),
  )
  const object = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 12 })

  it('equals canonicalJson of the whole object and of the object without the omitted members', () => {
    fc.assert(
      fc.property(object, fc.subarray(['hash', 'signature', 'a"b', 'é']), (value, omitted) => {
        const omit = new Set(omitted)
        const { whole, without } = canonicalJsonWithout(value, omit)
        expect(whole).toBe(canonicalJson(value))
        expect(without).toBe(canonicalJson(Object.fromEntries(Object.entries(value).filter(([k]) => !omit.has(k)))))
      }),
      { numRuns: 500 },
    )
  })

  it('canonicalJsonOmitting is its `without` text alone, whatever the members’ order (as parsed from canonical text, too)', () => {
    fc.assert(
      fc.property(object, fc.subarray(['hash', 'signature', 'a"b', 'é']), (value, omitted) => {
        const omit = new Set(omitted)
        const { without } = canonicalJsonWithout(value, omit)
        expect(canonicalJsonOmitting(value, omit)).toBe(without)
        const inCanonicalOrder = JSON.parse(canonicalJson(value)) as Record<string, unknown>
        expect(canonicalJsonOmitting(inCanonicalOrder, omit)).toBe(without)
        expect(canonicalJsonWithout(inCanonicalOrder, omit)).toEqual(canonicalJsonWithout(value, omit))
      }),
      { numRuns: 500 },
    )
    expect(canonicalJsonOmitting({ b: 1, a: undefined, c: [1, 'x'] }, new Set(['c']))).toBe('{"b":1}')
    const proto = JSON.parse('{"__proto__":{"x":1},"a":2}') as Record<string, unknown>
    expect(canonicalJsonOmitting(proto, new Set(['a']))).toBe('{"__proto__":{"x":1}}')
  })

  it('drops undefined members as canonicalize does', () => {
    expect(canonicalJsonWithout({ b: 1, a: undefined, c: [1, 'x'] }, new Set(['c']))).toEqual({
      whole: '{"b":1,"c":[1,"x"]}',
      without: '{"b":1}',
    })
  })
})

describe('checkedCanonicalJson (the fast path for values already checked as JSON)', () => {
  const key = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.constantFrom('a"b', '\u0000', 'é', 'E', '\u{1F600}', '\uFB33', '\u2028'),
  )
  const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('\u0000\u001f"\\/\u007f', '\u2028\u2029', '\u{10FFFF}'))
  const value = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.maxSafeInteger(),
      text,
      fc.array(tie('json'), { maxLength: 5 }),
      fc.dictionary(key, tie('json'), { maxKeys: 6 }),
    ),
  })).json

  it('equals canonicalJson (the canonicalize package) on any JSON value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(checkedCanonicalJson(v)).toBe(canonicalJson(v))
      }),
      { numRuns: 2000 },
    )
  })

  it('equals the RFC 8785 reference outputs', () => {
    for (const name of CASES) {
      const input = JSON.parse(readVectorText(`${JCS}/input/${name}.json`)) as unknown
      expect(checkedCanonicalJson(input)).toBe(new TextDecoder().decode(readVectorBytes(`${JCS}/output/${name}.json`)))
    }
  })
})

describe('checkReceipt gives the whole receipt text with its canonical body', () => {
  it('text is canonicalJson(receipt) and canonical is canonicalJson of the body, for every receipt of a chain', async () => {
    const a = author()
    const alice = actor('alice', 'acc-1')
    const created = await makeIdentityCreated(a, alice)
    const book = await make(a, {
      by: alice,
      stream: pixbookStream('acc-1', 'b1'),
      type: 'PIXBOOK_CREATED',
      payload: { title: 'Über "quotes" ✓' },
      prev: null,
    })
    for (const receipt of [created, book]) {
      const checked = checkReceipt(JSON.parse(JSON.stringify(receipt)), nodeSha256)
      expect(checked.text).toBe(canonicalJson(receipt))
      expect(new TextDecoder().decode(checked.canonical)).toBe(canonicalJson(receiptBody(receipt)))
    }
  })
})
