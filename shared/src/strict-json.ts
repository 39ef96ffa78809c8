import { PixpaxError } from './errors.js'

/** A JSON value as PixPax accepts it: integers only (no floats), well-formed strings, no duplicate keys. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

export interface StrictJsonOptions {
  /** Deepest allowed nesting of arrays and objects (default 64); deeper input is SCHEMA_INVALID. */
  maxDepth?: number
}

const DEFAULT_MAX_DEPTH = 64

/**
 * Parses JSON text strictly. Unlike `JSON.parse` it refuses, with a PixPax code and a line:column:
 * duplicate object keys (`DUPLICATE_KEY` — JSON.parse keeps the last one silently, so two verifiers could
 * see different receipts), numbers with a fraction or exponent and integers beyond ±(2^53−1)
 * (`SCHEMA_INVALID` — they do not survive a round trip through every language), lone UTF-16 surrogates
 * (`SCHEMA_INVALID` — RFC 8785 cannot canonicalize them), nesting deeper than `maxDepth`, a byte-order
 * mark, and anything that is not JSON at all (`JSON_INVALID`).
 */
export function parseStrictJson(text: string, options: StrictJsonOptions = {}): JsonValue {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  // Most text we parse is what JSON.stringify writes (request bodies, sync messages, NDJSON lines, stored
  // receipts). For such text the native parser gives what the strict grammar would: JSON.stringify of
  // the result being the text again rules out duplicate keys (the dropped one would be missing),
  // whitespace, a byte-order mark, escapes JSON.stringify would not write, and number spellings other
  // than the shortest; isJsonValue rules out fractions, unsafe integers, lone surrogates and nesting past
  // maxDepth. Anything else — including every error, with its code and line:column — goes through the
  // strict grammar below.
  const fast = parseNormalForm(text, maxDepth)
  if (fast !== undefined) return fast
  return parseStrictJsonByGrammar(text, maxDepth)
}

/** The strict grammar alone (exported for the equivalence test of the fast path). */
export function parseStrictJsonByGrammar(text: string, maxDepth = DEFAULT_MAX_DEPTH): JsonValue {
  return new StrictJsonParser(text, maxDepth).parseDocument()
}

/** JSON.parse's value when `text` is exactly JSON.stringify of it and a PixPax JSON value; else undefined. */
function parseNormalForm(text: string, maxDepth: number): JsonValue | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
    if (JSON.stringify(value) !== text) return undefined
  } catch {
    return undefined // not JSON, or too deep for the native stringify: the grammar names the problem
  }
  return isJsonValue(value, 0, maxDepth) ? (value as JsonValue) : undefined
}

class StrictJsonParser {
  private pos = 0

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  parseDocument(): JsonValue {
    this.skipWhitespace()
    if (this.pos >= this.text.length) this.fail('JSON_INVALID', 'empty input')
    const value = this.parseValue(0)
    this.skipWhitespace()
    if (this.pos < this.text.length) this.fail('JSON_INVALID', 'unexpected data after the JSON value')
    return value
  }

  private parseValue(depth: number): JsonValue {
    const c = this.text.charCodeAt(this.pos)
    switch (c) {
      case 0x7b /* { */:
        return this.parseObject(depth + 1)
      case 0x5b /* [ */:
        return this.parseArray(depth + 1)
      case 0x22 /* " */:
        return this.parseString()
      case 0x74 /* t */:
        return this.parseLiteral('true', true)
      case 0x66 /* f */:
        return this.parseLiteral('false', false)
      case 0x6e /* n */:
        return this.parseLiteral('null', null)
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber()
        if (Number.isNaN(c)) this.fail('JSON_INVALID', 'unexpected end of input')
        this.fail('JSON_INVALID', `unexpected character ${describeChar(c)}`)
    }
  }

