/**
 * The identity projector: identities and their keys (with the log positions that added and revoked
 * each, ARCHITECTURE §3), accounts and their members. Inline: key authority and membership rules read it.
 */
import { jwkThumbprint, type PublicJwk } from '@pixpax/shared'
import type { Queryable } from '../../db/projection-db.js'
import { lastByKey, unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'

interface MemberChange {
  accountId: string
  identityId: string
  /** undefined: removed. */
  role: string | undefined
}

export const identityProjector: Projector = {
  name: 'identity',
  mode: 'inline',
  tables: [
    { name: 'identities', orderBy: 'identity_id' },
    { name: 'identity_keys', orderBy: 'identity_id, public_key_id' },
    { name: 'accounts', orderBy: 'account_id' },
    { name: 'account_members', orderBy: 'account_id, identity_id' },
  ],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    const identities: unknown[][] = []
    const keys: unknown[][] = []
    const revoked: unknown[][] = []
    const accounts: unknown[][] = []
    const members: MemberChange[] = []
    for (const { receipt: r, position } of batch) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated by the payload schema
      const p = r.payload as Record<string, any>
      const s = r.stream
      switch (r.type) {
        case 'IDENTITY_CREATED':
          identities.push([s.identityId, p.accountId, p.kind, p.displayName ?? null, r.eventId, r.createdAt])
          keys.push([s.identityId, jwkThumbprint(p.publicKey as PublicJwk), JSON.stringify(p.publicKey), position])
          break
        case 'KEY_ADDED':
          keys.push([s.identityId, jwkThumbprint(p.publicKey as PublicJwk), JSON.stringify(p.publicKey), position])
          break
        case 'KEY_REVOKED':
          revoked.push([s.identityId, p.publicKeyId, position])
          break
        case 'ACCOUNT_CREATED':
          accounts.push([s.accountId, p.displayName ?? null, r.issuer.identityId, r.eventId])
          members.push({ accountId: s.accountId!, identityId: r.issuer.identityId, role: 'owner' })
          break
        case 'MEMBER_ADDED':
          members.push({ accountId: s.accountId!, identityId: p.identityId as string, role: p.role as string })
          break
        case 'MEMBER_REMOVED':
          members.push({ accountId: s.accountId!, identityId: p.identityId as string, role: undefined })
          break
      }
    }
    if (identities.length) {
      const v = unnestRows(
        [
          ['identity_id', 'text'],
          ['account_id', 'text'],
          ['kind', 'text'],
          ['display_name', 'text'],
          ['created_event_id', 'text'],
          ['created_at', 'text'],
        ],
        identities,
      )
      await tx.query(`INSERT INTO identities (${v.names}) SELECT * FROM ${v.from}`, v.params)
    }
    if (keys.length) {
      // A key is added once per identity (a stream rule), so the rows are distinct.
      const v = unnestRows(
        [
          ['identity_id', 'text'],
          ['public_key_id', 'text'],
          ['public_key', 'jsonb'],
          ['added_position', 'int8'],
        ],
        keys,
      )
      await tx.query(`INSERT INTO identity_keys (${v.names}) SELECT * FROM ${v.from}`, v.params)
    }
    if (revoked.length) {
      // After the inserts: a key added and revoked in the same batch is revoked.
      const v = unnestRows(
        [
          ['identity_id', 'text'],
          ['public_key_id', 'text'],
          ['revoked_position', 'int8'],
        ],
        revoked,
      )
      await tx.query(
        `UPDATE identity_keys k SET revoked_position = v.revoked_position FROM ${v.from}
         WHERE k.identity_id = v.identity_id AND k.public_key_id = v.public_key_id`,
        v.params,
      )
    }
    if (accounts.length) {
      const v = unnestRows(
        [
          ['account_id', 'text'],
          ['display_name', 'text'],
          ['created_by', 'text'],
          ['created_event_id', 'text'],
        ],
        accounts,
      )
      await tx.query(`INSERT INTO accounts (${v.names}) SELECT * FROM ${v.from}`, v.params)
    }
    if (members.length) {
      // Only each membership's final state matters: upsert the present ones, delete the removed ones.
      const final = [...lastByKey(members, (m) => `${m.accountId} ${m.identityId}`).values()]
      const v = unnestRows(
        [
          ['account_id', 'text'],
          ['identity_id', 'text'],
          ['role', 'text'],
        ],
        final.map((m) => [m.accountId, m.identityId, m.role ?? null]),
      )
      await tx.query(
        `WITH v AS (SELECT * FROM ${v.from}),
         removed AS (DELETE FROM account_members m USING v WHERE v.role IS NULL AND m.account_id = v.account_id AND m.identity_id = v.identity_id)
         INSERT INTO account_members (account_id, identity_id, role) SELECT account_id, identity_id, role FROM v WHERE role IS NOT NULL
         ON CONFLICT (account_id, identity_id) DO UPDATE SET role = EXCLUDED.role`,
        v.params,
      )
    }
  },
}
