/**
 * Verification of receipts against what came before them: key authority from identity streams, who may
 * write which stream, and the hash chain. The rules are written once, against a `LedgerView`, so the
 * offline verifier (an in-memory ledger fed in file order) and the relay (state loaded from its database)
 * apply exactly the same ones. Only the generic rules are here; what a receipt type adds (a self-signed
 * key, a stateful rule, its effect on identity keys or account members) is a hook of its domain module
 * (domains/), found through the registry (`receiptRules`).
 */
import { reusingVerifier, startVerification, type EarlyVerification } from './crypto/early-verify.js'
import { jwkThumbprint, type PublicJwk } from './crypto/jwk.js'
import type { Sha256, SignatureVerifier } from './crypto/types.js'
import type { FactView } from './domains/domain.js'
import { crossStreamRule, MemoryFacts } from './domains/facts.js'
import { accountStreamKey, type IdentityKind } from './domains/identity.js'
import { PixpaxError } from './errors.js'
import { checkReceipt, parseReceipt, type ChainHead, type CheckedReceipt } from './receipt.js'
import { mayOpenStream, onlyOpensStream, receiptRules, type IssuerRole } from './streams.js'

export interface KeyState {
  readonly publicKey: PublicJwk
  /** Set once a revocation of it is accepted; a revoked key never comes back. */
  revoked: boolean
}

export interface IdentityState {
  readonly identityId: string
  readonly accountId: string
  readonly kind: IdentityKind
  readonly keys: Map<string, KeyState>
}

export interface StreamState {
  readonly key: string
  /** Receipts accepted so far; the head's `seq`. */
  count: number
  head: ChainHead
  /** Identities that may issue `owner` receipts. */
  readonly owners: Set<string>
  /** Account streams: member identity → role. */
  readonly members: Map<string, 'owner' | 'member'>
}

/** What the rules need to know about earlier receipts. */
export interface LedgerView {
  identity(identityId: string): IdentityState | undefined
  stream(key: string): StreamState | undefined
  /** Whether the receipt with this eventId and hash is already part of the stream (fork vs broken link). */
  hasReceipt(streamKey: string, eventId: string, hash: string): boolean
  /** The hash of the receipt that already used this idempotency key for this identity, if any. */
  idempotency(identityId: string, idempotencyKey: string): string | undefined
  /**
   * Facts for rules across streams (ARCHITECTURE §7), where this view holds them: the relay (every
   * kind) and a verifier of a whole log (`log` kinds). Without them, cross-stream rules are not decided.
   */
  readonly facts?: FactView
}

/**
 * Which identities hold the platform roles. Without a set, an identity's self-declared `kind` decides;
 * with one, only the listed identities (a relay's configuration, `pixpax verify --issuer`) do.
 */
export interface TrustPolicy {
  readonly platformIssuers?: ReadonlySet<string>
  readonly moderators?: ReadonlySet<string>
}

/** The outcome of a receipt that passed every rule: where it lands. */
export interface Acceptance {
  readonly checked: CheckedReceipt
  readonly seq: number
}

/**
 * The public key a receipt makes known (a new identity's first key, an added key), if its type's domain
 * module says it introduces one. Known before the receipt is accepted: use it to start signature checks
 * early, never as proof that the key is valid.
 */
export function introducedKey(checked: CheckedReceipt): PublicJwk | undefined {
  return receiptRules(checked.spec, checked.receipt.type)?.introducedKey?.(checked)
}

function keyFor(checked: CheckedReceipt, view: LedgerView): { publicKey: PublicJwk; state?: KeyState } {
  const { receipt } = checked
  const { identityId, publicKeyId } = receipt.issuer
  const selfSigned = receiptRules(checked.spec, receipt.type)?.selfSignedKey?.(checked, view)
  if (selfSigned) return { publicKey: selfSigned }
  const identity = view.identity(identityId)
  if (!identity)
    throw new PixpaxError('KEY_UNKNOWN', `identity ${identityId} is not known (its identity stream must come first)`, { identityId })
  const state = identity.keys.get(publicKeyId)
  if (!state) throw new PixpaxError('KEY_UNKNOWN', `identity ${identityId} has no key ${publicKeyId}`, { identityId, publicKeyId })
  return { publicKey: state.publicKey, state }
}

