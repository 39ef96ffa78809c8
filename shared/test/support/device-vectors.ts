/**
 * The device views golden vectors in docs/vectors/devices/ (docs/receipts.md §4 "device", DEVICE_VIEWS):
 * a valid whole log — a device and its owner, the device's stream with two view batches, the second
 * starting exactly 5 s after the first ends — and refused cases, each a receipt fed after the whole log
 * with the rule it breaks. Deterministic like social-vectors.ts (fixed keys, times, ids; RFC 6979
 * signatures), so the test regenerates them and compares byte for byte.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import {
  buildReceipt,
  bytesToHex,
  nobleSigner,
  privateJwkFromSecret,
  publicJwk,
  ulid,
  utf8Encode,
  type ChainHead,
  type PrivateJwk,
  type Receipt,
  type StreamRef,
} from '../../src/index.js'

const T0 = Date.parse('2026-03-02T10:00:00.000Z')
/** Receipts are a minute apart, so every view fits before its receipt's createdAt. */
const STEP_MS = 60_000
const keyFor = (name: string): PrivateJwk => privateJwkFromSecret(sha256(utf8Encode(`pixpax device golden key ${name}`)))
const fixedRandom = (seed: string) => (length: number) => sha256(utf8Encode(seed)).subarray(0, length)
const art = (name: string) => 'sha256:' + bytesToHex(sha256(utf8Encode(name)))

export interface DeviceRefusedCase {
  name: string
  /** Fed after every line of views-valid.ndjson. */
  line: string
  /** `<code>:<rule>` or a bare code. */
  expected: string
}

