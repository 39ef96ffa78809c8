/**
 * Receipts and the chain verifier: a valid multi-stream ledger, then one group per error code of
 * ARCHITECTURE §6 that the verifier can produce. Every forged receipt is wrong in exactly one way (it is
 * re-hashed and re-signed when the defect is elsewhere), every rejection is checked to leave the ledger
 * as it was, and each rejected input is also fed as JSON text, which must give the same code.
 */
import { p256 } from '@noble/curves/nist.js'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  isCreatedAt,
  ChainVerifier,
  MAX_RECEIPT_BYTES,
  MAX_RECEIPT_TEXT,
  P256_N,
  PixpaxError,
  SIGNATURE_PREFIX,
  base64Decode,
  base64Encode,
  bytesToHex,
  canonicalBytes,
  checkReceipt,
  formatSignature,
  incrementUlid,
  jwkThumbprint,
  nobleVerifier,
  parseReceipt,
  parseSignature,
  publicJwk,
  receiptCanonicalBytes,
  sha256Ref,
  splitSignature,
  ulid,
  webCryptoVerifier,
  type ErrorCode,
  type Receipt,
  type RejectedReceipt,
  type SignatureVerifier,
  type TrustPolicy,
  type Verdict,
} from '../src/index.js'
import { nodeSha256, nodeVerifier } from '../src/node/index.js'
import {
  ART,
  SNAPSHOT,
  actor,
  author,
  headOf,
  makeIdentityCreated,
  identityStream,
  make,
  newVerifier,
  pixbookStream,
  reseal,
  seal,
  withKey,
  type Identity,
} from '../src/testing/index.js'

const BOOK_KEY = 'pixbook/acc-a/book-1'

function expectOk(verdict: Verdict, seq?: number): void {
  if (!verdict.ok) throw new Error(`expected acceptance, got ${verdict.code}: ${verdict.message}`)
  if (seq !== undefined) expect(verdict.seq).toBe(seq)
}

/**
 * A ledger with three identities (alice and bob are people in different accounts, pixpax-issuer is the
 * platform issuer) and alice's pixbook with two receipts.
 */
async function setup(policy: TrustPolicy = {}) {
  const a = author()
  const alice = actor('alice', 'acc-a')
  const bob = actor('bob', 'acc-b')
  const issuer = actor('pixpax-issuer', 'acc-platform', 'issuer')
  const v = newVerifier(policy)
  const book = pixbookStream('acc-a', 'book-1')
  const aliceId = await makeIdentityCreated(a, alice)
  const bobId = await makeIdentityCreated(a, bob)
  const issuerId = await makeIdentityCreated(a, issuer)
  const created = await make(a, { stream: book, type: 'PIXBOOK_CREATED', payload: { title: 'Pixel café ✨' }, by: alice, prev: null })
  const save = await make(a, {
    stream: book,
    type: 'PIXBOOK_SAVE',
    payload: { snapshotHash: SNAPSHOT, heads: ['ab'.repeat(32)], note: 'first save' },
    by: alice,
    prev: headOf(created),
  })
  for (const r of [aliceId, bobId, issuerId, created, save]) expectOk(await v.add(r))
  const w = { a, alice, bob, issuer, v, book, aliceId, bobId, issuerId, created, save, head: headOf(save) }
  return w
}
type World = Awaited<ReturnType<typeof setup>>

/** A valid next PIXBOOK_SAVE by alice (or `by`) after `prev` (default: the book head). */
function nextSave(
  w: World,
  overrides: { by?: Identity; prev?: { eventId: string; hash: string }; note?: string; idempotencyKey?: string; createdAt?: string } = {},
) {
  return make(w.a, {
    stream: w.book,
    type: 'PIXBOOK_SAVE',
    payload: { snapshotHash: SNAPSHOT, note: overrides.note ?? 'next save' },
    by: overrides.by ?? w.alice,
    prev: overrides.prev ?? w.head,
    ...(overrides.idempotencyKey ? { idempotencyKey: overrides.idempotencyKey } : {}),
    ...(overrides.createdAt ? { createdAt: overrides.createdAt } : {}),
  })
}

/**
 * Feeds `input` and expects rejection with `code`, the ledger unchanged; then feeds it again as JSON text
 * (when it is not text already), which must be rejected the same way.
 */
async function rejects(w: World, input: unknown, code: ErrorCode, options: { text?: boolean } = {}): Promise<RejectedReceipt> {
  const before = JSON.stringify(w.v.summary())
  const verdict = await w.v.add(input)
  if (verdict.ok) throw new Error(`expected ${code}, but the receipt was accepted (seq ${verdict.seq})`)
  expect(verdict.code, verdict.message).toBe(code)
  expect(verdict.message.length).toBeGreaterThan(0)
  expect(JSON.stringify(w.v.summary()), 'a rejected receipt changes nothing').toBe(before)
  if (typeof input !== 'string' && options.text !== false) {
    const again = await w.v.add(JSON.stringify(input))
    expect(again.ok ? 'accepted' : again.code, 'the same receipt as JSON text').toBe(code)
    expect(JSON.stringify(w.v.summary())).toBe(before)
  }
  return verdict
}

/** The book still accepts a valid receipt chained to the head it had before the rejections. */
async function stillChains(w: World): Promise<void> {
  const count = w.v.summary().streams[BOOK_KEY]!.count
  expectOk(await w.v.add(await nextSave(w, { note: 'after the rejection' })), count + 1)
}

