/**
 * Property-based tests (fast-check): canonicalization of arbitrary PixPax JSON values, and tamper
 * evidence of a receipt chain under arbitrary single-field mutations.
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  assertJsonValue,
  canonicalBytes,
  canonicalJson,
  parseStrictJson,
  sha256Ref,
  type JsonValue,
  type Receipt,
  type Verdict,
} from '../src/index.js'
import { nodeSha256 } from '../src/node/index.js'
import { SNAPSHOT, ART, actor, author, headOf, makeIdentityCreated, make, newVerifier, pixbookStream } from '../src/testing/index.js'

// ---- arbitraries ----

/** Strings of every kind the parser must handle: ASCII, any code point (astral too), graphemes, tricky keys. */
const stringArb = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.constantFrom(
    '',
    '__proto__',
    'constructor',
    'toString',
    'é',
    'e\u0301',
    '😀',
    '\u0000',
    '\u001f',
    '\u007f',
    '\u2028',
    '"\\/',
    '10',
    '2',
    '-1',
    '\uffff',
  ),
)

/** Integers within ±(2^53−1), never −0 (JSON text cannot carry −0 through JSON.stringify). */
const safeIntArb = fc
  .oneof(
    fc.integer({ min: -1000, max: 1000 }),
    fc.maxSafeInteger(),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 31, -(2 ** 32)),
  )
  .map((n) => n + 0)

/** JSON values without floats: what parseStrictJson accepts. */
const { json: jsonArb } = fc.letrec<{ json: JsonValue; array: JsonValue[]; object: Record<string, JsonValue> }>((tie) => ({
  json: fc.oneof({ depthSize: 'small', maxDepth: 6 }, fc.constant(null), fc.boolean(), safeIntArb, stringArb, tie('array'), tie('object')),
  array: fc.array(tie('json'), { maxLength: 5 }),
  object: fc.dictionary(stringArb, tie('json'), { maxKeys: 6, noNullPrototype: true }),
}))

/** Small deterministic PRNG so a shuffle is reproducible from its seed. */
function lcg(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x
  }
}

/** The same value with every object's keys re-inserted in a pseudo-random order. */
function reorderKeys(value: JsonValue, next: () => number): JsonValue {
  if (Array.isArray(value)) return value.map((v) => reorderKeys(v, next))
  if (value === null || typeof value !== 'object') return value
  const keys = Object.keys(value)
  for (let i = keys.length - 1; i > 0; i--) {
    const j = next() % (i + 1)
    ;[keys[i], keys[j]] = [keys[j]!, keys[i]!]
  }
  const out: Record<string, JsonValue> = {}
  // defineProperty, so that a "__proto__" key stays an own property.
  for (const k of keys)
    Object.defineProperty(out, k, { value: reorderKeys(value[k]!, next), enumerable: true, writable: true, configurable: true })
  return out
}

describe('canonical JSON of arbitrary PixPax JSON values', () => {
  it('the generator produces what it claims (own keys, no floats, well-formed strings)', () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        assertJsonValue(v)
      }),
      { numRuns: 300 },
    )
  })

  it('canonicalJson is a fixed point through parseStrictJson, and parses back to the same value', () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        const text = canonicalJson(v)
        const parsed = parseStrictJson(text)
        expect(canonicalJson(parsed)).toBe(text)
        expect(parsed).toEqual(v)
        expect(canonicalJson(JSON.parse(text))).toBe(text)
      }),
      { numRuns: 500 },
    )
  })

  it('does not depend on key insertion order: same text, same sha256Ref', () => {
    fc.assert(
      fc.property(jsonArb, fc.integer(), (v, seed) => {
        const shuffled = reorderKeys(v, lcg(seed))
        expect(canonicalJson(shuffled)).toBe(canonicalJson(v))
        const a = canonicalBytes(v)
        const b = canonicalBytes(shuffled)
        expect(sha256Ref(b)).toBe(sha256Ref(a))
        expect(sha256Ref(b, nodeSha256)).toBe(sha256Ref(a))
      }),
      { numRuns: 500 },
    )
  })

  it('parseStrictJson(JSON.stringify(v)) deep-equals v, compact or indented', () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        expect(parseStrictJson(JSON.stringify(v))).toEqual(v)
        expect(parseStrictJson(JSON.stringify(v, null, 2))).toEqual(v)
        expect(canonicalJson(parseStrictJson(JSON.stringify(v, null, '\t')))).toBe(canonicalJson(v))
      }),
      { numRuns: 500 },
    )
  })

  it('agrees with JSON.parse on every text JSON.stringify produces', () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        const text = JSON.stringify(v)
        expect(JSON.stringify(parseStrictJson(text))).toBe(JSON.stringify(JSON.parse(text)))
      }),
      { numRuns: 300 },
    )
  })
})

