/**
 * A LedgerView over the projection database: loads, inside the stream's lock, exactly the state the
 * shared rules need for a group of receipts of one stream, then tracks the group's own acceptances in
 * memory (with the same nextStreamState/nextIdentityState the offline verifier uses).
 */
import {
  nextIdentityState,
  nextStreamState,
  type Acceptance,
  type CheckedReceipt,
  type IdentityKind,
  type IdentityState,
  type LedgerView,
  type PublicJwk,
  type StreamState,
} from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'

interface LoadedState {
  identities: Array<{ id: string; account: string; kind: IdentityKind }>
  keys: Array<{ id: string; kid: string; key: PublicJwk | string; revoked: boolean }>
  streams: Array<{ key: string; type: string; owner: string; seq: number; eventId: string; hash: string }>
  members: Array<{ account: string; id: string; role: 'owner' | 'member' }>
  known: Array<{ eventId: string; hash: string }>
  idem: Array<{ id: string; key: string; hash: string }>
}

export class DbLedgerView implements LedgerView {
  private constructor(
    private readonly identities: Map<string, IdentityState>,
    private readonly streamKey: string,
    private readonly streams: Map<string, StreamState>,
    private readonly knownReceipts: Set<string>,
    private readonly idempotencyKeys: Map<string, string>,
  ) {}

  /**
   * Everything the rules need, in ONE round trip (this runs under the stream's lock, so every round
   * trip here is time the stream is held): issuer identities and keys, the stream's head and owners,
   * its account (when opening a stream inside one), which named receipts exist, and used idempotency keys.
   */
  static async load(tx: Queryable, streamKey: string, group: readonly CheckedReceipt[]): Promise<DbLedgerView> {
    const identityIds = new Set<string>()
    const eventIds = new Set<string>()
    for (const { receipt } of group) {
      identityIds.add(receipt.issuer.identityId)
      if (receipt.type === 'MEMBER_ADDED') identityIds.add(receipt.payload.identityId as string)
      eventIds.add(receipt.eventId)
      if (receipt.prevEventId) eventIds.add(receipt.prevEventId)
    }
    const accountId = group[0]?.receipt.stream.accountId
    const accountKey = accountId && !streamKey.startsWith('account/') ? `account/${accountId}` : null
    const { rows } = await tx.query<{ state: LoadedState }>(
      `SELECT json_build_object(
         'identities', (SELECT coalesce(json_agg(json_build_object('id', identity_id, 'account', account_id, 'kind', kind)), '[]') FROM identities WHERE identity_id = ANY($2::text[])),
         'keys', (SELECT coalesce(json_agg(json_build_object('id', identity_id, 'kid', public_key_id, 'key', public_key, 'revoked', revoked_seq IS NOT NULL)), '[]') FROM identity_keys WHERE identity_id = ANY($2::text[])),
         'streams', (SELECT coalesce(json_agg(json_build_object('key', stream_key, 'type', stream_type, 'owner', owner_identity_id, 'seq', seq, 'eventId', head_event_id, 'hash', head_hash)), '[]') FROM streams WHERE stream_key = $1 OR stream_key = $3),
         'members', (SELECT coalesce(json_agg(json_build_object('account', account_id, 'id', identity_id, 'role', role)), '[]') FROM account_members
                     WHERE account_id = ANY(ARRAY[CASE WHEN $1 LIKE 'account/%' THEN substr($1, 9) END, substr($3, 9)])),
         'known', (SELECT coalesce(json_agg(json_build_object('eventId', event_id, 'hash', hash)), '[]') FROM receipts WHERE stream_key = $1 AND event_id = ANY($4::text[])),
         'idem', (SELECT coalesce(json_agg(json_build_object('id', issuer_identity_id, 'key', idempotency_key, 'hash', hash)), '[]') FROM receipts
                  WHERE (issuer_identity_id, idempotency_key) IN (SELECT * FROM unnest($5::text[], $6::text[])))
       ) AS state`,
      [
        streamKey,
        [...identityIds],
        accountKey,
        [...eventIds],
        group.map((c) => c.receipt.issuer.identityId),
        group.map((c) => c.receipt.idempotencyKey),
      ],
    )
    const raw = rows[0]!.state
    const state: LoadedState = typeof raw === 'string' ? (JSON.parse(raw) as LoadedState) : raw
    const identities = new Map<string, IdentityState>()
    for (const i of state.identities) identities.set(i.id, { identityId: i.id, accountId: i.account, kind: i.kind, keys: new Map() })
    for (const k of state.keys) {
      const publicKey = typeof k.key === 'string' ? (JSON.parse(k.key) as PublicJwk) : k.key
      identities.get(k.id)?.keys.set(k.kid, { publicKey, revoked: k.revoked })
    }
    const streams = new Map<string, StreamState>()
    for (const st of state.streams) {
      const members = new Map<string, 'owner' | 'member'>()
      if (st.type === 'account') {
        for (const m of state.members) if (`account/${m.account}` === st.key) members.set(m.id, m.role)
      }
      const owners =
        st.type === 'account' ? new Set([...members].filter(([, role]) => role === 'owner').map(([id]) => id)) : new Set([st.owner])
      streams.set(st.key, { key: st.key, count: st.seq, head: { eventId: st.eventId, hash: st.hash }, owners, members })
    }
    // Opening a stream inside an account needs the account's members; once the stream exists, not.
    if (streams.has(streamKey) && accountKey) streams.delete(accountKey)
    const knownReceipts = new Set(state.known.map((r) => `${r.eventId} ${r.hash}`))
    const idempotencyKeys = new Map(state.idem.map((r) => [`${r.id} ${r.key}`, r.hash]))
    return new DbLedgerView(identities, streamKey, streams, knownReceipts, idempotencyKeys)
  }

  identity(identityId: string): IdentityState | undefined {
    return this.identities.get(identityId)
  }
  /** The group's stream (no argument), or another stream loaded for the rules (its account). */
  stream(key: string = this.streamKey): StreamState | undefined {
    return this.streams.get(key)
  }
  hasReceipt(_streamKey: string, eventId: string, hash: string): boolean {
    return this.knownReceipts.has(`${eventId} ${hash}`)
  }
  idempotency(identityId: string, idempotencyKey: string): string | undefined {
    return this.idempotencyKeys.get(`${identityId} ${idempotencyKey}`)
  }

  /** Records an acceptance of this group so the group's next receipt sees it. */
  apply({ checked }: Acceptance): void {
    const { receipt } = checked
    const identity = nextIdentityState(checked, this.identities.get(receipt.issuer.identityId))
    if (identity) this.identities.set(identity.identityId, identity)
    this.streams.set(this.streamKey, nextStreamState(checked, this.streams.get(this.streamKey)))
    this.knownReceipts.add(`${receipt.eventId} ${receipt.hash}`)
    this.idempotencyKeys.set(`${receipt.issuer.identityId} ${receipt.idempotencyKey}`, receipt.hash)
  }
}