describe('a valid ledger', () => {
  it('accepts identity, pixbook, issuer and key-rotation receipts across interleaved streams', async () => {
    const w = await setup()
    const alice2 = withKey(w.alice, 'alice-2')
    const packIssued = await make(w.a, {
      stream: w.book,
      type: 'PACK_ISSUED',
      payload: { packId: 'pack-1', seriesId: 's1', cards: [{ cardId: 'card-1', artHash: ART }] },
      by: w.issuer,
      prev: w.head,
    })
    expectOk(await w.v.add(packIssued), 3)
    const keyAdded = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: headOf(w.aliceId),
    })
    expectOk(await w.v.add(keyAdded), 2)
    const opened = await make(w.a, {
      stream: w.book,
      type: 'PACK_OPENED',
      payload: { packId: 'pack-1' },
      by: alice2,
      prev: headOf(packIssued),
    })
    expectOk(await w.v.add(opened), 4)
    const added = await make(w.a, {
      stream: w.book,
      type: 'CARD_ADDED',
      payload: { cardId: 'card-1', artHash: ART, packId: 'pack-1' },
      by: w.alice,
      prev: headOf(opened),
    })
    expectOk(await w.v.add(added), 5)
    const bobBook = pixbookStream('acc-b', 'bobs-book')
    const bobBookCreated = await make(w.a, { stream: bobBook, type: 'PIXBOOK_CREATED', payload: { title: 'Bob' }, by: w.bob, prev: null })
    expectOk(await w.v.add(bobBookCreated), 1)
    expect(w.v.summary()).toEqual({
      receipts: 10,
      streams: {
        'identity/alice': { count: 2, head: keyAdded.hash, headEventId: keyAdded.eventId },
        'identity/bob': { count: 1, head: w.bobId.hash, headEventId: w.bobId.eventId },
        'identity/pixpax-issuer': { count: 1, head: w.issuerId.hash, headEventId: w.issuerId.eventId },
        [BOOK_KEY]: { count: 5, head: added.hash, headEventId: added.eventId },
        'pixbook/acc-b/bobs-book': { count: 1, head: bobBookCreated.hash, headEventId: bobBookCreated.eventId },
      },
    })
  })

  it('receipts are hashed over their canonical body and parse back from their JSON text', async () => {
    const w = await setup()
    for (const r of [w.aliceId, w.created, w.save]) {
      const canonical = receiptCanonicalBytes(r)
      const { hash: _h, signature: _s, ...body } = r
      expect(canonical).toEqual(canonicalBytes(body))
      expect(r.hash).toBe(sha256Ref(canonical))
      expect(r.hash).toBe(sha256Ref(canonical, nodeSha256))
      expect(r.hash).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(r.signature.startsWith(SIGNATURE_PREFIX)).toBe(true)
      expect(parseSignature(r.signature)).toHaveLength(64)
      const checked = parseReceipt(JSON.stringify(r))
      expect(checked.canonical).toEqual(canonical)
      expect(checked.receipt).toEqual(r)
      expect(checkReceipt(r, nodeSha256).streamKey).toBe(r.stream.type === 'identity' ? `identity/${r.issuer.identityId}` : BOOK_KEY)
    }
  })

  const backends: Array<() => SignatureVerifier> = [nodeVerifier, webCryptoVerifier, () => nobleVerifier]
  for (const make_ of backends) {
    it(`gives the same verdicts with the ${make_().name} backend, as objects and as text`, async () => {
      const w = await setup()
      const inputs: unknown[] = [w.aliceId, w.bobId, w.created, w.save, await nextSave(w), await nextSave(w, { by: w.bob })]
      const reference: Verdict[] = []
      const check = newVerifier()
      for (const r of inputs) reference.push(await check.add(r))
      expect(reference.map((v) => (v.ok ? 'ok' : v.code))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'NOT_AUTHORIZED'])
      for (const asText of [false, true]) {
        const v = new ChainVerifier({ verifier: make_() })
        const verdicts: Verdict[] = []
        for (const r of inputs) verdicts.push(await v.add(asText ? JSON.stringify(r) : r))
        expect(verdicts).toEqual(reference)
      }
    })
  }

  it('prepare-ahead then commit in order gives the same verdicts as add, rejected receipts included', async () => {
    const w = await setup()
    const alice2 = withKey(w.alice, 'alice-2')
    const s1 = await nextSave(w)
    const keyAdded = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: headOf(w.aliceId),
    })
    const s2 = await nextSave(w, { by: alice2, prev: headOf(s1) })
    const forged = await reseal(s2, { issuer: { identityId: 'alice', publicKeyId: alice2.signer.publicKeyId } }, w.bob.signer)
    const stranger = withKey(w.alice, 'stranger')
    const strangerKeyAdded = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(stranger.jwk) },
      by: w.bob,
      prev: headOf(keyAdded),
    })
    const byStranger = await nextSave(w, { by: stranger, prev: headOf(s2) })
    const inputs: unknown[] = [
      w.aliceId,
      w.bobId,
      w.created,
      w.save,
      s1,
      '{',
      forged,
      byStranger,
      strangerKeyAdded,
      keyAdded,
      s2,
      byStranger,
    ]
    const one = newVerifier()
    const expected: Verdict[] = []
    for (const input of inputs) expected.push(await one.add(input))
    expect(expected.map((v) => (v.ok ? 'ok' : v.code))).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'JSON_INVALID',
      'KEY_UNKNOWN', // alice2 is not added yet
      'KEY_UNKNOWN',
      'NOT_AUTHORIZED', // bob cannot add a key to alice; the stranger key stays unknown
      'ok',
      'ok',
      'KEY_UNKNOWN',
    ])
    const two = newVerifier()
    const prepared = inputs.map((input) => two.prepare(input))
    const verdicts: Verdict[] = []
    for (const p of prepared) verdicts.push(await two.commit(p))
    expect(verdicts).toEqual(expected)
    expect(two.summary()).toEqual(one.summary())
  })
})

describe('JSON_INVALID', () => {
  it.each([
    ['truncated', '{"eventId":"01'],
    ['not JSON', 'receipt'],
    ['empty', ''],
    ['single quotes', "{'a':1}"],
  ])('%s', async (_name, text) => {
    const w = await setup()
    const verdict = await rejects(w, text, 'JSON_INVALID')
    expect(verdict.message).toMatch(/line \d+ column \d+/)
    expect(typeof verdict.details?.['line']).toBe('number')
    expect(typeof verdict.details?.['column']).toBe('number')
    await stillChains(w)
  })

  it('trailing data after a valid receipt, and a BOM before one', async () => {
    const w = await setup()
    const text = JSON.stringify(await nextSave(w))
    await rejects(w, text + ',', 'JSON_INVALID')
    await rejects(w, text + '\n{}', 'JSON_INVALID')
    await rejects(w, '\ufeff' + text, 'JSON_INVALID')
    expectOk(await w.v.add(text), 3)
  })
})