function holdsRole(
  role: IssuerRole,
  issuerId: string,
  stream: StreamState | undefined,
  checked: CheckedReceipt,
  view: LedgerView,
  policy: TrustPolicy,
): boolean {
  switch (role) {
    case 'owner': {
      const { spec, receipt } = checked
      if (typeof spec.owner === 'object') return receipt.stream[spec.owner.idField] === issuerId
      // Genesis-owned stream: whoever opens it owns it, but only inside its own account — a member of the
      // account when its account stream is known (a relay always knows it), else by the identity's
      // declared accountId.
      if (!stream) {
        const accountId = receipt.stream.accountId
        if (accountId === undefined) return true
        // (An account stream is itself the account: nothing to look up.)
        const accountKey = accountStreamKey(accountId)
        const account = accountKey === checked.streamKey ? undefined : view.stream(accountKey)
        if (account) return account.members.has(issuerId)
        return view.identity(issuerId)?.accountId === accountId
      }
      return stream.owners.has(issuerId)
    }
    case 'accountOwner':
      return stream?.members.get(issuerId) === 'owner'
    case 'platformIssuer':
      return policy.platformIssuers ? policy.platformIssuers.has(issuerId) : view.identity(issuerId)?.kind === 'issuer'
    case 'moderator':
      return policy.moderators ? policy.moderators.has(issuerId) : view.identity(issuerId)?.kind === 'moderator'
  }
}

function headDetails(stream: StreamState): Record<string, unknown> {
  return { head: { eventId: stream.head.eventId, hash: stream.head.hash, seq: stream.count } }
}

/** Genesis and per-type rules that depend on state (everything the payload schema cannot say). */
function checkStreamRules(checked: CheckedReceipt, stream: StreamState | undefined, view: LedgerView): void {
  const { receipt, spec } = checked
  if (onlyOpensStream(spec, receipt.type)) {
    if (stream) {
      if (receipt.prevEventId === null) {
        throw new PixpaxError('CHAIN_CONFLICT', `stream ${checked.streamKey} already has a first receipt`, headDetails(stream))
      }
      throw new PixpaxError('STREAM_RULE_VIOLATION', `${receipt.type} may only open a stream`)
    }
  } else if (!stream && !mayOpenStream(spec, receipt.type)) {
    if (receipt.prevEventId !== null) {
      throw new PixpaxError('CHAIN_BROKEN', `stream ${checked.streamKey} is not known, so prevEventId names nothing`)
    }
    throw new PixpaxError('STREAM_RULE_VIOLATION', `a ${spec.type} stream must open with ${spec.genesis}`)
  }
  receiptRules(spec, receipt.type)?.check?.(checked, stream, view)
}

function checkChain(checked: CheckedReceipt, stream: StreamState | undefined, view: LedgerView): number {
  const { receipt } = checked
  if ((receipt.prevEventId === null) !== (receipt.prevHash === null)) {
    throw new PixpaxError('CHAIN_BROKEN', 'prevEventId and prevHash must both be null (first receipt) or both be set')
  }
  if (!stream) {
    if (receipt.prevEventId !== null)
      throw new PixpaxError('CHAIN_BROKEN', 'the first receipt of a stream must have prevEventId and prevHash null')
    return 1
  }
  if (receipt.prevEventId === stream.head.eventId) {
    if (receipt.prevHash !== stream.head.hash) {
      throw new PixpaxError('CHAIN_BROKEN', `prevHash does not match the hash of ${receipt.prevEventId}`, headDetails(stream))
    }
    if (receipt.eventId <= stream.head.eventId) {
      throw new PixpaxError('EVENT_ID_ORDER', `eventId ${receipt.eventId} is not greater than its predecessor ${stream.head.eventId}`)
    }
    return stream.count + 1
  }
  if (view.hasReceipt(checked.streamKey, receipt.eventId, receipt.hash)) {
    throw new PixpaxError('CHAIN_CONFLICT', `receipt ${receipt.eventId} is already in the stream (a replay)`, headDetails(stream))
  }
  if (receipt.prevEventId === null || view.hasReceipt(checked.streamKey, receipt.prevEventId, receipt.prevHash!)) {
    throw new PixpaxError(
      'CHAIN_CONFLICT',
      `another receipt already follows ${receipt.prevEventId ?? 'the start of the stream'} (a fork)`,
      headDetails(stream),
    )
  }
  throw new PixpaxError(
    'CHAIN_BROKEN',
    `prevEventId ${receipt.prevEventId} is not a receipt of stream ${checked.streamKey}`,
    headDetails(stream),
  )
}

