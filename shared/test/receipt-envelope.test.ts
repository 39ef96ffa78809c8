/**
 * The hand-written envelope check (receipt-envelope.ts) against the schema of record, ReceiptSchema:
 * it may only ever accept what zod accepts, and on JSON it accepts exactly that. checkReceipt's errors
 * are zod's either way (the hand check only skips zod for receipts zod accepts).
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkReceipt, ReceiptSchema, type Receipt } from '../src/index.js'
import { isReceiptEnvelope } from '../src/receipt-envelope.js'
import { actor, author, make, makeIdentityCreated, pixbookStream } from '../src/testing/index.js'

let receipts: Receipt[] = []

beforeAll(async () => {
  const a = author()
  const alice = actor('alice', 'acc-a')
  const created = await make(a, {
    stream: pixbookStream('acc-a', 'b'),
    type: 'PIXBOOK_CREATED',
    payload: { title: 't' },
    by: alice,
    prev: null,
  })
  const next = await make(a, {
    stream: pixbookStream('acc-a', 'b'),
    type: 'CARD_ADDED',
    payload: { cardId: 'c-1', artHash: 'sha256:' + '0'.repeat(64) },
    by: alice,
    prev: { eventId: created.eventId, hash: created.hash },
  })
  receipts = [await makeIdentityCreated(a, alice), created, next]
})

const FIELDS = [
  'eventId',
  'stream',
  'type',
  'payload',
  'createdAt',
  'issuer',
  'idempotencyKey',
  'prevEventId',
  'prevHash',
  'hash',
  'signature',
  'schemaVersion',
] as const

/** Values near every rule of the envelope: lengths at and past the limits, near-miss formats, wrong types. */
const trickyString = fc.oneof(
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom(
    '',
    'a'.repeat(64),
    'a'.repeat(65),
    'A'.repeat(64),
    'A'.repeat(65),
    'x'.repeat(256),
    'x'.repeat(257),
    'x'.repeat(128),
    'x'.repeat(129),
    'a'.repeat(43),
    'a'.repeat(44),
    'sha256:' + '0'.repeat(64),
    'sha256:' + '0'.repeat(63),
    'sha256:' + 'A'.repeat(64),
    'sha256:' + '0'.repeat(64) + '\n',
    '2026-02-24T12:34:56.000Z',
    '2026-02-30T12:34:56.000Z',
    '2024-02-29T23:59:59.999Z',
    '2026-02-24T12:34:56Z',
    '2026-02-24T24:00:00.000Z',
    'CARD_ADDED',
    'card_added',
    '_CARD',
    'A'.repeat(65),
    'idem-1',
    'idem 1',
    'a.b:c-d_e',
    '\ud800',
    '😀',
    'pixbook',
    '__proto__',
    'constructor',
  ),
)

const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    trickyString,
    fc.constantFrom(null, undefined, true, 0, 1, 2, -1, 1.5, Number.NaN),
    fc.array(tie('v'), { maxLength: 2 }),
    fc.dictionary(trickyString, tie('v'), { maxKeys: 3 }),
    fc.record({ type: trickyString }, { requiredKeys: [] }),
    fc.record({ identityId: trickyString, publicKeyId: trickyString }, { requiredKeys: [] }),
  ),
})).v

/** One mutation of a receipt (a copy): a field replaced, removed, or an extra one added — at the top or one level down. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), field: fc.constantFrom(...FIELDS), to: value }),
  fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }),
  fc.record({ kind: fc.constant('extra' as const), key: trickyString, to: value }),
  fc.record({
    kind: fc.constant('nested' as const),
    field: fc.constantFrom('stream', 'issuer', 'payload'),
    key: fc.oneof(trickyString, fc.constantFrom('type', 'identityId', 'publicKeyId')),
    to: value,
  }),
  fc.record({ kind: fc.constant('proto' as const), field: fc.constantFrom(undefined, 'stream', 'issuer', 'payload') }),
)

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never

function mutate(receipt: Receipt, ms: Mutation[]): unknown {
  const copy = structuredClone(receipt) as unknown as Record<string, unknown>
  for (const m of ms) {
    if (m.kind === 'set') copy[m.field] = m.to
    else if (m.kind === 'delete') delete copy[m.field]
    else if (m.kind === 'extra') Object.defineProperty(copy, m.key, { value: m.to, enumerable: true, writable: true, configurable: true })
    else if (m.kind === 'nested') {
      const inner = copy[m.field]
      if (typeof inner === 'object' && inner !== null)
        Object.defineProperty(inner, m.key, { value: m.to, enumerable: true, writable: true, configurable: true })
    } else {
      // Not what JSON.parse makes: a null prototype, or a class instance.
      const target = m.field === undefined ? copy : copy[m.field]
      if (typeof target === 'object' && target !== null) Object.setPrototypeOf(target, m.field === 'issuer' ? null : class {}.prototype)
    }
  }
  return copy
}

describe('isReceiptEnvelope agrees with ReceiptSchema', () => {
  it('accepts the receipts zod accepts, as built and as parsed back from JSON', () => {
    for (const r of receipts) {
      expect(ReceiptSchema.safeParse(r).success).toBe(true)
      expect(isReceiptEnvelope(r)).toBe(true)
      expect(isReceiptEnvelope(JSON.parse(JSON.stringify(r)))).toBe(true)
    }
  })

  it('never accepts what zod refuses, and on JSON accepts exactly what zod accepts (arbitrary mutations)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (which, ms) => {
        const mutated = mutate(receipts[which]!, ms)
        const zod = ReceiptSchema.safeParse(mutated).success
        if (isReceiptEnvelope(mutated)) expect(zod).toBe(true)
        // What a relay delivers is JSON text: there, the two must give the same answer.
        let text: string | undefined
        try {
          text = JSON.stringify(mutated)
        } catch {
          text = undefined
        }
        if (text === undefined) return
        const parsed: unknown = JSON.parse(text)
        expect(isReceiptEnvelope(parsed)).toBe(ReceiptSchema.safeParse(parsed).success)
      }),
      { numRuns: 4000 },
    )
  })

  it('checkReceipt still names zod’s first issue for an envelope it refuses', () => {
    const bad = { ...receipts[1]!, type: 'lowercase' }
    expect(() => checkReceipt(bad)).toThrow(expect.objectContaining({ code: 'SCHEMA_INVALID', details: { path: 'type' } }))
    const extra = { ...receipts[1]!, extra: 1 }
    expect(() => checkReceipt(extra)).toThrow(/unknown field\(s\) "extra"/)
  })
})