// ---- tamper evidence ----

type Key = string | number
type Path = readonly Key[]

/** Every path to a value inside `value` (not the root itself). */
function collectPaths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (value !== null && typeof value === 'object') {
    const entries: Array<[Key, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value)
    for (const [k, v] of entries) {
      const path = [...prefix, k]
      out.push(path)
      collectPaths(v, path, out)
    }
  }
  return out
}

type Container = Record<string, unknown> | unknown[]

function containerAt(root: Record<string, unknown>, path: Path): Container {
  let node: unknown = root
  for (const k of path) node = (node as Record<Key, unknown>)[k]
  if (node === null || typeof node !== 'object') throw new Error(`no container at ${path.join('.')}`)
  return node as Container
}

const TWEAK_ALPHABET = '0123456789abcdefABCDEFGHJKMNPQRSTVWXYZ+/=-_:.é '

interface Mutation {
  readonly index: number
  readonly pathPick: number
  readonly kind: 'remove' | 'replace' | 'tweak' | 'add'
  readonly value: JsonValue
  readonly key: string
  readonly pos: number
  readonly asText: boolean
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  index: fc.integer({ min: 0, max: 3 }),
  pathPick: fc.nat(),
  // Tweaks (one character or digit changed) are weighted up: they mostly keep the format, so reach past the schema.
  kind: fc.constantFrom('remove', 'replace', 'tweak', 'tweak', 'tweak', 'add'),
  value: jsonArb,
  key: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('extra', 'hash', 'type', '__proto__', 'x')),
  pos: fc.nat(),
  asText: fc.boolean(),
})

/** Applies one mutation to a copy of `receipt`; returns the copy and a description. */
function mutate(receipt: Receipt, m: Mutation): { mutated: Record<string, unknown>; description: string } {
  const mutated = structuredClone(receipt) as unknown as Record<string, unknown>
  const paths = collectPaths(mutated)
  const path = paths[m.pathPick % paths.length]!
  const parent = containerAt(mutated, path.slice(0, -1))
  const key = path[path.length - 1]!
  const old = (parent as Record<Key, unknown>)[key]
  const where = path.join('.')
  const set = (value: unknown) => {
    ;(parent as Record<Key, unknown>)[key] = value
  }
  switch (m.kind) {
    case 'remove':
      if (Array.isArray(parent)) parent.splice(key as number, 1)
      else delete parent[key as string]
      return { mutated, description: `remove ${where}` }
    case 'replace': {
      // A replacement with the same canonical form would be no change at all: wrap it instead.
      const value = canonicalJson(m.value) === canonicalJson(old) ? [m.value] : m.value
      set(value)
      return { mutated, description: `replace ${where} (${JSON.stringify(old)}) with ${JSON.stringify(value)}` }
    }
    case 'tweak': {
      let value: unknown
      if (typeof old === 'string') {
        if (old.length === 0) value = 'x'
        else {
          const i = m.pos % old.length
          let c = TWEAK_ALPHABET[m.pos % TWEAK_ALPHABET.length]!
          if (c === old[i]) c = TWEAK_ALPHABET[(m.pos + 1) % TWEAK_ALPHABET.length]!
          value = old.slice(0, i) + c + old.slice(i + 1)
        }
      } else if (typeof old === 'number') value = old + (m.pos % 1000) + 1
      else if (typeof old === 'boolean') value = !old
      else if (old === null) value = 'sha256:' + '0'.repeat(64)
      else if (Array.isArray(old)) value = [...(old as unknown[]), m.value]
      else value = { ...(old as object), [`${m.key}~new`]: m.value }
      set(value)
      return { mutated, description: `tweak ${where}: ${JSON.stringify(old)} → ${JSON.stringify(value)}` }
    }
    case 'add': {
      if (Array.isArray(parent)) {
        parent.splice(m.pos % (parent.length + 1), 0, m.value)
        return { mutated, description: `insert ${JSON.stringify(m.value)} into ${path.slice(0, -1).join('.')}` }
      }
      let k = m.key
      while (Object.hasOwn(parent, k)) k += '~'
      Object.defineProperty(parent, k, { value: m.value, enumerable: true, writable: true, configurable: true })
      return { mutated, description: `add ${[...path.slice(0, -1), k].join('.')} = ${JSON.stringify(m.value)}` }
    }
  }
}

