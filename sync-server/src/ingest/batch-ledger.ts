/**
 * The ledger state a batch needs, loaded in ONE query under the batch's locks, then kept in memory while
 * the batch's receipts are evaluated in order (with the same nextStreamState/nextIdentityState the
 * offline verifier uses). It loads only what the batch names — the issuers' named keys, the members the
 * receipts mention plus each account's owners, the heads of the batch's streams — so an append costs the
 * same on a stream's first day and on its millionth receipt.
 */
import {
  crossStreamRule,
  jwkThumbprint,
  nextIdentityState,
  nextStreamState,
  type Acceptance,
  type CheckedReceipt,
  type FactRef,
  type IdentityKind,
  type IdentityState,
  type LedgerView,
  type PublicJwk,
  type StreamState,
} from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import { BatchFacts, factsQuery } from './batch-facts.js'

interface LoadedState {
  identities: Array<{ id: string; account: string; kind: IdentityKind }>
  keys: Array<{ id: string; kid: string; key: PublicJwk | string; revoked: boolean }>
  streams: Array<{ key: string; type: string; owner: string; seq: number; eventId: string; hash: string }>
  members: Array<{ account: string; id: string; role: 'owner' | 'member' }>
  known: Array<{ stream: string; eventId: string; hash: string }>
  idem: Array<{ id: string; key: string; hash: string }>
  intents: Array<{ stream: string; eventId: string; objectKey: string }>
  facts: Record<string, Array<{ k: string; v: unknown }>>
}

/** Leftover append intents of a stream: objects a crashed batch may have written (settle.ts). */
export type Intents = Map<string, Array<{ eventId: string; objectKey: string }>>

export class BatchLedger implements LedgerView {
  private constructor(
    private readonly identities: Map<string, IdentityState>,
    private readonly streams: Map<string, StreamState>,
    private readonly knownReceipts: Set<string>,
    private readonly idempotencyKeys: Map<string, string>,
    readonly intents: Intents,
    /** The facts of the rules across streams, loaded so far (`ensureFacts` loads the rest). */
    readonly facts: BatchFacts,
  ) {}

