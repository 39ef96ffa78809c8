/**
 * The identity domain (ARCHITECTURE §3): identity streams, which hold an identity's keys, and account
 * streams, which hold who belongs to an account and who owns it. Their state is what the shared rules
 * read for every other stream: the keys (key lookup, revocation) and the members (authority).
 */
import { z } from 'zod'
import { jwkThumbprint, PublicJwkSchema, type PublicJwk } from '../crypto/jwk.js'
import { PixpaxError } from '../errors.js'
import { IdSchema, PublicKeyIdSchema } from '../schemas.js'
import type { IssuerRole } from '../streams.js'
import { text, type CrossStreamRule, type DomainModule, type DomainStreamType, type ReceiptRules } from './domain.js'

export const IdentityKindSchema = z.enum(['person', 'device', 'issuer', 'moderator'])
export type IdentityKind = z.infer<typeof IdentityKindSchema>

export const IdentityCreatedPayload = z.strictObject({
  publicKey: PublicJwkSchema,
  accountId: IdSchema,
  kind: IdentityKindSchema,
  displayName: text(100).optional(),
})
export const KeyAddedPayload = z.strictObject({ publicKey: PublicJwkSchema })
export const KeyRevokedPayload = z.strictObject({ publicKeyId: PublicKeyIdSchema })

export const AccountRoleSchema = z.enum(['owner', 'member'])
export const AccountCreatedPayload = z.strictObject({ displayName: text(100).optional() })
export const MemberAddedPayload = z.strictObject({ identityId: IdSchema, role: AccountRoleSchema })
export const MemberRemovedPayload = z.strictObject({ identityId: IdSchema })

/**
 * The key of an account's stream. A genesis-owned stream inside an account (a pixbook) may only be
 * opened by a member of that account once its account stream is known (chain.ts, role `owner`).
 */
export function accountStreamKey(accountId: string): string {
  return `account/${accountId}`
}

/**
 * The identity domain's facts, for rules of other domains that name an identity which is not the
 * receipt's issuer (a pairing names its device): `identity.kind` — identityId → its kind.
 */
export const IDENTITY_FACTS = { kind: 'identity.kind' } as const

/** Records each new identity's kind; it decides nothing itself (the shared rules already did). */
const identityKindFact: CrossStreamRule = {
  reads: (checked) => [{ kind: IDENTITY_FACTS.kind, key: checked.receipt.issuer.identityId }],
  record: (checked) => [{ kind: IDENTITY_FACTS.kind, key: checked.receipt.issuer.identityId, value: checked.receipt.payload.kind }],
}

const owner: readonly IssuerRole[] = ['owner']