describe('DUPLICATE_KEY', () => {
  it('at the top level, in the payload and in the stream object', async () => {
    const w = await setup()
    const text = JSON.stringify(await nextSave(w))
    const top = await rejects(w, text.replace('"type":"PIXBOOK_SAVE"', '"type":"PIXBOOK_SAVE","type":"CARD_REMOVED"'), 'DUPLICATE_KEY')
    expect(top.details).toMatchObject({ key: 'type', line: 1 })
    await rejects(w, text.replace('"payload":{', '"payload":{"note":"hidden",'), 'DUPLICATE_KEY')
    await rejects(w, text.replace('"bookId":"book-1"', '"bookId":"book-1","bookId":"book-2"'), 'DUPLICATE_KEY')
    expectOk(await w.v.add(text), 3)
  })
})

describe('SCHEMA_INVALID', () => {
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
  ]

  it('a missing field, each of the twelve', async () => {
    const w = await setup()
    const next = await nextSave(w)
    expect(Object.keys(next).sort()).toEqual([...FIELDS].sort())
    for (const field of FIELDS) {
      const copy: Record<string, unknown> = structuredClone(next)
      delete copy[field]
      // Re-seal unless the missing field is hash/signature themselves.
      const input = field === 'hash' || field === 'signature' ? copy : await seal(copy, w.alice.signer)
      if (field !== 'hash' && field !== 'signature') expect(field in input).toBe(false)
      const verdict = await rejects(w, input, 'SCHEMA_INVALID')
      expect(verdict.details?.['path'], field).toBe(field)
    }
    await stillChains(w)
  })

  it('an extra field: top level, issuer, stream, payload', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const top = await rejects(w, await reseal(next, { extra: true }, w.alice.signer), 'SCHEMA_INVALID')
    expect(top.message).toMatch(/unknown field.*"extra"/)
    await rejects(w, await reseal(next, { issuer: { ...next.issuer, role: 'admin' } }, w.alice.signer), 'SCHEMA_INVALID')
    await rejects(w, await reseal(next, { stream: { ...next.stream, owner: 'alice' } }, w.alice.signer), 'SCHEMA_INVALID')
    const payload = await rejects(w, await reseal(next, { payload: { ...next.payload, mood: 'happy' } }, w.alice.signer), 'SCHEMA_INVALID')
    expect(payload.message).toMatch(/"mood"/)
    // "__proto__" is a key like any other: an own property, so an unknown field.
    const proto = JSON.stringify(next).replace('"payload":{', '"payload":{"__proto__":{"x":1},')
    await rejects(w, proto, 'SCHEMA_INVALID')
    await stillChains(w)
  })

  it('a field of the wrong type or shape', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const cases: Record<string, unknown>[] = [
      { createdAt: 1771934400000 },
      { createdAt: '2026-02-24T12:00:00Z' }, // no milliseconds
      { createdAt: '2026-02-24T12:00:00.000+00:00' },
      { createdAt: '2026-02-30T12:00:00.000Z' }, // no such day
      { stream: 'pixbook/acc-a/book-1' },
      { stream: { ...next.stream, bookId: 'book/1' } },
      { stream: { type: 'pixbook', accountId: 'acc-a' } },
      { stream: { type: 'nope', accountId: 'acc-a', bookId: 'book-1' } },
      { issuer: { identityId: 'alice', publicKeyId: 'short' } },
      { issuer: { identityId: 'al ice', publicKeyId: w.alice.signer.publicKeyId } },
      { type: 'pixbook_save' },
      { payload: [] },
      { payload: null },
      { payload: { ...next.payload, snapshotHash: 'sha256:AB' } },
      { payload: { ...next.payload, note: 42 } },
      { prevHash: w.head.hash.toUpperCase() },
      { prevEventId: 7 },
      { idempotencyKey: 'has space' },
      { idempotencyKey: '' },
      { eventId: 123 },
    ]
    for (const change of cases) {
      const verdict = await w.v.add(await reseal(next, change, w.alice.signer))
      expect(verdict.ok ? 'ok' : verdict.code, JSON.stringify(change)).toBe('SCHEMA_INVALID')
    }
    expect(JSON.stringify(w.v.summary().streams[BOOK_KEY])).toBe(
      JSON.stringify({ count: 2, head: w.head.hash, headEventId: w.head.eventId }),
    )
    await stillChains(w)
  })

  it('a receipt type the stream does not accept', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const wrong = await rejects(
      w,
      await reseal(next, { type: 'KEY_ADDED', payload: { publicKey: publicJwk(w.alice.jwk) } }, w.alice.signer),
      'SCHEMA_INVALID',
    )
    expect(wrong.message).toMatch(/does not accept receipt type KEY_ADDED/)
    await rejects(w, await reseal(next, { type: 'MADE_UP' }, w.alice.signer), 'SCHEMA_INVALID')
    const idNext = await reseal(
      next,
      { stream: identityStream(w.alice), prevEventId: w.aliceId.eventId, prevHash: w.aliceId.hash },
      w.alice.signer,
    )
    await rejects(w, idNext, 'SCHEMA_INVALID')
    await stillChains(w)
  })

  it('a float or an unsafe integer in the payload', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const text = JSON.stringify(next)
    const float = await rejects(w, text.replace('"payload":{', '"payload":{"weight":1.5,'), 'SCHEMA_INVALID')
    expect(float.message).toMatch(/floating-point/)
    await rejects(w, text.replace('"payload":{', '"payload":{"weight":1.0,'), 'SCHEMA_INVALID')
    await rejects(w, text.replace('"payload":{', '"payload":{"weight":1e2,'), 'SCHEMA_INVALID')
    await rejects(w, text.replace('"payload":{', '"payload":{"weight":9007199254740993,'), 'SCHEMA_INVALID')
    // As a value (no parser involved): the JSON value rules still apply, even re-hashed and re-signed.
    const sealed = await reseal(next, { payload: { ...next.payload, weight: 1.5 } }, w.alice.signer)
    const verdict = await w.v.add(sealed)
    expect(verdict.ok ? 'ok' : verdict.code).toBe('SCHEMA_INVALID')
    expect(verdict.ok ? '' : verdict.message).toMatch(/integers/)
    const big = await w.v.add(await reseal(next, { payload: { ...next.payload, weight: 2 ** 53 } }, w.alice.signer))
    expect(big.ok ? 'ok' : big.code).toBe('SCHEMA_INVALID')
    await stillChains(w)
  })

  it('lone surrogates anywhere are SCHEMA_INVALID verdicts, never a thrown error', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const cases: Record<string, unknown>[] = [
      { payload: { ...next.payload, note: 'a\ud800b' } },
      { eventId: next.eventId.slice(0, 25) + '\ud800' },
      { prevEventId: '\udc00' },
    ]
    for (const change of cases) {
      const forged = { ...structuredClone(next), ...change } // the original hash and signature
      const verdict = await w.v.add(forged)
      expect(verdict.ok ? 'ok' : verdict.code, JSON.stringify(change)).toBe('SCHEMA_INVALID')
      expect(() => checkReceipt(forged)).toThrow(PixpaxError)
      // As text, the strict parser refuses the same lone surrogate.
      const text = await w.v.add(JSON.stringify(forged))
      expect(text.ok ? 'ok' : text.code).toBe('SCHEMA_INVALID')
    }
    await stillChains(w)
  })

  it('a payload nested deeper than the parser allows', async () => {
    const w = await setup()
    const next = await nextSave(w)
    let deep: unknown = 'x'
    for (let i = 0; i < 70; i++) deep = [deep]
    await rejects(w, { ...structuredClone(next), payload: { ...next.payload, deep } }, 'SCHEMA_INVALID')
    await stillChains(w)
  })

  it('something that is not a receipt object at all', async () => {
    const w = await setup()
    for (const value of [null, [], 'text', 42, true]) {
      const verdict = await w.v.add(typeof value === 'string' ? JSON.stringify(value) : value)
      expect(verdict.ok ? 'ok' : verdict.code, JSON.stringify(value)).toBe('SCHEMA_INVALID')
    }
    await stillChains(w)
  })
})