/**
 * Applies every rule that needs earlier receipts to a receipt that passed `checkReceipt`, in the order
 * of ARCHITECTURE §6: key lookup (KEY_UNKNOWN) → signature (SIGNATURE_INVALID) → revocation
 * (KEY_REVOKED) → authority (NOT_AUTHORIZED) → stream rules → chain → idempotency. Throws PixpaxError;
 * on success returns the receipt's position. Changes nothing: call `MemoryLedger.apply` (or the relay's
 * projection) to record it.
 */
export async function evaluateReceipt(
  checked: CheckedReceipt,
  view: LedgerView,
  verifier: SignatureVerifier,
  policy: TrustPolicy = {},
): Promise<Acceptance> {
  const { receipt } = checked
  const { publicKey, state } = keyFor(checked, view)
  if (!(await verifier.verify(publicKey, checked.canonical, checked.signature))) {
    throw new PixpaxError('SIGNATURE_INVALID', `signature does not verify under key ${receipt.issuer.publicKeyId}`)
  }
  if (state?.revoked) {
    throw new PixpaxError(
      'KEY_REVOKED',
      `key ${receipt.issuer.publicKeyId} of ${receipt.issuer.identityId} was revoked before this receipt`,
    )
  }
  const stream = view.stream(checked.streamKey)
  const allowed = checked.spec.receipts[receipt.type]!.issuers
  if (!allowed.some((role) => holdsRole(role, receipt.issuer.identityId, stream, checked, view, policy))) {
    throw new PixpaxError(
      'NOT_AUTHORIZED',
      `${receipt.issuer.identityId} may not issue ${receipt.type} into ${checked.streamKey} (allowed: ${allowed.join(', ')})`,
    )
  }
  receiptRules(checked.spec, receipt.type)?.authorize?.(checked, policy)
  checkStreamRules(checked, stream, view)
  const seq = checkChain(checked, stream, view)
  const previous = view.idempotency(receipt.issuer.identityId, receipt.idempotencyKey)
  if (previous !== undefined) {
    throw new PixpaxError(
      'IDEMPOTENCY_CONFLICT',
      `idempotencyKey ${receipt.idempotencyKey} was already used by ${receipt.issuer.identityId} for another receipt`,
      {
        previousHash: previous,
      },
    )
  }
  if (view.facts) crossStreamRule(checked)?.decide?.(checked, view.facts, policy)
  return { checked, seq }
}

/** Applies an accepted receipt's effect on identity and stream state (shared by every ledger). */
export function nextStreamState(checked: CheckedReceipt, stream: StreamState | undefined): StreamState {
  const { receipt, spec } = checked
  const next: StreamState = stream ?? {
    key: checked.streamKey,
    count: 0,
    head: { eventId: receipt.eventId, hash: receipt.hash },
    owners: new Set(typeof spec.owner === 'object' ? [receipt.stream[spec.owner.idField]!] : [receipt.issuer.identityId]),
    members: new Map(),
  }
  next.count += 1
  next.head = { eventId: receipt.eventId, hash: receipt.hash }
  receiptRules(spec, receipt.type)?.applyStream?.(checked, next, stream === undefined)
  return next
}

/** The identity state after an accepted identity-stream receipt (undefined for other streams). */
export function nextIdentityState(checked: CheckedReceipt, identity: IdentityState | undefined): IdentityState | undefined {
  return receiptRules(checked.spec, checked.receipt.type)?.applyIdentity?.(checked, identity)
}

