/**
 * The hand-written `receipts` message check (receipts-message.ts) against the schema of record,
 * ServerMessageSchema: it may only ever accept what zod accepts, and on JSON it accepts exactly the
 * `receipts` messages zod accepts.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isReceiptsMessage, MAX_DELIVERY_PROOF_HASHES, MAX_NOTE_LENGTH, MAX_PROOF_HASHES, ServerMessageSchema } from '../src/index.js'

const HASH = 'A'.repeat(43) + '='
const valid = (): Record<string, unknown> => ({
  type: 'receipts',
  stream: 'pixbook/acc/book',
  receipts: [
    { seq: 1, position: 0, receipt: { any: 'thing' } },
    { seq: 2, position: 7, receipt: null },
  ],
  checkpoint: { note: 'origin\n2\nroot\n\n— sig\n', consistency: { from: 1, hashes: [HASH] } },
  proof: [HASH, 'b'.repeat(43) + '='],
})

const tricky: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', maxDepth: 2 },
    fc.constantFrom(
      null,
      undefined,
      true,
      0,
      1,
      -1,
      1.5,
      2 ** 53,
      Number.MAX_SAFE_INTEGER,
      Number.NaN,
      '',
      'receipts',
      'checkpoint',
      'x'.repeat(300),
      'x'.repeat(301),
      HASH,
      'A'.repeat(44),
      'A'.repeat(42) + '==',
      HASH + '\n',
    ),
    fc.string({ maxLength: 8 }),
    fc.integer({ min: -2, max: 2 }),
    fc.array(fc.constantFrom(HASH, 'x', 1), { maxLength: 3 }),
    fc.array(tie('v'), { maxLength: 2 }),
    fc.dictionary(fc.constantFrom('seq', 'position', 'receipt', 'note', 'consistency', 'from', 'hashes', 'x'), tie('v'), { maxKeys: 3 }),
  ),
})).v

/** Where a mutation lands — the message, one delivered entry, the checkpoint, its consistency proof — and which member. */
const KEYS = {
  message: ['type', 'stream', 'receipts', 'checkpoint', 'proof', 'extra'],
  entry: ['seq', 'position', 'receipt', 'extra'],
  checkpoint: ['note', 'consistency', 'extra'],
  consistency: ['from', 'hashes', 'extra'],
} as const
const member = fc.constantFrom(...Object.entries(KEYS).flatMap(([place, keys]) => keys.map((key) => ({ place, key }))))
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: member, to: tricky }),
  fc.record({ kind: fc.constant('delete' as const), at: member }),
  fc.record({ kind: fc.constant('empty' as const), list: fc.constantFrom('receipts', 'proof', 'hashes') }),
)

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never

function target(m: Record<string, unknown>, where: string): Record<string, unknown> | undefined {
  const pick = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined)
  if (where === 'message') return m
  if (where === 'entry') return pick((m.receipts as unknown[] | undefined)?.[1])
  if (where === 'checkpoint') return pick(m.checkpoint)
  return pick(pick(m.checkpoint)?.consistency)
}

function mutate(ms: Mutation[]): Record<string, unknown> {
  const m = valid()
  for (const mu of ms) {
    if (mu.kind === 'empty') {
      const owner = mu.list === 'hashes' ? target(m, 'consistency') : m
      if (owner && Array.isArray(owner[mu.list])) owner[mu.list] = []
      continue
    }
    const t = target(m, mu.at.place)
    if (!t) continue
    if (mu.kind === 'set') t[mu.at.key] = mu.to
    else delete t[mu.at.key]
  }
  return m
}

describe('isReceiptsMessage agrees with ServerMessageSchema', () => {
  it('accepts a receipts message zod accepts, with and without a consistency proof', () => {
    const m = valid()
    expect(ServerMessageSchema.safeParse(m).success).toBe(true)
    expect(isReceiptsMessage(m)).toBe(true)
    delete (m.checkpoint as Record<string, unknown>).consistency
    expect(isReceiptsMessage(m)).toBe(true)
    expect(isReceiptsMessage({ type: 'caught-up', stream: 's', head: null })).toBe(false)
  })

  it('refuses what is past a limit, as zod does: proof and consistency lengths, note and stream length', () => {
    const cases: Array<(m: Record<string, unknown>) => void> = [
      (m) => (m.proof = Array.from({ length: MAX_DELIVERY_PROOF_HASHES + 1 }, () => HASH)),
      (m) =>
        ((m.checkpoint as { consistency: { hashes: string[] } }).consistency.hashes = Array.from(
          { length: MAX_PROOF_HASHES + 1 },
          () => HASH,
        )),
      (m) => ((m.checkpoint as { note: string }).note = 'n'.repeat(MAX_NOTE_LENGTH + 1)),
      (m) => (m.stream = 's'.repeat(301)),
    ]
    for (const change of cases) {
      const m = valid()
      change(m)
      expect(ServerMessageSchema.safeParse(m).success).toBe(false)
      expect(isReceiptsMessage(m)).toBe(false)
    }
  })

  it('never accepts what zod refuses, and on JSON accepts exactly the receipts messages zod accepts', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        const m = mutate(ms)
        const zod = ServerMessageSchema.safeParse(m)
        if (isReceiptsMessage(m)) expect(zod.success && zod.data.type === 'receipts').toBe(true)
        const parsed: unknown = JSON.parse(JSON.stringify(m))
        const fromJson = ServerMessageSchema.safeParse(parsed)
        expect(isReceiptsMessage(parsed)).toBe(fromJson.success && fromJson.data.type === 'receipts')
      }),
      { numRuns: 3000 },
    )
  })
})