describe('SCHEMA_VERSION_UNSUPPORTED', () => {
  it.each([[2], [0], ['1'], [null], [1.5]])('schemaVersion %j', async (version) => {
    const w = await setup()
    const next = await nextSave(w)
    const verdict = await rejects(w, await reseal(next, { schemaVersion: version }, w.alice.signer), 'SCHEMA_VERSION_UNSUPPORTED', {
      text: version !== 1.5, // as text, 1.5 is a float the parser refuses first
    })
    expect(verdict.details).toEqual({ supported: [1] })
    await stillChains(w)
  })
})

describe('RECEIPT_TOO_LARGE', () => {
  it('canonical bytes over 64 KiB, even if every other rule would refuse it too', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const base = receiptCanonicalBytes({ ...next, payload: { ...next.payload, note: '' } }).length
    // Exactly at the limit: not too large (the note is then simply too long for the schema).
    const atLimit = await reseal(next, { payload: { ...next.payload, note: 'x'.repeat(MAX_RECEIPT_BYTES - base) } }, w.alice.signer)
    expect(receiptCanonicalBytes(atLimit as Receipt).length).toBe(MAX_RECEIPT_BYTES)
    await rejects(w, atLimit, 'SCHEMA_INVALID')
    const over = await reseal(next, { payload: { ...next.payload, note: 'x'.repeat(MAX_RECEIPT_BYTES - base + 1) } }, w.alice.signer)
    const verdict = await rejects(w, over, 'RECEIPT_TOO_LARGE')
    expect(verdict.details).toEqual({ size: MAX_RECEIPT_BYTES + 1, limit: MAX_RECEIPT_BYTES })
    // Multi-byte characters count as their UTF-8 bytes.
    const euros = await reseal(
      next,
      { payload: { ...next.payload, note: '€'.repeat(Math.ceil((MAX_RECEIPT_BYTES - base + 1) / 3)) } },
      w.alice.signer,
    )
    await rejects(w, euros, 'RECEIPT_TOO_LARGE')
    await stillChains(w)
  })

  it('text too long to hold any receipt is refused before parsing', async () => {
    const w = await setup()
    const text = JSON.stringify(await nextSave(w))
    const padded = text + ' '.repeat(MAX_RECEIPT_TEXT - text.length + 1)
    await rejects(w, padded, 'RECEIPT_TOO_LARGE')
    expectOk(await w.v.add(text + ' '.repeat(MAX_RECEIPT_TEXT - text.length)), 3)
  })
})

describe('HASH_MISMATCH', () => {
  it('any field of the body changed after signing, or a hash that is not of the canonical bytes', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const changes: Record<string, unknown>[] = [
      { payload: { ...next.payload, note: 'altered' } },
      { createdAt: '2026-01-01T00:00:00.000Z' },
      { idempotencyKey: 'another-key' },
      { eventId: ulid(Date.UTC(2026, 5, 1), (n) => new Uint8Array(n)) },
      { hash: 'sha256:' + '0'.repeat(64) },
      { hash: w.head.hash },
      // hashing the whole receipt (signature included) is a classic mistake
      { hash: sha256Ref(canonicalBytes(next)) },
    ]
    for (const change of changes) {
      const forged = { ...structuredClone(next), ...change }
      const verdict = await rejects(w, forged, 'HASH_MISMATCH')
      // details.expected is the hash of what was actually received.
      expect(verdict.details).toEqual({ expected: sha256Ref(receiptCanonicalBytes(forged as Receipt)) })
    }
    expectOk(await w.v.add(next), 3)
  })
})

describe('SIGNATURE_INVALID', () => {
  it('a well-formed signature that does not verify under the named key', async () => {
    const w = await setup()
    const next = await nextSave(w)
    // Signed by bob's key while naming alice's.
    await rejects(w, await reseal(next, {}, w.bob.signer), 'SIGNATURE_INVALID')
    // The payload changed and the hash recomputed, but the original signature kept.
    const altered = { ...structuredClone(next), payload: { ...next.payload, note: 'altered' } }
    await rejects(w, { ...altered, hash: sha256Ref(receiptCanonicalBytes(altered)) }, 'SIGNATURE_INVALID')
    // Another receipt's (valid, low-S) signature transplanted.
    await rejects(w, { ...structuredClone(next), signature: w.save.signature }, 'SIGNATURE_INVALID')
    expectOk(await w.v.add(next), 3)
  })

  it('an IDENTITY_CREATED not signed by the key it creates', async () => {
    const w = await setup()
    const carol = actor('carol', 'acc-c')
    const genuine = await makeIdentityCreated(w.a, carol)
    await rejects(w, await reseal(genuine, {}, w.bob.signer), 'SIGNATURE_INVALID')
    expectOk(await w.v.add(genuine), 1)
  })
})

