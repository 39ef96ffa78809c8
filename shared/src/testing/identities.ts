/**
 * Identities and streams for tests: a key per identity, deterministic (derived from a label, for vectors
 * and reproducible chains) or fresh (for tests against a relay, where ids must not collide).
 */
import { randomBytes } from 'node:crypto'
import {
  generatePrivateJwk,
  nobleSha256,
  nobleSigner,
  privateJwkFromSecret,
  utf8Encode,
  type IdentityKind,
  type PrivateJwk,
  type Signer,
  type StreamRef,
} from '../index.js'
import { nodeSigner } from '../node/index.js'

export interface Identity {
  readonly identityId: string
  readonly accountId: string
  readonly kind: IdentityKind
  jwk: PrivateJwk
  signer: Signer
}

/** A private key derived from a label (SHA-256 of it is a valid P-256 scalar with overwhelming odds). */
export function testKey(label: string): PrivateJwk {
  return privateJwkFromSecret(nobleSha256(utf8Encode(`pixpax test key: ${label}`)))
}

/** An identity whose key is derived from `keyLabel`: the same bytes on every run. */
export function actor(identityId: string, accountId: string, kind: IdentityKind = 'person', keyLabel = identityId): Identity {
  const jwk = testKey(keyLabel)
  return { identityId, accountId, kind, jwk, signer: nobleSigner(jwk) }
}

/** The same identity signing with another of its (derived) keys. */
export function withKey(who: Identity, keyLabel: string): Identity {
  const jwk = testKey(keyLabel)
  return { ...who, jwk, signer: nobleSigner(jwk) }
}

/** An identity with a fresh random key and id, signing with node:crypto (fast enough for load). */
export function newIdentity(
  accountId: string,
  kind: IdentityKind = 'person',
  identityId = `id-${randomBytes(6).toString('hex')}`,
): Identity {
  const jwk = generatePrivateJwk()
  return { identityId, accountId, kind, jwk, signer: nodeSigner(jwk) }
}

/** A fresh key pair, for rotation (KEY_ADDED) or for a forger. */
export function newKey(): { jwk: PrivateJwk; signer: Signer } {
  const jwk = generatePrivateJwk()
  return { jwk, signer: nodeSigner(jwk) }
}

export const identityStream = (who: { identityId: string }): StreamRef => ({ type: 'identity', identityId: who.identityId })
export const accountStream = (accountId: string): StreamRef => ({ type: 'account', accountId })
export const pixbookStream = (accountId: string, bookId: string): StreamRef => ({ type: 'pixbook', accountId, bookId })