  private parseObject(depth: number): JsonValue {
    if (depth > this.maxDepth) this.fail('SCHEMA_INVALID', `nesting deeper than ${this.maxDepth}`)
    this.pos++ // {
    const result: Record<string, JsonValue> = {}
    const seen = new Set<string>()
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++
      return result
    }
    for (;;) {
      this.skipWhitespace()
      if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('JSON_INVALID', 'expected a string key')
      const keyStart = this.pos
      const key = this.parseString()
      if (seen.has(key)) {
        this.pos = keyStart
        this.fail('DUPLICATE_KEY', `duplicate key ${JSON.stringify(key)}`, { key })
      }
      seen.add(key)
      this.skipWhitespace()
      if (this.text.charCodeAt(this.pos) !== 0x3a) this.fail('JSON_INVALID', "expected ':' after key")
      this.pos++
      this.skipWhitespace()
      const value = this.parseValue(depth)
      // A plain assignment of "__proto__" would set the prototype instead of creating a property.
      if (key === '__proto__') {
        Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true })
      } else {
        result[key] = value
      }
      this.skipWhitespace()
      const c = this.text.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        continue
      }
      if (c === 0x7d) {
        this.pos++
        return result
      }
      this.fail('JSON_INVALID', "expected ',' or '}' in object")
    }
  }

  private parseArray(depth: number): JsonValue {
    if (depth > this.maxDepth) this.fail('SCHEMA_INVALID', `nesting deeper than ${this.maxDepth}`)
    this.pos++ // [
    const result: JsonValue[] = []
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++
      return result
    }
    for (;;) {
      this.skipWhitespace()
      result.push(this.parseValue(depth))
      this.skipWhitespace()
      const c = this.text.charCodeAt(this.pos)
      if (c === 0x2c) {
        this.pos++
        continue
      }
      if (c === 0x5d) {
        this.pos++
        return result
      }
      this.fail('JSON_INVALID', "expected ',' or ']' in array")
    }
  }

  private parseString(): string {
    const text = this.text
    const start = ++this.pos // after the opening quote
    // Fast path: no escapes, no control characters, no surrogates.
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        this.pos = i + 1
        return text.slice(start, i)
      }
      if (c === 0x5c || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) break
    }
    let out = ''
    let chunkStart = start
    for (;;) {
      if (this.pos >= text.length) this.fail('JSON_INVALID', 'unterminated string')
      const c = text.charCodeAt(this.pos)
      if (c === 0x22) {
        out += text.slice(chunkStart, this.pos)
        this.pos++
        return out
      }
      if (c < 0x20) this.fail('JSON_INVALID', `unescaped control character ${describeChar(c)} in string`)
      if (c >= 0xd800 && c <= 0xdbff) {
        const next = text.charCodeAt(this.pos + 1)
        if (next >= 0xdc00 && next <= 0xdfff) {
          this.pos += 2
          continue
        }
        this.fail('SCHEMA_INVALID', 'lone surrogate in string')
      }
      if (c >= 0xdc00 && c <= 0xdfff) this.fail('SCHEMA_INVALID', 'lone surrogate in string')
      if (c !== 0x5c) {
        this.pos++
        continue
      }
      out += text.slice(chunkStart, this.pos)
      const escapeStart = this.pos
      const e = text.charCodeAt(this.pos + 1)
      this.pos += 2
      switch (e) {
        case 0x22:
          out += '"'
          break
        case 0x5c:
          out += '\\'
          break
        case 0x2f:
          out += '/'
          break
        case 0x62:
          out += '\b'
          break
        case 0x66:
          out += '\f'
          break
        case 0x6e:
          out += '\n'
          break
        case 0x72:
          out += '\r'
          break
        case 0x74:
          out += '\t'
          break
        case 0x75: {
          const unit = this.readHex4()
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (text.charCodeAt(this.pos) === 0x5c && text.charCodeAt(this.pos + 1) === 0x75) {
              this.pos += 2
              const low = this.readHex4()
              if (low >= 0xdc00 && low <= 0xdfff) {
                out += String.fromCharCode(unit, low)
                break
              }
            }
            this.pos = escapeStart
            this.fail('SCHEMA_INVALID', 'lone surrogate escape in string')
          }
          if (unit >= 0xdc00 && unit <= 0xdfff) {
            this.pos = escapeStart
            this.fail('SCHEMA_INVALID', 'lone surrogate escape in string')
          }
          out += String.fromCharCode(unit)
          break
        }
        default:
          this.pos = escapeStart
          this.fail('JSON_INVALID', 'invalid escape sequence in string')
      }
      chunkStart = this.pos
    }
  }

  private readHex4(): number {
    const hex = this.text.slice(this.pos, this.pos + 4)
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('JSON_INVALID', 'invalid \\u escape in string')
    this.pos += 4
    return parseInt(hex, 16)
  }

  private parseNumber(): number {
    const text = this.text
    const start = this.pos
    let i = start
    if (text.charCodeAt(i) === 0x2d) i++
    const first = text.charCodeAt(i)
    if (first === 0x30) {
      i++
    } else if (first >= 0x31 && first <= 0x39) {
      while (isDigit(text.charCodeAt(i))) i++
    } else {
      this.pos = i
      this.fail('JSON_INVALID', 'invalid number')
    }
    const next = text.charCodeAt(i)
    if (next === 0x2e || next === 0x65 || next === 0x45) {
      // Validate the JSON grammar first so that "1." is JSON_INVALID, "1.5" SCHEMA_INVALID.
      let j = i
      if (text.charCodeAt(j) === 0x2e) {
        j++
        if (!isDigit(text.charCodeAt(j))) this.failAt(j, 'JSON_INVALID', 'invalid number')
        while (isDigit(text.charCodeAt(j))) j++
      }
      const e = text.charCodeAt(j)
      if (e === 0x65 || e === 0x45) {
        j++
        const sign = text.charCodeAt(j)
        if (sign === 0x2b || sign === 0x2d) j++
        if (!isDigit(text.charCodeAt(j))) this.failAt(j, 'JSON_INVALID', 'invalid number')
      }
      this.pos = start
      this.fail('SCHEMA_INVALID', 'floating-point numbers are not allowed (use integers)')
    }
    if (isDigit(next)) this.failAt(i, 'JSON_INVALID', 'leading zeros are not allowed')
    const value = Number(text.slice(start, i))
    if (!Number.isSafeInteger(value)) {
      this.pos = start
      this.fail('SCHEMA_INVALID', 'integer outside ±(2^53−1)')
    }
    this.pos = i
    return value
  }

  private parseLiteral<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail('JSON_INVALID', 'invalid literal')
    this.pos += word.length
    return value
  }

  private skipWhitespace(): void {
    const text = this.text
    let i = this.pos
    for (;;) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
    this.pos = i
  }

  private failAt(pos: number, code: 'JSON_INVALID' | 'SCHEMA_INVALID', message: string): never {
    this.pos = pos
    this.fail(code, message)
  }

  private fail(code: 'JSON_INVALID' | 'DUPLICATE_KEY' | 'SCHEMA_INVALID', message: string, extra: Record<string, unknown> = {}): never {
    const { line, column } = lineAndColumn(this.text, this.pos)
    throw new PixpaxError(code, `${message} at line ${line} column ${column}`, {
      line,
      column,
      offset: this.pos,
      ...extra,
    })
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function describeChar(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`
}

/** 1-based line and column (in UTF-16 code units) of an offset. Only computed on the error path. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

/**
 * Checks that an in-memory value is one `parseStrictJson` could have produced: plain objects and arrays,
 * safe integers, well-formed strings, bounded depth. Used on values built in code (payloads passed to a
 * signer) so that what we sign is exactly what any verifier will parse back.
 */
export function assertJsonValue(value: unknown, path = '$', depth = 0, maxDepth = DEFAULT_MAX_DEPTH): asserts value is JsonValue {
  // Every delivered receipt passes here: first a walk that only answers yes or no, and only when it says
  // no the walk below, which builds the path of each member to name the one that fails.
  if (isJsonValue(value, depth, maxDepth)) return
  diagnoseJsonValue(value, path, depth, maxDepth)
}

function isJsonValue(value: unknown, depth: number, maxDepth: number): boolean {
  if (value === null || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isSafeInteger(value)
  if (typeof value === 'string') return isWellFormed(value)
  if (typeof value !== 'object' || depth >= maxDepth) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isJsonValue(value[i], depth + 1, maxDepth)) return false
    return true
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return false
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const item = (value as Record<string, unknown>)[key]
    if (item === undefined || !isWellFormed(key) || !isJsonValue(item, depth + 1, maxDepth)) return false
  }
  return true
}

function diagnoseJsonValue(value: unknown, path: string, depth: number, maxDepth: number): asserts value is JsonValue {
  if (value === null || typeof value === 'boolean') return
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new PixpaxError('SCHEMA_INVALID', `${path}: only integers within ±(2^53−1) are allowed`, { path })
    }
    return
  }
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw new PixpaxError('SCHEMA_INVALID', `${path}: lone surrogate in string`, { path })
    return
  }
  if (depth >= maxDepth) throw new PixpaxError('SCHEMA_INVALID', `${path}: nesting deeper than ${maxDepth}`, { path })
  if (Array.isArray(value)) {
    value.forEach((item, i) => diagnoseJsonValue(item, `${path}[${i}]`, depth + 1, maxDepth))
    return
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown
    if (proto !== Object.prototype && proto !== null) {
      throw new PixpaxError('SCHEMA_INVALID', `${path}: not a plain JSON object`, { path })
    }
    for (const [key, item] of Object.entries(value)) {
      if (!isWellFormed(key)) throw new PixpaxError('SCHEMA_INVALID', `${path}: lone surrogate in key`, { path })
      if (item === undefined) throw new PixpaxError('SCHEMA_INVALID', `${path}.${key}: undefined is not JSON`, { path })
      diagnoseJsonValue(item, `${path}.${key}`, depth + 1, maxDepth)
    }
    return
  }
  throw new PixpaxError('SCHEMA_INVALID', `${path}: ${typeof value} is not JSON`, { path })
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

// String.prototype.isWellFormed (ES2024, V8 11.4: Node 20, Chromium 111) scans natively; the regex is the fallback.
const nativeIsWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed

function isWellFormed(s: string): boolean {
  return nativeIsWellFormed ? nativeIsWellFormed.call(s) : !LONE_SURROGATE.test(s)
}