describe('any single-field mutation of a valid chain is rejected', () => {
  let chain: Receipt[]

  beforeAll(async () => {
    const a = author()
    const alice = actor('alice', 'acc-a')
    const book = pixbookStream('acc-a', 'book-1')
    const id = await makeIdentityCreated(a, alice)
    const created = await make(a, {
      stream: book,
      type: 'PIXBOOK_CREATED',
      payload: { title: 'Pixel café ✨', description: 'a book' },
      by: alice,
      prev: null,
    })
    const save = await make(a, {
      stream: book,
      type: 'PIXBOOK_SAVE',
      payload: { snapshotHash: SNAPSHOT, heads: ['ab'.repeat(32), 'cd'.repeat(32)], note: 'Ünïcödé 🎨' },
      by: alice,
      prev: headOf(created),
    })
    const card = await make(a, {
      stream: book,
      type: 'CARD_ADDED',
      payload: { cardId: 'card-1', artHash: ART },
      by: alice,
      prev: headOf(save),
    })
    chain = [id, created, save, card]
  })

  async function run(receipts: readonly unknown[], asText: boolean): Promise<Verdict[]> {
    const v = newVerifier()
    const verdicts: Verdict[] = []
    for (const r of receipts) verdicts.push(await v.add(asText ? JSON.stringify(r) : r))
    return verdicts
  }

  it('the unmutated chain is valid (as objects and as text)', async () => {
    for (const asText of [false, true]) {
      expect((await run(chain, asText)).map((v) => (v.ok ? 'ok' : v.code))).toEqual(['ok', 'ok', 'ok', 'ok'])
    }
  })

  it('a mutated receipt is rejected, and the receipts before it are still accepted', async () => {
    const codes = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(mutationArb, async (m) => {
        const { mutated, description } = mutate(chain[m.index]!, m)
        const receipts = chain.map((r, i) => (i === m.index ? mutated : r))
        const verdicts = await run(receipts, m.asText)
        const summary = verdicts.map((v) => (v.ok ? 'ok' : v.code)).join(' ')
        expect(
          verdicts.some((v) => !v.ok),
          `${description}: ${summary}`,
        ).toBe(true)
        expect(
          verdicts.slice(0, m.index).every((v) => v.ok),
          `${description}: ${summary}`,
        ).toBe(true)
        const hit = verdicts[m.index]!
        expect(hit.ok, `${description}: ${summary}`).toBe(false)
        if (!hit.ok) codes.set(hit.code, (codes.get(hit.code) ?? 0) + 1)
      }),
      { numRuns: 200 },
    )
    // The mutations reach more than one layer of checks (not all stopped by, say, the schema).
    expect(codes.size).toBeGreaterThanOrEqual(3)
    expect(codes.has('HASH_MISMATCH')).toBe(true)
    expect(codes.has('SCHEMA_INVALID')).toBe(true)
  })
})