/**
 * An in-memory ledger: the state of every stream and identity seen so far, in acceptance order. Memory
 * per receipt is a short hash prefix (fork detection) and the idempotency key, so verifying a file far
 * larger than memory works.
 */
export class MemoryLedger implements LedgerView {
  /** Facts of the log so far, when the ledger sees a whole log (`crossStream`). */
  readonly facts: MemoryFacts | undefined
  private readonly identities = new Map<string, IdentityState>()
  private readonly streams = new Map<string, StreamState>()
  private readonly receipts = new Set<string>()
  private readonly idempotencyKeys = new Map<string, string>()
  /** The same maps, as recordAcceptance takes them. */
  private readonly maps: LedgerMaps = {
    identities: this.identities,
    streams: this.streams,
    receipts: this.receipts,
    idempotencyKeys: this.idempotencyKeys,
  }

  /** `crossStream`: the receipts fed are a whole log from its start, so cross-stream rules apply. */
  constructor(options: { crossStream?: boolean } = {}) {
    this.facts = options.crossStream ? new MemoryFacts() : undefined
  }

  identity(identityId: string): IdentityState | undefined {
    return this.identities.get(identityId)
  }
  stream(key: string): StreamState | undefined {
    return this.streams.get(key)
  }
  hasReceipt(streamKey: string, eventId: string, hash: string): boolean {
    return this.receipts.has(receiptTag(streamKey, eventId, hash))
  }
  idempotency(identityId: string, idempotencyKey: string): string | undefined {
    return this.idempotencyKeys.get(`${identityId} ${idempotencyKey}`)
  }
  /** Every stream seen, in first-seen order. */
  allStreams(): IterableIterator<StreamState> {
    return this.streams.values()
  }

  apply(acceptance: Acceptance): void {
    const { checked } = acceptance
    recordAcceptance(this.maps, checked)
    if (this.facts) this.facts.apply(crossStreamRule(checked)?.record?.(checked, this.facts) ?? [])
  }
}

/** The state every ledger keeps (this one and the client's): what `recordAcceptance` moves on. */
export interface LedgerMaps {
  readonly identities: Map<string, IdentityState>
  readonly streams: Map<string, StreamState>
  readonly receipts: Set<string>
  readonly idempotencyKeys: Map<string, string>
}

/** Moves a ledger's state past one accepted receipt: its identity, its stream, its tag and idempotency key. */
export function recordAcceptance(ledger: LedgerMaps, checked: CheckedReceipt): void {
  const { receipt } = checked
  const identity = nextIdentityState(checked, ledger.identities.get(receipt.issuer.identityId))
  if (identity) ledger.identities.set(identity.identityId, identity)
  ledger.streams.set(checked.streamKey, nextStreamState(checked, ledger.streams.get(checked.streamKey)))
  ledger.receipts.add(receiptTag(checked.streamKey, receipt.eventId, receipt.hash))
  ledger.idempotencyKeys.set(`${receipt.issuer.identityId} ${receipt.idempotencyKey}`, receipt.hash)
}

// A receipt is identified by its eventId and 96 bits of its hash (a short key keeps memory per receipt
// small); the stream key's length only partitions the set cheaply, it does not name the stream.
export function receiptTag(streamKey: string, eventId: string, hash: string): string {
  return `${streamKey.length}:${eventId}${hash.slice(7, 31)}`
}

export interface VerifiedReceipt {
  readonly ok: true
  readonly streamKey: string
  readonly seq: number
  readonly eventId: string
  readonly hash: string
}
export interface RejectedReceipt {
  readonly ok: false
  readonly code: PixpaxError['code']
  readonly message: string
  readonly eventId?: string
  readonly details?: Record<string, unknown>
}
export type Verdict = VerifiedReceipt | RejectedReceipt

export interface ChainVerifierOptions extends TrustPolicy {
  readonly verifier: SignatureVerifier
  readonly sha256?: Sha256
  /**
   * The input is a whole log from its start (a relay's store, a full export in log order): decide the
   * rules across streams too. Off for a partial export, which cannot know other streams' facts.
   */
  readonly crossStream?: boolean
}

