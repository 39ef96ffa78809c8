import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PixpaxError, assertJsonValue, canonicalJson, lineAndColumn, parseStrictJson, type ErrorCode } from '../src/index.js'
import { parseStrictJsonByGrammar } from '../src/strict-json.js'

/** The PixpaxError parseStrictJson throws for `text` (fails the test if it does not throw one). */
function parseError(text: string, options?: { maxDepth?: number }): PixpaxError {
  try {
    parseStrictJson(text, options)
  } catch (error) {
    if (error instanceof PixpaxError) return error
    throw new Error(`expected a PixpaxError, got ${String(error)}`)
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`)
}

function expectRefused(text: string, code: ErrorCode, line: number, column: number): PixpaxError {
  const error = parseError(text)
  expect({ code: error.code, line: error.details?.['line'], column: error.details?.['column'] }, JSON.stringify(text)).toEqual({
    code,
    line,
    column,
  })
  expect(error.message).toContain(`line ${line} column ${column}`)
  const offset = error.details?.['offset']
  expect(typeof offset).toBe('number')
  expect(lineAndColumn(text, offset as number)).toEqual({ line, column })
  return error
}

describe('parseStrictJson: DUPLICATE_KEY', () => {
  it('refuses a repeated key and points at the second occurrence', () => {
    const error = expectRefused('{"a":1,"a":2}', 'DUPLICATE_KEY', 1, 8)
    expect(error.details?.['key']).toBe('a')
    expect(error.message).toContain('"a"')
  })

  it('finds duplicates in nested objects, with the right line and column', () => {
    const text = '{\n  "outer": {\n    "b": 1,\n    "c": [ { "x": 1 } ],\n    "b": 2\n  }\n}'
    const error = expectRefused(text, 'DUPLICATE_KEY', 5, 5)
    expect(error.details?.['key']).toBe('b')
    expectRefused('[{"k":1},{"k":1,"z":{"q":0,"q":0}}]', 'DUPLICATE_KEY', 1, 28)
  })

  it('compares keys after unescaping ("a" and "\\u0061" are the same key)', () => {
    expectRefused('{"a":1,"\\u0061":2}', 'DUPLICATE_KEY', 1, 8)
    expectRefused('{"é":1, "e\u0301":2, "\\u00e9":3}', 'DUPLICATE_KEY', 1, 17)
  })

  it('keys equal only after Unicode normalization are different keys', () => {
    expect(parseStrictJson('{"é":1,"e\u0301":2}')).toEqual({ é: 1, 'e\u0301': 2 })
  })

  it('the same key in sibling objects is fine', () => {
    expect(parseStrictJson('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }])
  })
})

describe('parseStrictJson: JSON_INVALID, with line and column', () => {
  it.each([
    ['trailing comma in array', '[1,2,]', 1, 6],
    ['trailing comma in object', '{"a":1,}', 1, 8],
    ['trailing comma on a later line', '{\n  "a": 1,\n}', 3, 1],
    ['unterminated string', '"abc', 1, 5],
    ['unterminated string in object', '{"a":"b', 1, 8],
    ['bad escape', '"a\\x"', 1, 3],
    ['bad escape on line 2', '[\n "ok", "\\q"]', 2, 9],
    ['bad \\u escape', '"\\u12G4"', 1, 4],
    ['leading zero', '01', 1, 2],
    ['leading zeros in array', '[1, 007]', 1, 6],
    ['negative leading zero', '-01', 1, 3],
    ['BOM', '\ufeff{}', 1, 1],
    ['trailing garbage', '{} x', 1, 4],
    ['two values', '1 2', 1, 3],
    ['trailing garbage on a new line', '{"a":1}\n]', 2, 1],
    ['empty input', '', 1, 1],
    ['whitespace only', ' \n\t', 2, 2],
    ['raw newline in string', '"a\nb"', 1, 3],
    ['raw tab in string', '{"k":"x\ty"}', 1, 8],
    ['raw NUL in string', '"\u0000"', 1, 2],
    ['control char after an escape', '"\\n\u001f"', 1, 4],
    ['single quotes', "{'a':1}", 1, 2],
    ['unquoted key', '{a:1}', 1, 2],
    ['missing colon', '{"a" 1}', 1, 6],
    ['missing comma', '[1 2]', 1, 4],
    ['bad literal', '[tru]', 1, 2],
    ['capitalized literal', 'True', 1, 1],
    ['NaN', 'NaN', 1, 1],
    ['Infinity', '-Infinity', 1, 2],
    ['plus sign', '+1', 1, 1],
    ['bare minus', '-', 1, 2],
    ['fraction without digits', '1.', 1, 3],
    ['exponent without digits', '1e', 1, 3],
    ['exponent sign without digits', '2E+', 1, 4],
    ['unexpected end in array', '[1,', 1, 4],
    ['unclosed object', '{"a":1', 1, 7],
    ['comment', '{"a":1 /* c */}', 1, 8],
    ['non-JSON whitespace (NBSP)', '\u00a01', 1, 1],
    ['vertical tab', '[\u000b1]', 1, 2],
  ])('%s', (_name, text, line, column) => {
    expectRefused(text, 'JSON_INVALID', line, column)
  })

  it('every JSON_INVALID text is also refused by JSON.parse', () => {
    for (const text of ['[1,2,]', '"abc', '"a\\x"', '01', '\ufeff{}', '{} x', '', '"a\nb"', '1.', '-']) {
      expect(() => JSON.parse(text) as unknown, JSON.stringify(text)).toThrow(SyntaxError)
    }
  })
})

describe('parseStrictJson: SCHEMA_INVALID', () => {
  it.each([
    ['1.5', 1, 1],
    ['1e3', 1, 1],
    ['1E3', 1, 1],
    ['1.0', 1, 1],
    ['-0.0', 1, 1],
    ['1e-2', 1, 1],
    ['2E+10', 1, 1],
    ['0.1', 1, 1],
    ['[0, 1.5]', 1, 5],
    ['{\n  "n": 10.25\n}', 2, 8],
  ])('refuses the float %j (JSON, but not PixPax JSON)', (text, line, column) => {
    const error = expectRefused(text, 'SCHEMA_INVALID', line, column)
    expect(error.message).toMatch(/floating-point/)
  })

  it.each([
    ['9007199254740992', 1, 1],
    ['-9007199254740992', 1, 1],
    ['12345678901234567890', 1, 1],
    ['{"big": 18446744073709551616}', 1, 9],
  ])('refuses the unsafe integer %s', (text, line, column) => {
    const error = expectRefused(text, 'SCHEMA_INVALID', line, column)
    expect(error.message).toMatch(/2\^53/)
  })

  it.each([
    ['"\\ud800"', 1, 2],
    ['"\\udc00"', 1, 2],
    ['"\\ud800x"', 1, 2],
    ['"ab\\ud800\\u0041"', 1, 4],
    ['"\\udc00\\ud800"', 1, 2],
    ['"\\ud83d\\ud83d\\ude00"', 1, 2],
    ['"\\ud800\\n"', 1, 2],
    ['{"\\udfff": 1}', 1, 3],
  ])('refuses the lone surrogate escape %s', (text, line, column) => {
    const error = expectRefused(text, 'SCHEMA_INVALID', line, column)
    expect(error.message).toMatch(/lone surrogate/)
  })

  it.each([
    ['high surrogate', '"\ud800"', 1, 2],
    ['low surrogate', '"\udc00"', 1, 2],
    ['high surrogate before text', '"x\ud800y"', 1, 3],
    ['reversed pair', '"\udc00\ud800"', 1, 2],
    ['escaped high + raw low', '"\\ud800\udc00"', 1, 2],
    ['raw high + escaped low', '"\ud800\\udc00"', 1, 2],
    ['in a key', '{"\ud800":1}', 1, 3],
  ])('refuses a raw lone surrogate (%s)', (_name, text, line, column) => {
    const error = expectRefused(text, 'SCHEMA_INVALID', line, column)
    expect(error.message).toMatch(/lone surrogate/)
  })

  it('refuses nesting deeper than 64 (arrays, objects, mixed) and accepts exactly 64', () => {
    const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n)
    const objects = (n: number) => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1)
    const mixed = (n: number) => '[{"a":'.repeat(n / 2) + '0' + '}]'.repeat(n / 2)
    expect(() => parseStrictJson(arrays(64))).not.toThrow()
    expect(() => parseStrictJson(objects(64))).not.toThrow()
    expect(() => parseStrictJson(mixed(64))).not.toThrow()
    expect(parseError(arrays(65)).code).toBe('SCHEMA_INVALID')
    expect(parseError(objects(65)).code).toBe('SCHEMA_INVALID')
    expect(parseError(mixed(66)).code).toBe('SCHEMA_INVALID')
    const deep = parseError(arrays(100))
    expect(deep.message).toMatch(/nesting deeper than 64/)
    expect(deep.details?.['column']).toBe(65)
    // Far deeper input is still refused with a code, not a stack overflow.
    expect(parseError(arrays(100_000)).code).toBe('SCHEMA_INVALID')
  })

  it('honours maxDepth', () => {
    expect(parseError('[[1]]', { maxDepth: 1 }).code).toBe('SCHEMA_INVALID')
    expect(parseStrictJson('[[1]]', { maxDepth: 2 })).toEqual([[1]])
  })

  it('parseStrictJson and assertJsonValue agree on the depth limit', () => {
    const nest = (n: number): unknown => (n === 0 ? 0 : [nest(n - 1)])
    expect(() => assertJsonValue(nest(64))).not.toThrow()
    expect(() => assertJsonValue(nest(65))).toThrow(PixpaxError)
    expect(() => parseStrictJson(JSON.stringify(nest(64)))).not.toThrow()
    expect(() => parseStrictJson(JSON.stringify(nest(65)))).toThrow(PixpaxError)
  })

  it('the first problem in the text decides the code', () => {
    expect(parseError('[1.5, 1.5.]').code).toBe('SCHEMA_INVALID')
    expect(parseError('[1., 1.5]').code).toBe('JSON_INVALID')
    expect(parseError('{"a":1,"a":1.5}').code).toBe('DUPLICATE_KEY')
  })
})

describe('parseStrictJson: accepts', () => {
  it('valid surrogate pairs, escaped and raw', () => {
    expect(parseStrictJson('"\\ud83d\\ude00"')).toBe('😀')
    expect(parseStrictJson('"\\uD83D\\uDE00"')).toBe('😀')
    expect(parseStrictJson('"😀"')).toBe('😀')
    expect(parseStrictJson('{"😀":"a😀b\\ud834\\udd1e"}')).toEqual({ '😀': 'a😀b𝄞' })
    expect(parseStrictJson('"\\uffff\\ue000\\ud7ff"')).toBe('\uffff\ue000\ud7ff')
  })

  it('"__proto__" as a key creates an own property and does not touch the prototype', () => {
    const value = parseStrictJson('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.hasOwn(value, '__proto__')).toBe(true)
    expect(Object.keys(value)).toEqual(['__proto__', 'a'])
    expect(value['polluted']).toBeUndefined()
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true })
    expect(value).toStrictEqual(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}'))
    expect(canonicalJson(value)).toBe('{"__proto__":{"polluted":true},"a":1}')
    // The key is still subject to the duplicate rule.
    expect(parseError('{"__proto__": 1, "__proto__": 2}').code).toBe('DUPLICATE_KEY')
    // Nested, too.
    const nested = parseStrictJson('[{"x":{"__proto__":null}}]') as [{ x: Record<string, unknown> }]
    expect(Object.getPrototypeOf(nested[0].x)).toBe(Object.prototype)
    expect(Object.hasOwn(nested[0].x, '__proto__')).toBe(true)
  })

  it('-0, 0 and the safe-integer bounds', () => {
    expect(Object.is(parseStrictJson('-0'), -0)).toBe(true)
    expect(Object.is(parseStrictJson('0'), 0)).toBe(true)
    expect(canonicalJson(parseStrictJson('-0'))).toBe('0')
    expect(parseStrictJson('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER)
    expect(parseStrictJson('-9007199254740991')).toBe(Number.MIN_SAFE_INTEGER)
    expect(parseStrictJson('[0,-1,10,-10]')).toEqual([0, -1, 10, -10])
  })

  it('all four JSON whitespace characters around tokens, and nothing else', () => {
    expect(parseStrictJson(' \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n[ 1 , 2 ] \t\r\n} \t\r\n')).toEqual({ a: [1, 2] })
  })

  const corpus = [
    'null',
    'true',
    'false',
    '0',
    '-0',
    '42',
    '-42',
    '9007199254740991',
    '""',
    '"plain"',
    '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
    '"\\u0000\\u001f\\u0020\\u007f\\u00e9\\u20ac"',
    '"é € 😀 \u2028 \u2029 \u007f"',
    '"\\ud83d\\ude00 and 😀"',
    '[]',
    '{}',
    '[[]]',
    '[{}]',
    '{"a":{}}',
    '[1, "two", true, false, null, [3], {"four": 4}]',
    '{"b":1,"a":2,"c":{"z":[],"y":{}}}',
    '{"": "empty key", " ": "space key"}',
    '{"__proto__": 1}',
    '{"constructor": {"prototype": {}}, "toString": "x", "hasOwnProperty": 1}',
    '{"10": 1, "2": 2, "a": 3, "1": 4}',
    '  \n [ 1 ,\r\n 2 ]\t\n',
    JSON.stringify({ nested: { deeply: { array: [1, [2, [3, [4, { five: 'five' }]]]] } } }),
    JSON.stringify('x'.repeat(10_000)),
    JSON.stringify(Array.from({ length: 1000 }, (_, i) => i * 1_000_003 - 500_000_000)),
  ]

  it.each(corpus.map((text) => [text.length > 60 ? text.slice(0, 57) + '...' : text, text]))(
    'deep-equals JSON.parse on %j',
    (_label, text) => {
      const strict = parseStrictJson(text)
      const loose = JSON.parse(text) as unknown
      expect(strict).toEqual(loose)
      // Same key order and the same -0: everything JSON can tell apart.
      expect(JSON.stringify(strict)).toBe(JSON.stringify(loose))
      expect(Object.is(strict, -0)).toBe(Object.is(loose, -0))
    },
  )
})

describe('lineAndColumn', () => {
  it('counts 1-based lines (LF) and UTF-16 columns', () => {
    expect(lineAndColumn('', 0)).toEqual({ line: 1, column: 1 })
    expect(lineAndColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 })
    expect(lineAndColumn('ab\n', 3)).toEqual({ line: 2, column: 1 })
    expect(lineAndColumn('😀x', 2)).toEqual({ line: 1, column: 3 })
  })
})

describe('assertJsonValue names the failing member', () => {
  // The check runs a fast yes/no walk first and builds member paths only when that walk says no; the
  // error must still be the first failing member's, with its path.
  it.each([
    ['$.b.c[2]: only integers within ±(2^53−1) are allowed', { a: 1, b: { c: [1, 2, 1.5] } }],
    ['$.b[1]: lone surrogate in string', { a: 'ok', b: ['x', '\ud800'] }],
    ['$.a: lone surrogate in key', { a: { ['\udc00']: 1 } }],
    ['$.a[0].b: undefined is not JSON', { a: [{ b: undefined }] }],
    ['$.a: not a plain JSON object', { a: new Date(0) }],
    ['$.a[0]: bigint is not JSON', { a: [1n] }],
    ['$.a: only integers within ±(2^53−1) are allowed', { a: Number.NaN }],
  ])('refuses with %s', (message: string, value: unknown) => {
    let error: unknown
    try {
      assertJsonValue(value)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(PixpaxError)
    expect((error as PixpaxError).code).toBe('SCHEMA_INVALID')
    expect((error as PixpaxError).message).toBe(message)
  })

  it('accepts null-prototype objects, valid surrogate pairs and the safe-integer bounds', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: '\ud83d\ude00', n: Number.MAX_SAFE_INTEGER })
    expect(() => assertJsonValue({ bare, list: [Number.MIN_SAFE_INTEGER, -0, true, null] })).not.toThrow()
  })
})

describe('parseStrictJson: the native fast path gives what the grammar gives', () => {
  // parseStrictJson takes JSON.parse's value when the text is JSON.stringify's own output; everything
  // else goes through the grammar. Either way the outcome must be the grammar's: the same value, or the
  // same error code and message.
  const outcome = (parse: () => unknown) => {
    try {
      return { value: parse() }
    } catch (e) {
      return { code: (e as PixpaxError).code, message: (e as PixpaxError).message }
    }
  }
  const same = (text: string) => expect(outcome(() => parseStrictJson(text))).toEqual(outcome(() => parseStrictJsonByGrammar(text)))
  const tamper = fc.constantFrom<(t: string) => string>(
    (t) => t,
    (t) => t.replace(/:/, ': '), // whitespace
    (t) => t.replace(/\{"([^"]*)":([^,}]*)/, '{"$1":$2,"$1":$2'), // a duplicate key
    (t) => t.replace(/\d+/, (d) => `${d}.5`), // a fraction
    (t) => t.replace(/\d+/, (d) => `${d}e2`), // an exponent
    (t) => t.replace(/"/, '"\\ud800'), // a lone surrogate, escaped
    (t) => t.replace(/a/, '\\u0061'), // an escape JSON.stringify would not write
    (t) => `\ufeff${t}`, // a byte-order mark
    (t) => t.slice(0, -1), // truncated
    (t) => t.replace(/\d+/, '9007199254740993'), // beyond 2^53
    (t) => t.replace(/\d+/, '-0'),
  )

  it('on JSON.stringify output, tampered or not', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), tamper, (value, change) => {
        same(change(JSON.stringify(value)))
      }),
      { numRuns: 3000 },
    )
  })

  it('on arbitrary text, on deep nesting and on __proto__', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        same(text)
      }),
      { numRuns: 2000 },
    )
    for (const depth of [63, 64, 65, 100_000]) same('['.repeat(depth) + ']'.repeat(depth))
    same('{"__proto__":{"polluted":1}}')
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    same('{"1":1,"b":2,"0":3}') // integer-like keys: V8 reorders them, the text is then not normal form
  })
})
