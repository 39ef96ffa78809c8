/**
 * The golden vectors in docs/vectors/: fixed keys, a valid multi-stream export, and tampered variants,
 * each with its expected verdict. Deterministic (fixed secrets, times, ids; RFC 6979 signatures from
 * @noble/curves), so the test regenerates them and compares byte for byte, and
 * `node --import tsx scripts/golden-vectors.ts` rewrites them after a deliberate change.
 */
import { p256 } from '@noble/curves/nist.js'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  base64Decode,
  base64Encode,
  buildReceipt,
  bytesToHex,
  canonicalJson,
  jwkThumbprint,
  nobleSigner,
  P256_N,
  privateJwkFromSecret,
  publicJwk,
  receiptCanonicalBytes,
  sha256Ref,
  SIGNATURE_PREFIX,
  ulid,
  utf8Encode,
  type ChainHead,
  type PrivateJwk,
  type Receipt,
  type StreamRef,
} from '../../src/index.js'
import { bigIntTo32Bytes, bytesToBigInt } from '../../src/crypto/p256.js'

const T0 = Date.parse('2026-02-24T12:34:56.000Z')

function keyFor(name: string): PrivateJwk {
  // sha256 of a name is below n with overwhelming probability; the assertion makes sure.
  const secret = sha256(utf8Encode(`pixpax golden key ${name}`))
  if (bytesToBigInt(secret) >= P256_N) throw new Error('golden key out of range')
  return privateJwkFromSecret(secret)
}

const fixedRandom = (seed: string) => (length: number) => sha256(utf8Encode(seed)).subarray(0, length)

interface Author {
  name: string
  identityId: string
  key: PrivateJwk
}

export interface GoldenCase {
  name: string
  description: string
  /** Feed this many lines of chain-valid.ndjson first… */
  after: number
  /** …then this line. */
  line: string
  expected: string
}

export interface GoldenVectors {
  files: Record<string, string>
}