describe('SIGNATURE_NOT_CANONICAL', () => {
  it('high S, DER, wrong prefix, bad base64, wrong length, r or s out of range', async () => {
    const w = await setup()
    const next = await nextSave(w)
    const sig = parseSignature(next.signature)
    const { r, s } = splitSignature(sig)
    const highS = new p256.Signature(r, P256_N - s).toBytes('compact')
    // The high-S twin is a perfectly valid ECDSA signature; only the receipt policy refuses it.
    expect(await nodeVerifier().verify(w.alice.signer.publicKey, receiptCanonicalBytes(next), highS)).toBe(true)
    const der = p256.Signature.fromBytes(sig, 'compact').toBytes('der')
    const b64 = base64Encode(sig)
    expect(b64.endsWith('==')).toBe(true)
    const lastDataChar = b64[b64.length - 3]!
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    const sloppy = b64.slice(0, -3) + alphabet[alphabet.indexOf(lastDataChar) | 1] + '=='
    expect(base64Decode(sloppy)).toBeUndefined()
    const withByte = (bytes: Uint8Array) => SIGNATURE_PREFIX + base64Encode(bytes)
    const rs = (rr: bigint, ss: bigint) =>
      Uint8Array.from({ length: 64 }, (_, i) => Number(((i < 32 ? rr : ss) >> BigInt(8 * (31 - (i % 32)))) & 0xffn))
    expect(rs(r, s)).toEqual(sig)
    const variants: Record<string, string> = {
      highS: formatSignature(highS),
      der: withByte(der),
      noPrefix: b64,
      otherCurve: 'ecdsa-p384:' + b64,
      upperPrefix: 'ECDSA-P256:' + b64,
      spaceAfterPrefix: 'ecdsa-p256: ' + b64,
      missingPadding: SIGNATURE_PREFIX + b64.replace(/=+$/, ''),
      trailingNewline: next.signature + '\n',
      innerWhitespace: SIGNATURE_PREFIX + b64.slice(0, 40) + ' ' + b64.slice(40),
      base64url: SIGNATURE_PREFIX + Buffer.from(sig).toString('base64url'),
      nonCanonicalBits: SIGNATURE_PREFIX + sloppy,
      short: withByte(sig.subarray(0, 63)),
      long: withByte(new Uint8Array([...sig, 0])),
      empty: SIGNATURE_PREFIX,
      rZero: withByte(rs(0n, s)),
      sZero: withByte(rs(r, 0n)),
      rIsN: withByte(rs(P256_N, s)),
      sIsN: withByte(rs(r, P256_N)),
    }
    // base64url differs from base64 only if the signature has + or /; make sure the case is meaningful.
    if (!/[+/]/.test(b64)) delete variants['base64url']
    for (const [name, signature] of Object.entries(variants)) {
      const verdict = await w.v.add({ ...structuredClone(next), signature })
      expect(verdict.ok ? 'ok' : verdict.code, name).toBe('SIGNATURE_NOT_CANONICAL')
    }
    const der_ = await rejects(w, { ...structuredClone(next), signature: variants['der'] }, 'SIGNATURE_NOT_CANONICAL')
    expect(der_.message).toMatch(/DER/)
    await rejects(w, { ...structuredClone(next), signature: variants['highS'] }, 'SIGNATURE_NOT_CANONICAL')
    expectOk(await w.v.add(next), 3)
    expect(bytesToHex(parseSignature(next.signature))).toBe(bytesToHex(sig))
  })
})

describe('KEY_UNKNOWN', () => {
  it('an identity nobody has seen', async () => {
    const w = await setup()
    const carol = actor('carol', 'acc-c')
    const book = await make(w.a, {
      stream: pixbookStream('acc-c', 'b'),
      type: 'PIXBOOK_CREATED',
      payload: { title: 'Carol' },
      by: carol,
      prev: null,
    })
    const verdict = await rejects(w, book, 'KEY_UNKNOWN')
    expect(verdict.details).toEqual({ identityId: 'carol' })
    // Once carol's identity is known, the very same receipt is fine.
    expectOk(await w.v.add(await makeIdentityCreated(w.a, carol)))
    expectOk(await w.v.add(book), 1)
  })

  it('a key the identity never added', async () => {
    const w = await setup()
    const stranger = withKey(w.alice, 'stranger')
    const verdict = await rejects(w, await nextSave(w, { by: stranger }), 'KEY_UNKNOWN')
    expect(verdict.details).toEqual({ identityId: 'alice', publicKeyId: stranger.signer.publicKeyId })
    // Bob's key is known, but not as one of alice's.
    const bobAsAlice = { ...w.bob, identityId: 'alice' }
    await rejects(w, await nextSave(w, { by: bobAsAlice }), 'KEY_UNKNOWN')
    await stillChains(w)
  })

  it('an IDENTITY_CREATED whose issuer.publicKeyId is not the key it creates', async () => {
    const w = await setup()
    const dave = actor('dave', 'acc-d')
    const otherKey = withKey(dave, 'dave-other')
    const r = await make(w.a, {
      stream: identityStream(dave),
      type: 'IDENTITY_CREATED',
      payload: { publicKey: publicJwk(dave.jwk), accountId: 'acc-d', kind: 'person' },
      by: otherKey,
      prev: null,
    })
    expect(r.issuer.publicKeyId).not.toBe(jwkThumbprint(publicJwk(dave.jwk)))
    await rejects(w, r, 'KEY_UNKNOWN')
    expectOk(await w.v.add(await makeIdentityCreated(w.a, dave)), 1)
  })
})