  /**
   * What the rules need for `receipts` (every receipt the batch may evaluate), in one round trip; with
   * `factRefs`, those facts too (the first round of cross-stream reads, locked by the caller).
   */
  static async load(
    tx: Queryable,
    receipts: readonly CheckedReceipt[],
    groupStreams: readonly string[] = [],
    factRefs: readonly FactRef[] = [],
  ): Promise<BatchLedger> {
    const streamKeys = new Set<string>(groupStreams)
    const accountKeys = new Set<string>()
    const identityIds = new Set<string>()
    const keyPairs = new Map<string, [string, string]>()
    const known: Array<[string, string]> = []
    const idem: Array<[string, string]> = []
    for (const { receipt, streamKey } of receipts) {
      streamKeys.add(streamKey)
      const issuer = receipt.issuer.identityId
      identityIds.add(issuer)
      keyPairs.set(`${issuer} ${receipt.issuer.publicKeyId}`, [issuer, receipt.issuer.publicKeyId])
      if (receipt.type === 'KEY_REVOKED') {
        const kid = receipt.payload.publicKeyId as string
        keyPairs.set(`${issuer} ${kid}`, [issuer, kid])
      } else if (receipt.type === 'KEY_ADDED') {
        const kid = jwkThumbprint(receipt.payload.publicKey as PublicJwk)
        keyPairs.set(`${issuer} ${kid}`, [issuer, kid])
      } else if (receipt.type === 'MEMBER_ADDED' || receipt.type === 'MEMBER_REMOVED') {
        identityIds.add(receipt.payload.identityId as string)
      }
      // Opening a stream inside an account needs the account's members (shared rules, holdsRole).
      const accountId = receipt.stream.accountId
      if (receipt.prevEventId === null && accountId !== undefined && receipt.stream.type !== 'account')
        accountKeys.add(`account/${accountId}`)
      known.push([streamKey, receipt.eventId])
      if (receipt.prevEventId) known.push([streamKey, receipt.prevEventId])
      idem.push([issuer, receipt.idempotencyKey])
    }
    for (const k of streamKeys) if (k.startsWith('account/')) accountKeys.add(k)
    const accounts = [...accountKeys].map((k) => k.slice('account/'.length))
    const pairs = [...keyPairs.values()]
    const facts = factsQuery(factRefs, 11)
    const { rows } = await tx.query<{ state: LoadedState | string }>(
      `SELECT json_build_object(
         'identities', (SELECT coalesce(json_agg(json_build_object('id', identity_id, 'account', account_id, 'kind', kind)), '[]')
                        FROM identities WHERE identity_id = ANY($1::text[])),
         'keys', (SELECT coalesce(json_agg(json_build_object('id', k.identity_id, 'kid', k.public_key_id, 'key', k.public_key, 'revoked', k.revoked_position IS NOT NULL)), '[]')
                  FROM identity_keys k JOIN unnest($2::text[], $3::text[]) AS p(id, kid) ON k.identity_id = p.id AND k.public_key_id = p.kid),
         'streams', (SELECT coalesce(json_agg(json_build_object('key', stream_key, 'type', stream_type, 'owner', owner_identity_id, 'seq', seq, 'eventId', head_event_id, 'hash', head_hash)), '[]')
                     FROM streams WHERE stream_key = ANY($4::text[])),
         'members', (SELECT coalesce(json_agg(json_build_object('account', account_id, 'id', identity_id, 'role', role)), '[]') FROM account_members
                     WHERE account_id = ANY($5::text[]) AND (role = 'owner' OR identity_id = ANY($1::text[]))),
         'known', (SELECT coalesce(json_agg(json_build_object('stream', r.stream_key, 'eventId', r.event_id, 'hash', r.hash)), '[]')
                   FROM receipts r JOIN unnest($6::text[], $7::text[]) AS q(s, e) ON r.stream_key = q.s AND r.event_id = q.e),
         'idem', (SELECT coalesce(json_agg(json_build_object('id', issuer_identity_id, 'key', idempotency_key, 'hash', hash)), '[]') FROM receipts
                  WHERE (issuer_identity_id, idempotency_key) IN (SELECT * FROM unnest($8::text[], $9::text[]))),
         'intents', (SELECT coalesce(json_agg(json_build_object('stream', stream_key, 'eventId', event_id, 'objectKey', object_key) ORDER BY stream_key, event_id), '[]')
                     FROM append_intents WHERE stream_key = ANY($10::text[])),
         'facts', ${facts.sql}
       ) AS state`,
      [
        [...identityIds],
        pairs.map((p) => p[0]),
        pairs.map((p) => p[1]),
        [...streamKeys, ...accountKeys],
        accounts,
        known.map((k) => k[0]),
        known.map((k) => k[1]),
        idem.map((i) => i[0]),
        idem.map((i) => i[1]),
        [...streamKeys],
        ...facts.params,
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
    const intents: Intents = new Map()
    for (const i of state.intents) {
      const list = intents.get(i.stream) ?? []
      list.push({ eventId: i.eventId, objectKey: i.objectKey })
      intents.set(i.stream, list)
    }
    const batchFacts = new BatchFacts()
    batchFacts.receive(factRefs, state.facts)
    return new BatchLedger(
      identities,
      streams,
      new Set(state.known.map((r) => `${r.stream} ${r.eventId} ${r.hash}`)),
      new Map(state.idem.map((r) => [`${r.id} ${r.key}`, r.hash])),
      intents,
      batchFacts,
    )
  }

  /** Loads (and locks) every fact `receipts`' cross-stream rules read that is not loaded yet. */
  async ensureFacts(tx: Queryable, receipts: readonly CheckedReceipt[]): Promise<void> {
    await this.facts.ensure(tx, receipts)
  }

  identity(identityId: string): IdentityState | undefined {
    return this.identities.get(identityId)
  }
  stream(key: string): StreamState | undefined {
    return this.streams.get(key)
  }
  hasReceipt(streamKey: string, eventId: string, hash: string): boolean {
    return this.knownReceipts.has(`${streamKey} ${eventId} ${hash}`)
  }
  idempotency(identityId: string, idempotencyKey: string): string | undefined {
    return this.idempotencyKeys.get(`${identityId} ${idempotencyKey}`)
  }

  /** Records an acceptance so the batch's later receipts see it. */
  apply({ checked }: Acceptance): void {
    const { receipt } = checked
    const identity = nextIdentityState(checked, this.identities.get(receipt.issuer.identityId))
    if (identity) this.identities.set(identity.identityId, identity)
    this.streams.set(checked.streamKey, nextStreamState(checked, this.streams.get(checked.streamKey)))
    this.knownReceipts.add(`${checked.streamKey} ${receipt.eventId} ${receipt.hash}`)
    this.idempotencyKeys.set(`${receipt.issuer.identityId} ${receipt.idempotencyKey}`, receipt.hash)
    this.facts.apply(crossStreamRule(checked)?.record?.(checked, this.facts) ?? [])
  }

  /** The owner a stream has now (the first, for account streams). */
  ownerOf(streamKey: string): string | undefined {
    return [...(this.streams.get(streamKey)?.owners ?? [])][0]
  }
}