export async function buildDeviceVectors(): Promise<{ files: Record<string, string> }> {
  const who = ['player', 'owner', 'other'] as const
  const keys = Object.fromEntries(who.map((p) => [p, keyFor(p)])) as Record<(typeof who)[number], PrivateJwk>
  const heads = new Map<string, ChainHead>()
  const lines: string[] = []
  let clock = 0
  const timeOf = (n: number) => T0 + n * STEP_MS

  async function make(
    by: (typeof who)[number],
    stream: StreamRef,
    type: string,
    payload: Record<string, unknown>,
    record = true,
  ): Promise<Receipt> {
    clock++
    const key = Object.values(stream).join('/')
    const receipt = await buildReceipt({
      stream,
      type,
      payload,
      identityId: by,
      signer: nobleSigner(keys[by]),
      prev: heads.get(key) ?? null,
      idempotencyKey: `device-golden-${clock}`,
      createdAt: new Date(timeOf(clock)).toISOString(),
      eventId: ulid(timeOf(clock), fixedRandom(`device event ${clock}`)),
    })
    if (record) {
      heads.set(key, { eventId: receipt.eventId, hash: receipt.hash })
      lines.push(JSON.stringify(receipt))
    }
    return receipt
  }
  const device: StreamRef = { type: 'device', identityId: 'player' }
  const capabilities = { display: 'png', maxWidth: 64, maxHeight: 64, animation: true, brightness: false, rotation: false, mirror: false }
  /** A view `secondsBefore` the next receipt's createdAt. */
  const at = (secondsBefore: number) => new Date(timeOf(clock + 1) - secondsBefore * 1000).toISOString()
  const post = ulid(T0 - 86_400_000, fixedRandom('device golden post'))

  await make('player', { type: 'identity', identityId: 'player' }, 'IDENTITY_CREATED', {
    publicKey: publicJwk(keys.player),
    accountId: 'devacct-player',
    kind: 'device',
  })
  for (const p of ['owner', 'other'] as const) {
    await make(p, { type: 'identity', identityId: p }, 'IDENTITY_CREATED', {
      publicKey: publicJwk(keys[p]),
      accountId: `acc-${p}`,
      kind: 'person',
    })
  }
  await make('player', device, 'DEVICE_REGISTERED', { capabilities })
  await make('owner', { type: 'pairing', accountId: 'acc-owner', deviceIdentityId: 'player' }, 'DEVICE_PAIRED', { name: 'Hall' })
  await make('player', device, 'DEVICE_STATUS', {
    state: 'playing',
    capabilities,
    artwork: art('red'),
    playlistSize: 2,
    cacheBytes: 2048,
    cachedItems: 2,
    online: true,
    uptimeSeconds: 60,
  })
  // The first batch: a post's artwork, a static list's, and one timed by an unsynced clock.
  await make('player', device, 'DEVICE_VIEWS', {
    views: [
      { artwork: art('red'), postId: post, viewedAt: at(30), channel: 'relay:user:owner' },
      { artwork: art('green'), viewedAt: at(20), channel: 'static:/etc/list.json' },
      { artwork: art('red'), postId: post, viewedAt: at(10), channel: 'relay:user:owner', clockUnsynced: true },
    ],
  })
  const lastOfFirst = timeOf(clock) - 10_000
  // The second batch: its first view exactly 5 s after the first batch's last (the gap is inclusive).
  const second = new Date(lastOfFirst + 5_000).toISOString()
  await make('player', device, 'DEVICE_VIEWS', {
    views: [
      { artwork: art('green'), viewedAt: second },
      { artwork: art('red'), postId: post, viewedAt: new Date(lastOfFirst + 10_000).toISOString() },
    ],
  })
  const lastAt = lastOfFirst + 10_000

  const refused = async (name: string, expected: string, by: (typeof who)[number], stream: StreamRef, payload: Record<string, unknown>) => {
    const receipt = await make(by, stream, 'DEVICE_VIEWS', payload, false)
    return { name, line: JSON.stringify(receipt), expected }
  }
  const iso = (ms: number) => new Date(ms).toISOString()
  const cases: DeviceRefusedCase[] = [
    await refused('the last view reported again', 'DOMAIN_RULE_VIOLATION:view_duplicate', 'player', device, {
      views: [{ artwork: art('red'), postId: post, viewedAt: iso(lastAt) }],
    }),
    await refused('a view 4.999 s after the last batch', 'DOMAIN_RULE_VIOLATION:view_too_soon', 'player', device, {
      views: [{ artwork: art('green'), viewedAt: iso(lastAt + 4_999) }],
    }),
    await refused('an old view resent', 'DOMAIN_RULE_VIOLATION:view_too_soon', 'player', device, {
      views: [{ artwork: art('green'), viewedAt: second }],
    }),
    await refused('two views 4 s apart in one batch', 'STREAM_RULE_VIOLATION:view_too_soon', 'player', device, {
      views: [
        { artwork: art('green'), viewedAt: at(20) },
        { artwork: art('red'), viewedAt: at(16) },
      ],
    }),
    await refused('the same view twice in one batch', 'STREAM_RULE_VIOLATION:view_duplicate', 'player', device, {
      views: [
        { artwork: art('green'), viewedAt: at(20) },
        { artwork: art('green'), viewedAt: at(20) },
      ],
    }),
    await refused('views out of order', 'STREAM_RULE_VIOLATION:view_too_soon', 'player', device, {
      views: [
        { artwork: art('green'), viewedAt: at(10) },
        { artwork: art('red'), viewedAt: at(20) },
      ],
    }),
    await refused('a view after the receipt was made', 'STREAM_RULE_VIOLATION:view_after_receipt', 'player', device, {
      views: [{ artwork: art('green'), viewedAt: at(-1) }],
    }),
    await refused('views in another device’s stream', 'NOT_AUTHORIZED', 'other', device, {
      views: [{ artwork: art('green'), viewedAt: at(10) }],
    }),
  ]
  return {
    files: {
      'devices/views-valid.ndjson': lines.join('\n') + '\n',
      'devices/views-refused.json': JSON.stringify(cases, null, 2) + '\n',
    },
  }
}