describe('KEY_REVOKED', () => {
  it('a key revoked earlier in the identity stream cannot sign, whatever createdAt says', async () => {
    const w = await setup()
    const alice2 = withKey(w.alice, 'alice-2')
    const keyAdded = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: headOf(w.aliceId),
    })
    expectOk(await w.v.add(keyAdded), 2)
    const revoked = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_REVOKED',
      payload: { publicKeyId: w.alice.signer.publicKeyId },
      by: alice2,
      prev: headOf(keyAdded),
    })
    expectOk(await w.v.add(revoked), 3)
    // Signed by the old key, correctly chained, backdated to before the revocation (and before everything).
    const stale = await nextSave(w, { by: w.alice, createdAt: '2020-01-01T00:00:00.000Z' })
    expect(stale.createdAt < w.aliceId.createdAt).toBe(true)
    await rejects(w, stale, 'KEY_REVOKED')
    // The revoked key cannot act on its own identity either.
    const reAdd = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(withKey(w.alice, 'alice-3').jwk) },
      by: w.alice,
      prev: headOf(revoked),
    })
    await rejects(w, reAdd, 'KEY_REVOKED')
    // The new key works, chained to the head the rejected receipts did not move.
    expectOk(await w.v.add(await nextSave(w, { by: alice2 })), 3)
  })

  it('a receipt accepted before the revocation stays accepted (position, not time, decides)', async () => {
    const w = await setup()
    const alice2 = withKey(w.alice, 'alice-2')
    const early = await nextSave(w, { by: w.alice })
    expectOk(await w.v.add(early), 3)
    const keyAdded = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: headOf(w.aliceId),
    })
    const revoked = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_REVOKED',
      payload: { publicKeyId: w.alice.signer.publicKeyId },
      by: alice2,
      prev: headOf(keyAdded),
    })
    // Replaying the same export in a fresh verifier gives the same verdicts.
    const replay = newVerifier()
    for (const r of [w.aliceId, w.bobId, w.issuerId, w.created, w.save, early, keyAdded, revoked]) expectOk(await replay.add(r))
    // The same receipt placed after the revocation is refused.
    const reordered = newVerifier()
    for (const r of [w.aliceId, w.bobId, w.issuerId, w.created, w.save, keyAdded, revoked]) expectOk(await reordered.add(r))
    const verdict = await reordered.add(early)
    expect(verdict.ok ? 'ok' : verdict.code).toBe('KEY_REVOKED')
  })
})

describe('NOT_AUTHORIZED', () => {
  it("another identity writes into someone's pixbook or identity stream", async () => {
    const w = await setup()
    await rejects(w, await nextSave(w, { by: w.bob }), 'NOT_AUTHORIZED')
    // Same account is not enough: the book belongs to whoever opened it.
    const colleague = actor('colleague', 'acc-a')
    expectOk(await w.v.add(await makeIdentityCreated(w.a, colleague)))
    await rejects(w, await nextSave(w, { by: colleague }), 'NOT_AUTHORIZED')
    // Nor may bob add a key to alice.
    const keyForAlice = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(withKey(w.bob, 'bob-2').jwk) },
      by: w.bob,
      prev: headOf(w.aliceId),
    })
    await rejects(w, keyForAlice, 'NOT_AUTHORIZED')
    // Nor open a book in alice's account.
    const squat = await make(w.a, {
      stream: pixbookStream('acc-a', 'bobs-squat'),
      type: 'PIXBOOK_CREATED',
      payload: { title: 'mine' },
      by: w.bob,
      prev: null,
    })
    await rejects(w, squat, 'NOT_AUTHORIZED')
    await stillChains(w)
  })

  it('PACK_ISSUED: refused from a person, accepted from an identity of kind issuer', async () => {
    const w = await setup()
    const pack = { packId: 'pack-1', cards: [{ cardId: 'card-1', artHash: ART }] }
    const byAlice = await make(w.a, { stream: w.book, type: 'PACK_ISSUED', payload: pack, by: w.alice, prev: w.head })
    await rejects(w, byAlice, 'NOT_AUTHORIZED')
    const byIssuer = await make(w.a, { stream: w.book, type: 'PACK_ISSUED', payload: pack, by: w.issuer, prev: w.head })
    expectOk(await w.v.add(byIssuer), 3)
  })

  it('with platformIssuers set, only the listed identities may issue packs', async () => {
    const w = await setup({ platformIssuers: new Set(['pixpax-issuer']) })
    const rogue = actor('rogue-issuer', 'acc-rogue', 'issuer')
    // A pinned verifier refuses to even create an unlisted identity of kind issuer…
    await rejects(w, await makeIdentityCreated(w.a, rogue), 'NOT_AUTHORIZED')
    const pack = { packId: 'pack-1', cards: [{ cardId: 'card-1', artHash: ART }] }
    // …so its packs come from an unknown identity.
    await rejects(w, await make(w.a, { stream: w.book, type: 'PACK_ISSUED', payload: pack, by: rogue, prev: w.head }), 'KEY_UNKNOWN')
    expectOk(await w.v.add(await make(w.a, { stream: w.book, type: 'PACK_ISSUED', payload: pack, by: w.issuer, prev: w.head })), 3)
    // Without the pin, the self-declared kind is enough.
    const open = await setup()
    expectOk(await open.v.add(await makeIdentityCreated(open.a, rogue)))
    expectOk(await open.v.add(await make(open.a, { stream: open.book, type: 'PACK_ISSUED', payload: pack, by: rogue, prev: open.head })), 3)
  })
})