export async function buildGoldenVectors(): Promise<GoldenVectors> {
  const keys = {
    alice1: keyFor('alice-1'),
    alice2: keyFor('alice-2'),
    bob: keyFor('bob'),
    issuer: keyFor('platform-issuer'),
    stranger: keyFor('stranger'),
  }
  const alice: Author = { name: 'alice', identityId: 'alice', key: keys.alice1 }
  const bob: Author = { name: 'bob', identityId: 'bob', key: keys.bob }
  const issuer: Author = { name: 'issuer', identityId: 'pixpax-issuer', key: keys.issuer }

  const heads = new Map<string, ChainHead>()
  const lines: string[] = []
  const receipts: Receipt[] = []
  let clock = 0
  const streamKeyOf = (s: StreamRef) =>
    [
      s.type,
      ...Object.entries(s)
        .filter(([k]) => k !== 'type')
        .map(([, v]) => v),
    ].join('/')

  async function make(
    by: Author,
    key: PrivateJwk,
    stream: StreamRef,
    type: string,
    payload: Record<string, unknown>,
    opts: { prev?: ChainHead | null; idempotencyKey?: string; eventId?: string; record?: boolean } = {},
  ): Promise<Receipt> {
    clock++
    const sk = streamKeyOf(stream)
    const prev = opts.prev !== undefined ? opts.prev : (heads.get(sk) ?? null)
    const time = T0 + clock * 1000
    const receipt = await buildReceipt({
      stream,
      type,
      payload,
      identityId: by.identityId,
      signer: nobleSigner(key),
      prev,
      idempotencyKey: opts.idempotencyKey ?? `golden-${clock}`,
      createdAt: new Date(time).toISOString(),
      eventId: opts.eventId ?? ulid(time, fixedRandom(`event ${clock}`)),
    })
    if (opts.record !== false) {
      heads.set(sk, { eventId: receipt.eventId, hash: receipt.hash })
      receipts.push(receipt)
      lines.push(JSON.stringify(receipt))
    }
    return receipt
  }

  const aliceStream = { type: 'identity', identityId: 'alice' }
  const book = { type: 'pixbook', accountId: 'acc-alice', bookId: 'book-1' }
  const art = (n: number) => 'sha256:' + bytesToHex(sha256(utf8Encode(`pixel art ${n}`)))

  await make(alice, keys.alice1, aliceStream, 'IDENTITY_CREATED', {
    publicKey: publicJwk(keys.alice1),
    accountId: 'acc-alice',
    kind: 'person',
    displayName: 'Alice',
  })
  await make(alice, keys.alice1, { type: 'account', accountId: 'acc-alice' }, 'ACCOUNT_CREATED', { displayName: "Alice's studio" })
  await make(bob, keys.bob, { type: 'identity', identityId: 'bob' }, 'IDENTITY_CREATED', {
    publicKey: publicJwk(keys.bob),
    accountId: 'acc-bob',
    kind: 'person',
  })
  await make(issuer, keys.issuer, { type: 'identity', identityId: 'pixpax-issuer' }, 'IDENTITY_CREATED', {
    publicKey: publicJwk(keys.issuer),
    accountId: 'pixpax-platform',
    kind: 'issuer',
    displayName: 'PixPax packs',
  })
  const created = await make(alice, keys.alice1, book, 'PIXBOOK_CREATED', {
    title: 'Pixel café ✨',
    description: 'Cards from the first series',
  })
  await make(issuer, keys.issuer, book, 'PACK_ISSUED', {
    packId: 'pack-1',
    seriesId: 'series-1',
    cards: [
      { cardId: 'card-1', artHash: art(1) },
      { cardId: 'card-2', artHash: art(2) },
    ],
  })
  await make(alice, keys.alice1, book, 'PACK_OPENED', { packId: 'pack-1' })
  await make(alice, keys.alice1, book, 'CARD_ADDED', { cardId: 'card-1', artHash: art(1), packId: 'pack-1' })
  await make(alice, keys.alice1, aliceStream, 'KEY_ADDED', { publicKey: publicJwk(keys.alice2) })
  await make({ ...alice, key: keys.alice2 }, keys.alice2, aliceStream, 'KEY_REVOKED', {
    publicKeyId: jwkThumbprint(publicJwk(keys.alice1)),
  })
  const save = await make({ ...alice, key: keys.alice2 }, keys.alice2, book, 'PIXBOOK_SAVE', {
    snapshotHash: art(99),
    note: 'Ünïcödé, emoji 🎨, and "quotes" survive canonicalization',
  })
  const validCount = lines.length

  // Tampered variants. Each is fed after `after` valid lines.
  const cases: GoldenCase[] = []
  const add = (name: string, description: string, after: number, line: string, expected: string) =>
    cases.push({ name, description, after, line, expected })
  const text = (r: unknown) => JSON.stringify(r)
  const last = receipts[validCount - 1]!
  const bookHead = heads.get('pixbook/acc-alice/book-1')!

  add(
    'valid-next',
    'a correct next receipt of the pixbook, signed with the current key',
    validCount,
    text(await make(alice, keys.alice2, book, 'CARD_ADDED', { cardId: 'card-2', artHash: art(2), packId: 'pack-1' }, { record: false })),
    'ok',
  )
  add(
    'payload-altered',
    'payload changed after signing; hash left as it was',
    validCount,
    text({ ...last, payload: { ...last.payload, note: 'altered' } }),
    'HASH_MISMATCH',
  )
  {
    const altered = { ...last, payload: { ...last.payload, note: 'altered' } }
    const rehashed = { ...altered, hash: sha256Ref(receiptCanonicalBytes(altered)) }
    add(
      'payload-altered-rehashed',
      'payload changed and hash recomputed; signature is the original one',
      validCount - 1,
      text(rehashed),
      'SIGNATURE_INVALID',
    )
  }
  {
    const sig = base64Decode(last.signature.slice(SIGNATURE_PREFIX.length))!
    const s = bytesToBigInt(sig.subarray(32))
    const high = new Uint8Array(64)
    high.set(sig.subarray(0, 32))
    high.set(bigIntTo32Bytes(P256_N - s), 32)
    add(
      'high-s',
      'the same signature with s replaced by n − s: valid ECDSA, but not the canonical low-S form',
      validCount - 1,
      text({ ...last, signature: SIGNATURE_PREFIX + base64Encode(high) }),
      'SIGNATURE_NOT_CANONICAL',
    )
    const der = p256.Signature.fromBytes(sig, 'compact').toBytes('der')
    add(
      'der-signature',
      'the same signature DER-encoded instead of 64-byte r‖s',
      validCount - 1,
      text({ ...last, signature: SIGNATURE_PREFIX + base64Encode(der) }),
      'SIGNATURE_NOT_CANONICAL',
    )
    add(
      'signature-prefix',
      'signature without the ecdsa-p256: prefix',
      validCount - 1,
      text({ ...last, signature: base64Encode(sig) }),
      'SIGNATURE_NOT_CANONICAL',
    )
  }
  add(
    'duplicate-key',
    'the JSON text names "type" twice (JSON.parse would keep the last)',
    validCount - 1,
    text(last).replace('"type":"PIXBOOK_SAVE"', '"type":"PIXBOOK_SAVE","type":"CARD_REMOVED"'),
    'DUPLICATE_KEY',
  )
  add('not-json', 'a truncated line', validCount - 1, text(last).slice(0, 80), 'JSON_INVALID')
  add(
    'float-in-payload',
    'a number with a fraction in the payload',
    validCount - 1,
    text(last).replace('"payload":{', '"payload":{"weight":1.5,'),
    'SCHEMA_INVALID',
  )
  add('unknown-field', 'an extra top-level field', validCount - 1, text({ ...last, extra: true }), 'SCHEMA_INVALID')
  add('schema-version-2', 'schemaVersion 2', validCount - 1, text({ ...last, schemaVersion: 2 }), 'SCHEMA_VERSION_UNSUPPORTED')
  add(
    'wrong-type-for-stream',
    'KEY_ADDED is not a pixbook receipt type',
    validCount - 1,
    text({ ...last, type: 'KEY_ADDED' }),
    'SCHEMA_INVALID',
  )
  add(
    'too-large',
    'canonical bytes over 64 KiB',
    validCount,
    text(
      await make(alice, keys.alice2, book, 'PIXBOOK_SAVE', { snapshotHash: art(5), note: 'x'.repeat(70_000) }, { record: false }).catch(
        () => ({ ...last, payload: { snapshotHash: art(5), note: 'x'.repeat(70_000) } }),
      ),
    ),
    'RECEIPT_TOO_LARGE',
  )
  add(
    'revoked-key',
    'a correctly chained and signed receipt from alice-1 after KEY_REVOKED (createdAt backdated does not help)',
    validCount,
    text(await make(alice, keys.alice1, book, 'CARD_ADDED', { cardId: 'card-2', artHash: art(2) }, { record: false })),
    'KEY_REVOKED',
  )
  add(
    'unknown-key',
    'signed by a key alice never added',
    validCount,
    text(await make(alice, keys.stranger, book, 'CARD_ADDED', { cardId: 'card-2', artHash: art(2) }, { record: false })),
    'KEY_UNKNOWN',
  )
  add(
    'not-owner',
    "bob writes into alice's pixbook",
    validCount,
    text(await make(bob, keys.bob, book, 'CARD_ADDED', { cardId: 'card-2', artHash: art(2) }, { record: false })),
    'NOT_AUTHORIZED',
  )
  add(
    'pack-not-from-issuer',
    'a person issues a pack into their own book',
    validCount,
    text(
      await make(
        alice,
        keys.alice2,
        book,
        'PACK_ISSUED',
        { packId: 'pack-2', cards: [{ cardId: 'card-9', artHash: art(9) }] },
        { record: false },
      ),
    ),
    'NOT_AUTHORIZED',
  )
  add(
    'fork',
    'a second receipt naming PIXBOOK_CREATED as its predecessor',
    validCount,
    text(
      await make(
        alice,
        keys.alice2,
        book,
        'CARD_ADDED',
        { cardId: 'card-2', artHash: art(2) },
        { record: false, prev: { eventId: created.eventId, hash: created.hash } },
      ),
    ),
    'CHAIN_CONFLICT',
  )
  add(
    'wrong-prev-hash',
    'prevEventId is the head, prevHash is not its hash',
    validCount,
    text(
      await make(
        alice,
        keys.alice2,
        book,
        'CARD_ADDED',
        { cardId: 'card-2', artHash: art(2) },
        { record: false, prev: { eventId: bookHead.eventId, hash: art(0) } },
      ),
    ),
    'CHAIN_BROKEN',
  )
  add(
    'event-id-order',
    'eventId lower than the predecessor',
    validCount,
    text(
      await make(
        alice,
        keys.alice2,
        book,
        'CARD_ADDED',
        { cardId: 'card-2', artHash: art(2) },
        { record: false, eventId: ulid(T0, fixedRandom('early')) },
      ),
    ),
    'EVENT_ID_ORDER',
  )
  add(
    'idempotency-reuse',
    "reuses the idempotency key of alice's PIXBOOK_SAVE for a different receipt",
    validCount,
    text(
      await make(
        alice,
        keys.alice2,
        book,
        'CARD_ADDED',
        { cardId: 'card-2', artHash: art(2) },
        { record: false, idempotencyKey: save.idempotencyKey },
      ),
    ),
    'IDEMPOTENCY_CONFLICT',
  )
  add('replay', 'the last receipt again', validCount, text(last), 'CHAIN_CONFLICT')

  const keyList = Object.entries(keys).map(([name, jwk]) => ({
    name,
    privateJwk: jwk,
    publicJwk: publicJwk(jwk),
    publicKeyId: jwkThumbprint(publicJwk(jwk)),
  }))
  const expected = receipts.map((r) => {
    const canonical = receiptCanonicalBytes(r)
    return {
      eventId: r.eventId,
      type: r.type,
      canonical: new TextDecoder().decode(canonical),
      canonicalSha256: bytesToHex(sha256(canonical)),
      hash: r.hash,
    }
  })
  const canonicalExamples = [
    { input: '{"b":2,"a":1,"c":{"z":[3,{"y":null,"x":true}],"é":"\\u00e9"}}' },
    { input: '{"emoji":"🎨","escape":"\\u0001\\n\\"\\\\/","big":9007199254740991,"neg":-42}' },
    { input: '{"\\u20ac":"euro","\\r":"cr","1":"one","A":"upper","a":"lower"}' },
  ].map(({ input }) => {
    const canonical = canonicalJson(JSON.parse(input))
    return { input, canonical, sha256: 'sha256:' + bytesToHex(sha256(utf8Encode(canonical))) }
  })
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n'
  return {
    files: {
      'keys.json': json(keyList),
      'chain-valid.ndjson': lines.join('\n') + '\n',
      'chain-valid.expected.json': json({
        summary: {
          ok: true,
          receipts: validCount,
          streams: Object.fromEntries(
            [...heads].map(([k, h]) => [
              k,
              { count: receipts.filter((r) => streamKeyOf(r.stream) === k).length, head: h.hash, headEventId: h.eventId },
            ]),
          ),
        },
        receipts: expected,
      }),
      'tampered.json': json(cases),
      'canonical.json': json(canonicalExamples),
    },
  }
}
