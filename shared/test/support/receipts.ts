/**
 * Deterministic receipt fixtures: fixed keys (derived from a label), a fake clock and explicit eventIds,
 * so every chain built here is byte-for-byte reproducible. `seal` hashes and signs an arbitrary body
 * without any checks, to forge receipts that are broken in exactly one way.
 */
import {
  ChainVerifier,
  buildReceipt,
  canonicalBytes,
  formatSignature,
  nobleSha256,
  nobleSigner,
  privateJwkFromSecret,
  publicJwk,
  sha256Ref,
  ulid,
  utf8Encode,
  type ChainHead,
  type IdentityKind,
  type PrivateJwk,
  type Receipt,
  type Signer,
  type StreamRef,
  type TrustPolicy,
} from '../../src/index.js'
import { nodeSha256, nodeVerifier } from '../../src/node/index.js'

/** A private key derived from a label (SHA-256 of it is a valid P-256 scalar with overwhelming odds). */
export function testKey(label: string): PrivateJwk {
  return privateJwkFromSecret(nobleSha256(utf8Encode(`pixpax test key: ${label}`)))
}

export interface Actor {
  readonly identityId: string
  readonly accountId: string
  readonly kind: IdentityKind
  readonly jwk: PrivateJwk
  readonly signer: Signer
}

export function actor(identityId: string, accountId: string, kind: IdentityKind = 'person', keyLabel = identityId): Actor {
  const jwk = testKey(keyLabel)
  return { identityId, accountId, kind, jwk, signer: nobleSigner(jwk) }
}

/** The same identity signing with another of its keys. */
export function withKey(who: Actor, keyLabel: string): Actor {
  const jwk = testKey(keyLabel)
  return { ...who, jwk, signer: nobleSigner(jwk) }
}

export const identityStream = (who: Actor): StreamRef => ({ type: 'identity', identityId: who.identityId })
export const pixbookStream = (accountId: string, bookId: string): StreamRef => ({ type: 'pixbook', accountId, bookId })

export const headOf = (receipt: { eventId: string; hash: string }): ChainHead => ({ eventId: receipt.eventId, hash: receipt.hash })

/** A fake clock: each call is one second later. eventIds made from it have zero randomness. */
export class Clock {
  constructor(private t = Date.UTC(2026, 1, 24, 12, 0, 0)) {}
  tick(): number {
    this.t += 1000
    return this.t
  }
}

export interface Author {
  readonly clock: Clock
  /** Sequence for default idempotency keys. */
  n: number
}

export function author(): Author {
  return { clock: new Clock(), n: 0 }
}

export interface Draft {
  stream: StreamRef
  type: string
  payload: Record<string, unknown>
  by: Actor
  prev: ChainHead | null
  idempotencyKey?: string
  createdAt?: string
  eventId?: string
}

/** buildReceipt with deterministic eventId, createdAt and idempotency key. */
export async function make(a: Author, d: Draft): Promise<Receipt> {
  const t = a.clock.tick()
  return buildReceipt({
    stream: d.stream,
    type: d.type,
    payload: d.payload,
    identityId: d.by.identityId,
    signer: d.by.signer,
    prev: d.prev,
    idempotencyKey: d.idempotencyKey ?? `idem-${++a.n}`,
    createdAt: d.createdAt ?? new Date(t).toISOString(),
    eventId: d.eventId ?? ulid(t, (len) => new Uint8Array(len)),
    now: () => t,
  })
}

export function identityCreated(a: Author, who: Actor): Promise<Receipt> {
  return make(a, {
    stream: identityStream(who),
    type: 'IDENTITY_CREATED',
    payload: { publicKey: publicJwk(who.jwk), accountId: who.accountId, kind: who.kind, displayName: `The ${who.identityId}` },
    by: who,
    prev: null,
  })
}

export const SNAPSHOT = 'sha256:' + 'ab'.repeat(32)
export const ART = 'sha256:' + 'cd'.repeat(32)

/**
 * Hashes and signs `body` as is (its `hash` and `signature`, if any, are replaced), with no validation,
 * so a test can produce a receipt that is wrong in exactly one place and correctly hashed and signed.
 */
export async function seal(body: Record<string, unknown>, signer: Signer): Promise<Record<string, unknown>> {
  const { hash: _hash, signature: _signature, ...rest } = body
  const canonical = canonicalBytes(rest)
  return { ...rest, hash: sha256Ref(canonical), signature: formatSignature(await signer.sign(canonical)) }
}

/** A copy of a receipt with some fields changed, re-hashed and re-signed by `signer`. */
export function reseal(
  receipt: Receipt | Record<string, unknown>,
  changes: Record<string, unknown>,
  signer: Signer,
): Promise<Record<string, unknown>> {
  return seal({ ...structuredClone(receipt as Record<string, unknown>), ...changes }, signer)
}

export function newVerifier(policy: TrustPolicy = {}): ChainVerifier {
  return new ChainVerifier({ ...policy, verifier: nodeVerifier(), sha256: nodeSha256 })
}