describe('STREAM_RULE_VIOLATION', () => {
  it('a stream not opened by its genesis type, or a genesis type after the start', async () => {
    const w = await setup()
    const opensWithSave = await make(w.a, {
      stream: pixbookStream('acc-a', 'book-2'),
      type: 'PIXBOOK_SAVE',
      payload: { snapshotHash: SNAPSHOT },
      by: w.alice,
      prev: null,
    })
    await rejects(w, opensWithSave, 'STREAM_RULE_VIOLATION')
    const createdAgain = await make(w.a, {
      stream: w.book,
      type: 'PIXBOOK_CREATED',
      payload: { title: 'again' },
      by: w.alice,
      prev: w.head,
    })
    await rejects(w, createdAgain, 'STREAM_RULE_VIOLATION')
    await stillChains(w)
  })

  it('identity rules: a key added twice, revoking a key that is not active', async () => {
    const w = await setup()
    const id = identityStream(w.alice)
    const twice = await make(w.a, {
      stream: id,
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(w.alice.jwk) },
      by: w.alice,
      prev: headOf(w.aliceId),
    })
    await rejects(w, twice, 'STREAM_RULE_VIOLATION')
    const unknown = await make(w.a, {
      stream: id,
      type: 'KEY_REVOKED',
      payload: { publicKeyId: w.bob.signer.publicKeyId },
      by: w.alice,
      prev: headOf(w.aliceId),
    })
    await rejects(w, unknown, 'STREAM_RULE_VIOLATION')
    const alice2 = withKey(w.alice, 'alice-2')
    const added = await make(w.a, {
      stream: id,
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: headOf(w.aliceId),
    })
    expectOk(await w.v.add(added), 2)
    const revoked = await make(w.a, {
      stream: id,
      type: 'KEY_REVOKED',
      payload: { publicKeyId: alice2.signer.publicKeyId },
      by: w.alice,
      prev: headOf(added),
    })
    expectOk(await w.v.add(revoked), 3)
    const revokedAgain = await make(w.a, {
      stream: id,
      type: 'KEY_REVOKED',
      payload: { publicKeyId: alice2.signer.publicKeyId },
      by: w.alice,
      prev: headOf(revoked),
    })
    await rejects(w, revokedAgain, 'STREAM_RULE_VIOLATION')
    // A revoked key stays revoked: adding it back is "added twice".
    const readd = await make(w.a, {
      stream: id,
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: headOf(revoked),
    })
    await rejects(w, readd, 'STREAM_RULE_VIOLATION')
  })

  it('account rules: the last owner cannot be removed, members must belong to the account', async () => {
    const w = await setup()
    const account = { type: 'account', accountId: 'acc-a' }
    const created = await make(w.a, { stream: account, type: 'ACCOUNT_CREATED', payload: {}, by: w.alice, prev: null })
    expectOk(await w.v.add(created), 1)
    await rejects(
      w,
      await make(w.a, { stream: account, type: 'MEMBER_REMOVED', payload: { identityId: 'alice' }, by: w.alice, prev: headOf(created) }),
      'STREAM_RULE_VIOLATION',
    )
    await rejects(
      w,
      await make(w.a, {
        stream: account,
        type: 'MEMBER_ADDED',
        payload: { identityId: 'bob', role: 'member' },
        by: w.alice,
        prev: headOf(created),
      }),
      'STREAM_RULE_VIOLATION',
    )
  })
})

describe('CHAIN_BROKEN', () => {
  it('prevEventId/prevHash that do not name the previous receipt', async () => {
    const w = await setup()
    const verdict = await rejects(
      w,
      await nextSave(w, { prev: { eventId: w.head.eventId, hash: 'sha256:' + '1'.repeat(64) } }),
      'CHAIN_BROKEN',
    )
    expect(verdict.details).toEqual({ head: { eventId: w.head.eventId, hash: w.head.hash, seq: 2 } })
    await rejects(
      w,
      await nextSave(w, { prev: { eventId: ulid(Date.UTC(2026, 1, 1), (n) => new Uint8Array(n)), hash: w.head.hash } }),
      'CHAIN_BROKEN',
    )
    // A predecessor from another stream.
    await rejects(w, await nextSave(w, { prev: headOf(w.aliceId) }), 'CHAIN_BROKEN')
    // prevEventId set, prevHash null (and the reverse).
    const next = await nextSave(w)
    await rejects(w, await reseal(next, { prevHash: null }, w.alice.signer), 'CHAIN_BROKEN')
    await rejects(w, await reseal(next, { prevEventId: null }, w.alice.signer), 'CHAIN_BROKEN')
    // Not even a ULID: names nothing.
    await rejects(w, await reseal(next, { prevEventId: 'nothing' }, w.alice.signer), 'CHAIN_BROKEN')
    await stillChains(w)
  })

  it('a first receipt that names a predecessor', async () => {
    const w = await setup()
    const book2 = pixbookStream('acc-a', 'book-2')
    await rejects(
      w,
      await make(w.a, { stream: book2, type: 'PIXBOOK_CREATED', payload: { title: 'two' }, by: w.alice, prev: w.head }),
      'CHAIN_BROKEN',
    )
    await rejects(
      w,
      await make(w.a, { stream: book2, type: 'PIXBOOK_SAVE', payload: { snapshotHash: SNAPSHOT }, by: w.alice, prev: w.head }),
      'CHAIN_BROKEN',
    )
    expectOk(
      await w.v.add(await make(w.a, { stream: book2, type: 'PIXBOOK_CREATED', payload: { title: 'two' }, by: w.alice, prev: null })),
      1,
    )
  })
})

describe('CHAIN_CONFLICT', () => {
  it('a fork: the first receipt after a predecessor wins, the second is refused with the current head', async () => {
    const w = await setup()
    const left = await nextSave(w, { note: 'left' })
    const right = await nextSave(w, { note: 'right' })
    expect(left.prevEventId).toBe(right.prevEventId)
    expectOk(await w.v.add(left), 3)
    const verdict = await rejects(w, right, 'CHAIN_CONFLICT')
    expect(verdict.details).toEqual({ head: { eventId: left.eventId, hash: left.hash, seq: 3 } })
    // A fork further back, off PIXBOOK_CREATED.
    const old = await rejects(w, await nextSave(w, { prev: headOf(w.created) }), 'CHAIN_CONFLICT')
    expect(old.details).toEqual({ head: { eventId: left.eventId, hash: left.hash, seq: 3 } })
    // The winner's branch continues.
    expectOk(await w.v.add(await nextSave(w, { prev: headOf(left) })), 4)
  })

  it('a second genesis of an existing stream, and a replayed receipt', async () => {
    const w = await setup()
    const second = await make(w.a, { stream: w.book, type: 'PIXBOOK_CREATED', payload: { title: 'second' }, by: w.alice, prev: null })
    const g = await rejects(w, second, 'CHAIN_CONFLICT')
    expect(g.details).toMatchObject({ head: { eventId: w.head.eventId, seq: 2 } })
    await rejects(w, w.save, 'CHAIN_CONFLICT')
    await rejects(w, w.created, 'CHAIN_CONFLICT')
    await rejects(w, w.aliceId, 'CHAIN_CONFLICT')
    await stillChains(w)
  })
})