const identity: DomainStreamType = {
  type: 'identity',
  plural: 'identities',
  idFields: ['identityId'],
  owner: { idField: 'identityId' },
  genesis: 'IDENTITY_CREATED',
  receipts: {
    IDENTITY_CREATED: {
      payload: IdentityCreatedPayload,
      issuers: owner,
      selfSignedKey: (checked, view) => {
        const { receipt } = checked
        if (view.identity(receipt.issuer.identityId)) return undefined
        // Self-signed: the key comes from the payload and must be the one the issuer names.
        const publicKey = receipt.payload.publicKey as PublicJwk
        if (jwkThumbprint(publicKey) !== receipt.issuer.publicKeyId) {
          throw new PixpaxError(
            'KEY_UNKNOWN',
            'IDENTITY_CREATED must be signed by the key it creates (issuer.publicKeyId ≠ thumbprint of payload.publicKey)',
          )
        }
        return publicKey
      },
      introducedKey: (checked) => checked.receipt.payload.publicKey as PublicJwk,
      // With a pinned set of platform issuers (or moderators), an identity may only be created with that
      // kind if it is in the set: a relay never registers a self-declared platform identity.
      authorize: (checked, policy) => {
        const { receipt } = checked
        const kind = receipt.payload.kind
        const id = receipt.issuer.identityId
        if (
          (kind === 'issuer' && policy.platformIssuers && !policy.platformIssuers.has(id)) ||
          (kind === 'moderator' && policy.moderators && !policy.moderators.has(id))
        ) {
          throw new PixpaxError(
            'NOT_AUTHORIZED',
            `${id} is not a configured ${kind === 'issuer' ? 'platform issuer' : 'moderator'}, so it cannot be created with kind ${String(kind)}`,
          )
        }
      },
      applyIdentity: (checked) => {
        const { receipt } = checked
        const p = receipt.payload as { publicKey: PublicJwk; accountId: string; kind: IdentityKind }
        return {
          identityId: receipt.issuer.identityId,
          accountId: p.accountId,
          kind: p.kind,
          keys: new Map([[jwkThumbprint(p.publicKey), { publicKey: p.publicKey, revoked: false }]]),
        }
      },
      crossStream: identityKindFact,
    },
    KEY_ADDED: {
      payload: KeyAddedPayload,
      issuers: owner,
      introducedKey: (checked) => checked.receipt.payload.publicKey as PublicJwk,
      check: (checked, _stream, view) => {
        const { receipt } = checked
        const id = jwkThumbprint(receipt.payload.publicKey as PublicJwk)
        if (view.identity(receipt.issuer.identityId)?.keys.has(id)) {
          throw new PixpaxError('STREAM_RULE_VIOLATION', `key ${id} is already (or was) a key of this identity`)
        }
      },
      applyIdentity: (checked, state) => {
        const publicKey = checked.receipt.payload.publicKey as PublicJwk
        state!.keys.set(jwkThumbprint(publicKey), { publicKey, revoked: false })
        return state!
      },
    },
    KEY_REVOKED: {
      payload: KeyRevokedPayload,
      issuers: owner,
      check: (checked, _stream, view) => {
        const { receipt } = checked
        const publicKeyId = receipt.payload.publicKeyId
        const key = view.identity(receipt.issuer.identityId)?.keys.get(publicKeyId as string)
        if (!key || key.revoked)
          throw new PixpaxError('STREAM_RULE_VIOLATION', `key ${String(publicKeyId)} is not an active key of this identity`)
      },
      applyIdentity: (checked, state) => {
        state!.keys.get(checked.receipt.payload.publicKeyId as string)!.revoked = true
        return state!
      },
    },
  },
}

/**
 * Every account receipt keeps the same state: its members (the genesis issuer is the first owner) and
 * the stream's owners, which are exactly the members with role `owner`.
 */
function membership(
  change?: (payload: Record<string, unknown>, members: Map<string, 'owner' | 'member'>) => void,
): ReceiptRules['applyStream'] {
  return (checked, stream, opened) => {
    if (opened) stream.members.set(checked.receipt.issuer.identityId, 'owner')
    change?.(checked.receipt.payload, stream.members)
    stream.owners.clear()
    for (const [id, role] of stream.members) if (role === 'owner') stream.owners.add(id)
  }
}

const account: DomainStreamType = {
  type: 'account',
  plural: 'accounts',
  idFields: ['accountId'],
  owner: 'genesis',
  genesis: 'ACCOUNT_CREATED',
  receipts: {
    ACCOUNT_CREATED: { payload: AccountCreatedPayload, issuers: owner, applyStream: membership() },
    MEMBER_ADDED: {
      payload: MemberAddedPayload,
      issuers: ['accountOwner'],
      check: (checked, _stream, view) => {
        const { receipt } = checked
        const payload = receipt.payload
        const member = view.identity(payload.identityId as string)
        if (!member || member.accountId !== receipt.stream.accountId) {
          throw new PixpaxError(
            'STREAM_RULE_VIOLATION',
            `identity ${String(payload.identityId)} is not a known identity of account ${receipt.stream.accountId}`,
          )
        }
      },
      applyStream: membership((payload, members) => {
        const { identityId, role } = payload as { identityId: string; role: 'owner' | 'member' }
        members.set(identityId, role)
      }),
    },
    MEMBER_REMOVED: {
      payload: MemberRemovedPayload,
      issuers: ['accountOwner'],
      check: (checked, stream) => {
        const id = checked.receipt.payload.identityId as string
        const role = stream!.members.get(id)
        if (!role) throw new PixpaxError('STREAM_RULE_VIOLATION', `identity ${id} is not a member`)
        if (role === 'owner' && [...stream!.members.values()].filter((r) => r === 'owner').length === 1) {
          throw new PixpaxError('STREAM_RULE_VIOLATION', 'the last owner of an account cannot be removed')
        }
      },
      applyStream: membership((payload, members) => {
        members.delete(payload.identityId as string)
      }),
    },
  },
}

/** Identities and accounts: the keys and memberships every other domain's authority rests on. */
export const identityDomain: DomainModule = {
  name: 'identity',
  streamTypes: [identity, account],
  factKinds: [{ name: IDENTITY_FACTS.kind, source: 'log' }],
}