/** A receipt checked on its own, with its signature verification possibly already under way. */
export interface PreparedReceipt {
  readonly checked?: CheckedReceipt
  readonly error?: PixpaxError
  readonly eventId?: string
  readonly early?: EarlyVerification
}

/**
 * Verifies a sequence of receipts of any streams, in acceptance order (each stream's receipts in chain
 * order, streams interleaved freely; identity receipts before their keys are used). A rejected receipt
 * does not change the ledger, exactly as the relay would have refused it.
 *
 * Two stages, so signatures can be verified in parallel ahead of the ordered rules: `prepare` checks a
 * receipt on its own and starts verifying its signature (a publicKeyId is a thumbprint, so the key it
 * names is the same whatever the ledger state); `commit` applies the ordered rules, in input order,
 * reusing that result. `add` is both in one.
 */
export class ChainVerifier {
  readonly ledger: MemoryLedger
  private accepted = 0
  /** Every key a checked receipt introduced (`introducedKey`), by thumbprint: lets `prepare` start early. */
  private readonly keysById = new Map<string, PublicJwk>()

  constructor(private readonly options: ChainVerifierOptions) {
    this.ledger = new MemoryLedger({ crossStream: options.crossStream ?? false })
  }

  /** Stage 1: checks one receipt (JSON text, parsed strictly, or a value) and starts its signature check. */
  prepare(input: unknown): PreparedReceipt {
    let checked: CheckedReceipt
    try {
      checked = typeof input === 'string' ? parseReceipt(input, this.options.sha256) : checkReceipt(input, this.options.sha256)
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      const eventId = eventIdOf(input)
      return { error, ...(eventId ? { eventId } : {}) }
    }
    return this.prepareChecked(checked)
  }

  /** Stage 1 for a receipt already checked on its own (`checkReceipt`/`parseReceipt`): starts its signature check. */
  prepareChecked(checked: CheckedReceipt): PreparedReceipt {
    const { receipt } = checked
    const key = introducedKey(checked)
    if (key) this.keysById.set(jwkThumbprint(key), key)
    const publicKey = this.keysById.get(receipt.issuer.publicKeyId)
    if (!publicKey) return { checked, eventId: receipt.eventId }
    const early = startVerification(this.options.verifier, publicKey, checked.canonical, checked.signature)
    return { checked, eventId: receipt.eventId, early }
  }

  /** Stage 2: applies the ordered rules to a prepared receipt; call in input order. */
  async commit(prepared: PreparedReceipt): Promise<Verdict> {
    const { checked, early } = prepared
    try {
      if (!checked) throw prepared.error!
      const verifier = reusingVerifier(this.options.verifier, early)
      const acceptance = await evaluateReceipt(checked, this.ledger, verifier, this.options)
      this.ledger.apply(acceptance)
      this.accepted++
      return { ok: true, streamKey: checked.streamKey, seq: acceptance.seq, eventId: checked.receipt.eventId, hash: checked.receipt.hash }
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      const eventId = prepared.eventId
      return {
        ok: false,
        code: error.code,
        message: error.message,
        ...(eventId ? { eventId } : {}),
        ...(error.details ? { details: error.details } : {}),
      }
    }
  }

  /** Verifies one receipt given as JSON text (parsed strictly) or as an already-parsed value. */
  async add(input: unknown): Promise<Verdict> {
    return this.commit(this.prepare(input))
  }

  /** Receipts accepted so far and, per stream, its count and head (hash and eventId). */
  summary(): { receipts: number; streams: Record<string, { count: number; head: string; headEventId: string }> } {
    const streams: Record<string, { count: number; head: string; headEventId: string }> = {}
    for (const s of this.ledger.allStreams()) streams[s.key] = { count: s.count, head: s.head.hash, headEventId: s.head.eventId }
    return { receipts: this.accepted, streams }
  }
}

function eventIdOf(input: unknown): string | undefined {
  if (typeof input === 'object' && input !== null && typeof (input as { eventId?: unknown }).eventId === 'string') {
    return (input as { eventId: string }).eventId.slice(0, 64)
  }
  if (typeof input === 'string') return /"eventId"\s*:\s*"([^"\\]{1,64})"/.exec(input)?.[1]
  return undefined
}
