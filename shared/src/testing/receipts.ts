/**
 * Building receipts in tests: a `StreamWriter` that chains to the head it knows (for tests against a
 * relay), deterministic receipts from a fake clock (`make`, for vectors and byte-for-byte reproducible
 * chains), and `seal`/`reseal`, which hash and sign any body with no checks, to forge receipts broken
 * in exactly one place.
 */
import {
  buildReceipt,
  canonicalBytes,
  ChainVerifier,
  formatSignature,
  publicJwk,
  sha256Ref,
  streamKey,
  ulid,
  type ChainHead,
  type Receipt,
  type Signer,
  type StreamRef,
  type TrustPolicy,
} from '../index.js'
import { nodeSha256, nodeVerifier } from '../node/index.js'
import { identityStream, type Identity } from './identities.js'

export const headOf = (receipt: { eventId: string; hash: string }): ChainHead => ({ eventId: receipt.eventId, hash: receipt.hash })

export interface BuildOptions {
  idempotencyKey?: string
  eventId?: string
  createdAt?: string
  signer?: Signer
  prev?: ChainHead | null
}

/** A client's view of one stream: builds receipts chained to the head it knows; `advance` moves it. */
export class StreamWriter {
  head: ChainHead | null = null
  seq = 0
  readonly key: string
  constructor(readonly stream: StreamRef) {
    this.key = streamKey(stream)
  }

  build(type: string, payload: Record<string, unknown>, by: Identity, options: BuildOptions = {}): Promise<Receipt> {
    return buildReceipt({
      stream: this.stream,
      type,
      payload,
      identityId: by.identityId,
      signer: options.signer ?? by.signer,
      prev: options.prev !== undefined ? options.prev : this.head,
      sha256: nodeSha256,
      ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      ...(options.eventId ? { eventId: options.eventId } : {}),
      ...(options.createdAt ? { createdAt: options.createdAt } : {}),
    })
  }

  advance(receipt: { eventId: string; hash: string }, seq = this.seq + 1): void {
    this.head = headOf(receipt)
    this.seq = seq
  }
}

/** The self-signed genesis of `who`'s identity stream (fresh eventId and time). */
export const identityCreated = (who: Identity, displayName?: string): Promise<Receipt> =>
  new StreamWriter(identityStream(who)).build(
    'IDENTITY_CREATED',
    { publicKey: who.signer.publicKey, accountId: who.accountId, kind: who.kind, ...(displayName ? { displayName } : {}) },
    who,
  )

/** A fake clock: each call is one second later. eventIds made from it have zero randomness. */
export class Clock {
  constructor(private t = Date.UTC(2026, 1, 24, 12, 0, 0)) {}
  tick(): number {
    this.t += 1000
    return this.t
  }
}

/** Who builds deterministic receipts: a clock and a counter for default idempotency keys. */
export interface Author {
  readonly clock: Clock
  n: number
}

export function author(): Author {
  return { clock: new Clock(), n: 0 }
}

export interface Draft {
  stream: StreamRef
  type: string
  payload: Record<string, unknown>
  by: Identity
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

/** The deterministic genesis of `who`'s identity stream. */
export function makeIdentityCreated(a: Author, who: Identity): Promise<Receipt> {
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

/** A chain verifier with node:crypto, as the relay and the CLI use. */
export function newVerifier(policy: TrustPolicy = {}): ChainVerifier {
  return new ChainVerifier({ ...policy, verifier: nodeVerifier(), sha256: nodeSha256 })
}