describe('EVENT_ID_ORDER', () => {
  it('an eventId that is not a ULID', async () => {
    const w = await setup()
    const next = await nextSave(w)
    for (const eventId of [
      'not-a-ulid',
      next.eventId.toLowerCase(),
      '8' + next.eventId.slice(1),
      next.eventId.slice(0, 25),
      next.eventId + '0',
      '',
    ]) {
      const verdict = await w.v.add(await reseal(next, { eventId }, w.alice.signer))
      expect(verdict.ok ? 'ok' : verdict.code, eventId).toBe('EVENT_ID_ORDER')
    }
    await rejects(w, await reseal(next, { eventId: 'not-a-ulid' }, w.alice.signer), 'EVENT_ID_ORDER')
    expectOk(await w.v.add(next), 3)
  })

  it('an eventId not greater than its predecessor', async () => {
    const w = await setup()
    const saveWith = (eventId: string) =>
      make(w.a, { stream: w.book, type: 'PIXBOOK_SAVE', payload: { snapshotHash: SNAPSHOT }, by: w.alice, prev: w.head, eventId })
    const equal = await rejects(w, await saveWith(w.head.eventId), 'EVENT_ID_ORDER')
    expect(equal.message).toContain(w.head.eventId)
    await rejects(w, await saveWith(ulid(Date.UTC(2026, 0, 1), (n) => new Uint8Array(n))), 'EVENT_ID_ORDER')
    // Between the two earlier receipts: greater than the genesis, still not greater than the head.
    await rejects(w, await saveWith(incrementUlid(w.created.eventId)), 'EVENT_ID_ORDER')
    // One step above the head is enough.
    expectOk(await w.v.add(await saveWith(incrementUlid(w.head.eventId))), 3)
  })
})

describe('IDEMPOTENCY_CONFLICT', () => {
  it('a reused idempotency key with a different body, in the same or another stream of the identity', async () => {
    const w = await setup()
    const reuse = await nextSave(w, { idempotencyKey: w.save.idempotencyKey })
    const verdict = await rejects(w, reuse, 'IDEMPOTENCY_CONFLICT')
    expect(verdict.details).toEqual({ previousHash: w.save.hash })
    const alice2 = withKey(w.alice, 'alice-2')
    const keyAdded = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: headOf(w.aliceId),
      idempotencyKey: w.save.idempotencyKey,
    })
    await rejects(w, keyAdded, 'IDEMPOTENCY_CONFLICT')
    // Keys are per identity: bob may use the same one.
    const bobBook = await make(w.a, {
      stream: pixbookStream('acc-b', 'b'),
      type: 'PIXBOOK_CREATED',
      payload: { title: 'b' },
      by: w.bob,
      prev: null,
      idempotencyKey: w.save.idempotencyKey,
    })
    expectOk(await w.v.add(bobBook), 1)
    await stillChains(w)
  })

  it('a rejected receipt does not use up its idempotency key', async () => {
    const w = await setup()
    const bad = await nextSave(w, { idempotencyKey: 'once', by: withKey(w.alice, 'stranger') })
    await rejects(w, bad, 'KEY_UNKNOWN')
    expectOk(await w.v.add(await nextSave(w, { idempotencyKey: 'once' })), 3)
  })
})

describe('rejected receipts leave no trace', () => {
  it('a rejected KEY_ADDED does not register its key', async () => {
    const w = await setup()
    const alice2 = withKey(w.alice, 'alice-2')
    const brokenAdd = await make(w.a, {
      stream: identityStream(w.alice),
      type: 'KEY_ADDED',
      payload: { publicKey: publicJwk(alice2.jwk) },
      by: w.alice,
      prev: { eventId: w.aliceId.eventId, hash: 'sha256:' + '2'.repeat(64) },
    })
    await rejects(w, brokenAdd, 'CHAIN_BROKEN')
    await rejects(w, await nextSave(w, { by: alice2 }), 'KEY_UNKNOWN')
    await stillChains(w)
  })

  it('a rejected genesis does not create its stream or identity', async () => {
    const w = await setup()
    const erin = actor('erin', 'acc-e')
    const genuine = await makeIdentityCreated(w.a, erin)
    await rejects(w, { ...structuredClone(genuine), hash: w.head.hash }, 'HASH_MISMATCH')
    expect(w.v.summary().streams['identity/erin']).toBeUndefined()
    const book = await make(w.a, {
      stream: pixbookStream('acc-e', 'b'),
      type: 'PIXBOOK_CREATED',
      payload: { title: 'e' },
      by: erin,
      prev: null,
    })
    await rejects(w, book, 'KEY_UNKNOWN')
    expectOk(await w.v.add(genuine), 1)
    expectOk(await w.v.add(book), 1)
  })
})

describe('isCreatedAt: the fields checked by arithmetic, as a Date round trip would', () => {
  const viaDate = (value: string) => {
    if (!/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/.test(value)) return false
    const ms = Date.parse(value)
    return Number.isFinite(ms) && new Date(ms).toISOString() === value
  }
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'))
  const stamp = fc
    .tuple(fc.integer({ min: 0, max: 9999 }), two(13), two(32), two(25), two(61), two(61), fc.integer({ min: 0, max: 999 }))
    .map(([y, mo, d, h, mi, s, ms]) => `${String(y).padStart(4, '0')}-${mo}-${d}T${h}:${mi}:${s}.${String(ms).padStart(3, '0')}Z`)

  it('agrees with new Date(Date.parse(v)).toISOString() === v on field values in and out of range', () => {
    fc.assert(
      fc.property(stamp, (value) => {
        expect(isCreatedAt(value)).toBe(viaDate(value))
      }),
      { numRuns: 20_000 },
    )
    for (const value of [
      '2024-02-29T00:00:00.000Z',
      '2023-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2000-02-29T23:59:59.999Z',
      '2026-12-31T24:00:00.000Z',
    ])
      expect(isCreatedAt(value)).toBe(viaDate(value))
  })
})
