/**
 * The sync engine: keeps a local, verified copy of the streams an app follows, and delivers the app's
 * own receipts through an outbox — offline first, never trusting the relay.
 *
 * - Commands (`append`) build, sign and chain a receipt to the local head and put it in the durable
 *   outbox before returning; nothing waits for the network.
 * - When connected: `hello` (session token), `subscribe` every followed stream from its local head,
 *   `push` the outbox (in order, with stable idempotency keys: a resend after a crash or a lost answer
 *   yields the first result, never a second receipt).
 * - The relay's key is bound to the pinned id (relay-trust.ts). Every checkpoint the relay sends is
 *   verified under that key and proven consistent with the newest one held (checkpoint-verifier.ts);
 *   one that is not halts the client with LOG_INCONSISTENT and keeps both as evidence.
 * - Every delivered batch is proven in its checkpoint's tree (delivery-proof.ts), then each receipt is
 *   verified before it enters the local log: the shared rules (hash, signature, key validity at its
 *   acceptance position, authority, chain) and its seq. A failure goes to quarantine with its code and a
 *   `quarantine` event; the stream stops applying until reconnect, and the status is `error`.
 * - `CHAIN_CONFLICT` on push (another device moved the head): once the relay's head is in the local log,
 *   pending receipts of that stream are rebuilt on it and re-signed (same idempotency keys), and a
 *   `conflict` event says so. A receipt that can no longer apply ends `rejected` with its code.
 * - Retries (reconnects, transient push failures) back off exponentially with jitter, on a timer.
 */
import {
  isErrorCode,
  nobleSha256,
  parseStreamKey,
  parseStrictJson,
  isReceiptsMessage,
  proofFromJson,
  proofToJson,
  PixpaxError,
  ServerMessageSchema,
  streamKey as streamKeyOf,
  SYNC_PROTOCOL_VERSION,
  webCryptoVerifier,
  buildReceipt,
  type Ack,
  type Checkpoint,
  type LiveNotification,
  type LogCheckpointMessage,
  type Receipt,
  type ServerMessage,
  type Sha256,
  type SignatureVerifier,
  type Signer,
  type StreamRef,
  type TrustPolicy,
  type WitnessPolicy,
} from '@pixpax/shared'
import type { LocalLog, LoggedReceipt, OutboxEntry, QuarantineEntry } from '../storage/local-log.js'
import { ClientLedger } from './client-ledger.js'
import { encodeStartSnapshot, restoreVerifiedState, type RestoredState } from './start-snapshot.js'
import { Emitter } from './emitter.js'
import { Connection, type SessionState, type WebSocketFactory, type WebSocketLike } from './connection.js'
import { TimeSlicer } from './time-slicer.js'
import {
  checkBatchSeqs,
  completeAhead,
  keyArrived,
  verifyAck,
  verifyAheadSliced,
  verifyDelivered,
  type BatchProof,
  type Delivered,
  type Early,
} from './delivery.js'
import { Outbox } from './outbox.js'
import { LogWriter } from './log-writer.js'
import { HeadWaiters, rebuildOnHead } from './rebase.js'
import { RelayTrust, type RelayHalt, type RelayPin } from './relay-trust.js'
import { CheckpointVerifier, type HeldCheckpoint, type LogEvidence } from './checkpoint-verifier.js'
import { verifyDeliveryProof } from './delivery-proof.js'
import { WitnessGate, type WitnessedCheckpoint } from './witness-gate.js'
import { postCosignature, type CosignResult } from './cosign.js'

export type SyncStatus = 'offline' | 'connecting' | 'syncing' | 'synced' | 'error'

export interface SyncClientEvents extends Record<string, unknown> {
  /** A verified receipt entered the local log. */
  receipt: LoggedReceipt
  status: SyncStatus
  /** Pending receipts were rebuilt on a head another device moved. */
  conflict: { streamKey: string; rebased: string[] }
  /** A delivered receipt or ack failed verification and was not applied. */
  quarantine: QuarantineEntry
  /** The relay refused one of our receipts for good. */
  rejected: OutboxEntry
  /** The relay accepted one of our receipts (its ack verified). */
  acked: OutboxEntry
  /** A relay key was pinned (trust on first use, or the explicit `relayPublicKeyId` first seen). */
  'relay-pinned': RelayPin
  /** The client stopped trusting the relay (its key changed, or its log forked); only the app can resume. */
  halted: RelayHalt
  /** A newer checkpoint was verified and is now the one held. */
  checkpoint: HeldCheckpoint
  /** A checkpoint was refused (LOG_INCONSISTENT); `evidence` when the relay signed both sides of a lie. */
  'log-inconsistent': { reason: string; message: string; evidence?: LogEvidence }
  /** A delivered batch waits for witnesses: no checkpoint the policy's witnesses cosigned covers it yet. */
  'awaiting-witnesses': { streamKey: string; size: number }
  /** A checkpoint met the witness policy (`witnesses`): receipts under it may now be applied. */
  witnessed: WitnessedCheckpoint
  /** This client cosigned the relay's checkpoint as a witness (`cosign: true`) and the relay kept it. */
  cosigned: CosignResult
  /** Cosigning failed (the relay refused it or was unreachable); the next checkpoint is cosigned again. */
  'cosign-failed': { size: number; code: string; message: string }
  /** A notification of the session's identity, pushed live (after `watchNotifications`). */
  notification: LiveNotification
  /**
   * Writing a verified batch to the local log failed (disk full, quota, I/O error): nothing more is
   * applied and the status is `error` until the app reopens the client, which replays what was written.
   */
  'log-failed': { message: string; error: unknown }
}

export type { WebSocketFactory, WebSocketLike } from './connection.js'

export interface SyncClientOptions {
  /** The relay's base URL, e.g. `http://127.0.0.1:8787`. */
  relayUrl: string
  log: LocalLog
  /** This device's identity and key (the key must be a valid key of the identity). */
  identityId: string
  signer: Signer
  /** Streams to follow (identity streams of issuers are followed automatically as needed). */
  streams?: string[]
  /** Opens a WebSocket; defaults to `new WebSocket(url)` (browsers, Node ≥ 22). */
  webSocket?: WebSocketFactory
  /** Signature verification; defaults to WebCrypto. On Node pass `nodeVerifier()`. */
  verifier?: SignatureVerifier
  sha256?: Sha256
  /** Session token for private streams (read on every connect). */
  token?: () => Promise<string | undefined> | string | undefined
  /**
   * The relay key's id (RFC 7638 thumbprint) to trust; otherwise the key announced at the first `welcome`
   * is pinned and stored in the local log (trust on first use). Either way an announced key is accepted
   * only if its thumbprint is the pinned id.
   */
  relayPublicKeyId?: string
  trust?: TrustPolicy
  now?: () => number
  random?: () => number
  reconnect?: { baseMs?: number; maxMs?: number }
  /** Receipts per push message (default 100). */
  pushBatch?: number
  /**
   * Trust a checkpoint only once `required` of these witnesses cosigned it (docs/log.md §11): receipts
   * proven under a checkpoint no witnessed one covers wait (status stays `syncing`) until one does.
   */
  witnesses?: WitnessPolicy
  /** Be a witness: cosign every newer checkpoint this client verifies, with its own key, and hand it to the relay. */
  cosign?: boolean
  /**
   * At most one cosignature per this many ms (default 0: one at a time, none waiting behind another):
   * checkpoints held meanwhile are not cosigned one by one, the newest at the end of the gap is. A relay
   * whose log grows with every batch would otherwise get a cosignature per batch from every witness.
   */
  cosignIntervalMs?: number
  /**
   * Delivered batches received ahead of the one being applied before the client stops reading from the
   * socket (default 4; where the socket can pause). More overlap of checks with applies, more memory.
   */
  readAheadBatches?: number
  /** For the relay's HTTP routes (cosignatures); defaults to the global fetch. */
  fetch?: typeof fetch
}

/** The start-up snapshot is rewritten when synced once this many receipts were logged since the last one. */
const SNAPSHOT_EVERY = 2000
const RETRYABLE = new Set(['UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL', 'SLOW_CONSUMER'])
const REBASE = new Set(['CHAIN_CONFLICT', 'CHAIN_BROKEN', 'EVENT_ID_ORDER'])
/** Delivered batches (≤ 500 receipts each) received ahead of the one being applied before reading pauses. */
const READ_AHEAD_BATCHES = 4

export class SyncClient extends Emitter<SyncClientEvents> {
  status: SyncStatus = 'offline'
  private ledger = new ClientLedger()
  private readonly heads = new Map<string, LoggedReceipt>()
  /** Push answers being handled (onPushResult): the client is not `synced` meanwhile. */
  private answering = 0
  /** How open rebuilt the state (start-snapshot.ts), and whether the stored snapshot is behind the log. */
  private restored: Omit<RestoredState, 'ledger' | 'heads'> = { source: 'replay', replayed: 0 }
  private snapshotStale = false
  private loggedSinceSnapshot = 0
  private snapshotWrite: Promise<void> = Promise.resolve()
  private readonly followed = new Set<string>()
  private readonly caughtUp = new Set<string>()
  /** Streams whose delivery failed verification: nothing more is applied until reconnect. */
  private readonly poisoned = new Set<string>()
  /** Streams the relay refused to let us read (not created yet, or not ours). */
  private readonly refused = new Set<string>()
  /** Receipts held back until the identity stream of their issuer has been caught up. */
  private readonly waiting = new Map<string, { identity: string; batches: Delivered[][] }>()
  /**
   * Identity streams whose head the relay confirmed (heads request) while a receipt they should sign
   * waited, with the local head seq once that head was applied: a key still unknown at that seq is
   * unknown for good (quarantined), so a receipt is held at most once per new identity receipt.
   */
  private readonly identityConfirmed = new Map<string, number>()
  /** Identity streams being confirmed with the relay right now. */
  private readonly confirming = new Set<string>()
  /** Answers to `heads` requests, by request id. */
  /** `receipts` messages received whose batch is not applied yet (see updateReading). */
  private unappliedBatches = 0
  /** Waiting batches released (releaseWaiting) and not applied yet. */
  private releasing = 0
  /** Verified batches on their way into the local log, in order, while the next ones are verified. */
  private readonly logWriter = new LogWriter()
  private logFailureTold = false
  private readonly headsRequests = new Map<string, (heads: Record<string, { seq: number } | null> | undefined) => void>()
  private requestSeq = 0
  private readonly streamQueues = new Map<string, Promise<void>>()
  /** Relay messages being handled (stop() waits for them). */
  private readonly handling = new Set<Promise<void>>()
  /** Cosigning (cosign: true): one at a time, at most one per cosignIntervalMs, the newest held checkpoint. */
  private cosigning = false
  private cosignAgain = false
  private cosignTimer: ReturnType<typeof setTimeout> | undefined
  private lastCosignAt = Number.NEGATIVE_INFINITY
  private readonly outbox: Outbox
  private readonly conn: Connection
  /** Set at a welcome whose key is bound to the pin (this connection's relay key). */
  private relayKey: RelayPin | undefined
  /** Set when the relay refused our session: reconnect without one. */
  private anonymous = false
  /**
   * Live notifications asked for: the position of the newest one received (the cursor a reconnect
   * resumes from), or null before any (then a reconnect asks for "from now on" again).
   */
  private notificationCursor: { after: number | null } | undefined
  /** rebaseWhenCaughtUp's (and identity confirmations') waits for a stream's head to reach a seq. */
  private readonly headWaiters = new HeadWaiters((key) => this.heads.get(key)?.seq ?? 0)
  /** Batches proven under a checkpoint no witnessed one covers yet, per stream, in arrival order. */
  private readonly deferred = new Map<string, Array<{ size: number; apply: () => Promise<void> }>>()
  /** Checkpoints are verified one at a time, in the order they arrived. */
  private checkpointChain: Promise<unknown> = Promise.resolve()
  private readonly verifier: SignatureVerifier
  /** Shared by every stream's work: one budget for the thread, however many streams deliver at once. */
  private readonly slicer = new TimeSlicer()
  private readonly sha256: Sha256
  private readonly now: () => number
  private readonly random: () => number

  private constructor(
    private readonly options: SyncClientOptions,
    private readonly trust: RelayTrust,
    private readonly checkpoints: CheckpointVerifier,
    private readonly witnessGate: WitnessGate,
  ) {
    super()
    this.verifier = options.verifier ?? webCryptoVerifier()
    this.sha256 = options.sha256 ?? nobleSha256
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
    this.outbox = new Outbox(options.log, this.now, this.random, () => this.updateSynced())
    this.conn = new Connection({
      relayUrl: options.relayUrl,
      ...(options.webSocket ? { webSocket: options.webSocket } : {}),
      random: this.random,
      ...(options.reconnect ? { reconnect: options.reconnect } : {}),
      isHalted: () => this.trust.halt !== undefined,
      onConnecting: () => this.setStatus('connecting'),
      onHaltedAtStart: () => this.setStatus('error'),
      onOpen: (ws) => void this.sayHello(ws),
      onMessage: (text) => this.handleMessage(text),
      onDisconnect: () => this.onDisconnect(),
    })
  }

  /** Where the connection's life is (connection.ts, SESSION_TRANSITIONS). */
  get session(): SessionState {
    return this.conn.state
  }

  /**
   * Loads the verified state (from the snapshot stored in the local log where it still matches the log,
   * else by replaying the log, start-snapshot.ts) and the outbox.
   */
  static async open(options: SyncClientOptions): Promise<SyncClient> {
    const trust = await RelayTrust.load(options.log, {
      ...(options.relayPublicKeyId !== undefined ? { relayPublicKeyId: options.relayPublicKeyId } : {}),
      ...(options.now ? { now: options.now } : {}),
    })
    const checkpoints = await CheckpointVerifier.load(options.log, {
      verifier: options.verifier ?? webCryptoVerifier(),
      sha256: options.sha256 ?? nobleSha256,
      now: options.now ?? Date.now,
    })
    const witnessGate = await WitnessGate.load(options.log, options.witnesses, options.verifier ?? webCryptoVerifier())
    const client = new SyncClient(options, trust, checkpoints, witnessGate)
    const { ledger, heads, ...restored } = await restoreVerifiedState(options.log)
    client.ledger = ledger
    for (const [key, logged] of heads) client.heads.set(key, logged)
    client.restored = restored
    client.snapshotStale = restored.source === 'replay' ? restored.replayed > 0 : restored.replayed >= SNAPSHOT_EVERY
    await client.outbox.load()
    for (const key of [`identity/${options.identityId}`, ...(options.streams ?? []), ...client.heads.keys()]) client.followed.add(key)
    for (const entry of client.outbox.entries) client.followed.add(entry.streamKey)
    return client
  }

  /**
   * How `open` rebuilt the verified state: from the stored snapshot (`snapshot`, with `replayed`
   * receipts logged after it) or by replaying the whole log (`replay`; `fallback` says why a stored
   * snapshot was not used).
   */
  get startup(): Readonly<Omit<RestoredState, 'ledger' | 'heads'>> {
    return this.restored
  }

  /**
   * Stores the verified state as the start-up snapshot (one at a time; a failure only costs the next
   * open a replay). Taken between batches it matches the log; taken while a batch is being applied its
   * heads are ahead of the log, which the next open notices and replays over.
   */
  private saveSnapshot(): Promise<void> {
    const logged = this.loggedSinceSnapshot
    this.loggedSinceSnapshot = 0
    this.snapshotStale = false
    const text = encodeStartSnapshot(this.ledger, this.heads)
    this.snapshotWrite = this.snapshotWrite
      .then(() => this.options.log.putSnapshot(text))
      .catch(() => {
        this.loggedSinceSnapshot += logged
        this.snapshotStale = true
      })
    return this.snapshotWrite
  }

  // ── commands ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Builds a receipt chained to the local head of `stream` (the last pending one of ours, else the last
   * confirmed one), signs it and puts it in the outbox. Resolves once it is durable locally.
   */
  async append(
    stream: StreamRef | string,
    type: string,
    payload: Record<string, unknown>,
    options: { idempotencyKey?: string } = {},
  ): Promise<Receipt> {
    const ref = typeof stream === 'string' ? parseStreamKey(stream) : stream
    const key = streamKeyOf(ref)
    const receipt = await buildReceipt({
      stream: ref,
      type,
      payload,
      identityId: this.options.identityId,
      signer: this.options.signer,
      prev: this.localHead(key),
      sha256: this.sha256,
      now: this.now,
      ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
    })
    const entry: OutboxEntry = {
      id: receipt.idempotencyKey,
      streamKey: key,
      receipt,
      state: 'queued',
      attempts: 0,
      nextAttemptAt: this.now(),
      createdAt: this.now(),
    }
    await this.outbox.add(entry)
    this.follow(key)
    this.updateSynced() // something to push again: no longer synced
    this.schedule(0)
    return receipt
  }

  private localHead(streamKey: string): { eventId: string; hash: string } | null {
    const last = this.outbox.lastPending(streamKey)
    if (last) return { eventId: last.receipt.eventId, hash: last.receipt.hash }
    const head = this.heads.get(streamKey)
    return head ? { eventId: head.receipt.eventId, hash: head.receipt.hash } : null
  }

  /**
   * Follows a stream (subscribes now if connected). A newly followed stream is not caught up yet, so a
   * `synced` client turns `syncing` until it is: `whenSynced()` after `follow` waits for its receipts.
   */
  follow(streamKey: string): void {
    if (this.followed.has(streamKey)) return
    this.followed.add(streamKey)
    if (this.conn.open) this.subscribe([streamKey])
    this.updateSynced()
  }

  /**
   * Asks the relay to push the session's notifications (`notification` events), those after log
   * position `after` first (null: only new ones). Needs a session token; kept across reconnects, each
   * resuming after the newest notification received. Unverified: notifications are the relay's own
   * view, not signed receipts.
   */
  watchNotifications(after: number | null = null): void {
    this.notificationCursor = { after }
    if (this.conn.open && this.relayKey) this.send({ type: 'notifications', after })
  }

  /** The confirmed head of a stream in the local log. */
  head(streamKey: string): LoggedReceipt | undefined {
    return this.heads.get(streamKey)
  }

  pending(): readonly OutboxEntry[] {
    return this.outbox.entries
  }

  /** The relay key this client trusts (pinned explicitly or on first use), once known. */
  get relayPin(): RelayPin | undefined {
    return this.trust.pin
  }

  /** The newest checkpoint of the relay's log this client verified (persisted). */
  get checkpoint(): HeldCheckpoint | undefined {
    return this.checkpoints.held
  }

  /**
   * Evidence that the relay lied about its log (two checkpoints it signed that cannot both be true),
   * oldest first: JSON anyone can check offline with the relay's public key.
   */
  logEvidence(): Promise<LogEvidence[]> {
    return this.checkpoints.evidence()
  }

  /** The newest checkpoint the `witnesses` policy's witnesses cosigned (persisted). */
  get witnessed(): WitnessedCheckpoint | undefined {
    return this.witnessGate.witnessed
  }

  /**
   * Cosigns the checkpoint this client holds (verified under the pinned key, consistent with all it saw)
   * with its own identity key and hands it to the relay. NOT_FOUND before the first checkpoint.
   */
  async cosignCheckpoint(): Promise<CosignResult> {
    const held = this.checkpoints.held
    if (!held || held.relayKeyId !== this.trust.pinnedId) throw new PixpaxError('NOT_FOUND', 'no verified checkpoint to cosign yet')
    return postCosignature({
      relayUrl: this.options.relayUrl,
      fetch: this.options.fetch,
      identityId: this.options.identityId,
      signer: this.options.signer,
      note: held.note,
      timestamp: Math.floor(this.now() / 1000),
    })
  }

  /**
   * Checks a checkpoint of this relay that reached the app another way — from another client, a witness
   * or a monitor (gossip) — against the one held: the same tree, or one the relay proves consistent with
   * it (`GET /v1/log/proof/consistency`). Two histories signed by the relay are a fork: LOG_INCONSISTENT,
   * both notes kept as evidence, the client halts and raises `log-inconsistent`, as for one the relay sent.
   * A note that does not verify under the pinned key is refused (`bad-note`) and changes nothing.
   */
  gossipCheckpoint(note: string): Promise<Checkpoint> {
    const result = this.checkpointChain.then(async () => {
      const key = this.trust.pin
      if (!key) throw new PixpaxError('KEY_UNKNOWN', 'no relay key pinned yet: nothing to compare with')
      try {
        return await this.checkpoints.compare(note, key, (from, to) => this.fetchConsistency(from, to))
      } catch (error) {
        if (!(error instanceof PixpaxError)) throw error
        const details = (error.details ?? {}) as { reason?: string; evidence?: LogEvidence }
        if (details.evidence) {
          await this.haltRelay('LOG_INCONSISTENT', error.message)
          await this.quarantine({ raw: note, code: 'LOG_INCONSISTENT', message: error.message })
          this.emit('log-inconsistent', { reason: details.reason ?? 'unknown', message: error.message, evidence: details.evidence })
        }
        throw error
      }
    })
    this.checkpointChain = result.catch(() => undefined)
    return result
  }

  /** The relay's consistency proof between two sizes, or undefined when it gives none. */
  private async fetchConsistency(from: number, to: number): Promise<string[] | undefined> {
    const doFetch = this.options.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init))
    try {
      const response = await doFetch(`${this.options.relayUrl.replace(/\/$/, '')}/v1/log/proof/consistency?from=${from}&to=${to}`)
      if (!response.ok) return undefined
      return proofToJson(proofFromJson(await response.json())).hashes
    } catch {
      return undefined
    }
  }

  /** Why the client stopped trusting its relay, if it did (persisted across restarts). */
  get relayHalt(): RelayHalt | undefined {
    return this.trust.halt
  }

  /**
   * Forgets a halt and the trust-on-first-use pin, so the next connection pins the relay's key afresh.
   * For the app to call once a person decided the relay may be trusted again (e.g. a planned key rotation).
   */
  async resetRelayTrust(): Promise<void> {
    await this.trust.reset()
    await this.checkpoints.forget()
    await this.witnessGate.forget()
    this.conn.reset()
  }

  // ── connection ────────────────────────────────────────────────────────────────────────────────────

  start(): void {
    this.conn.start()
  }

  async stop(): Promise<void> {
    this.conn.stop()
    clearTimeout(this.cosignTimer)
    this.cosignTimer = undefined
    await Promise.allSettled([...this.handling])
    await Promise.all(this.streamQueues.values())
    await this.logWriter.idle()
    // The connection ended, so forget it as after any close (its close event never reaches us: the socket
    // is no longer current when it fires). Without this a push in flight at the stop stayed `sent` for
    // good after the next start. After the messages under way are handled, which still need the relay key.
    this.onDisconnect()
    if (this.snapshotStale || this.loggedSinceSnapshot > 0) await this.saveSnapshot()
    await this.snapshotWrite
    this.setStatus('offline')
  }

  /** Resolves when the client is `synced` (everything caught up, nothing left to push). */
  whenSynced(timeoutMs = 10_000): Promise<void> {
    if (this.status === 'synced') return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(new Error(`not synced within ${timeoutMs} ms (status ${this.status}, ${this.outbox.entries.length} in outbox)`))
      }, timeoutMs)
      const off = this.on('status', (s) => {
        if (s === 'synced') {
          clearTimeout(timer)
          off()
          resolve()
        }
      })
    })
  }

  private setStatus(status: SyncStatus): void {
    // Without the session the app gave us, we keep syncing what we can, but the status stays 'error'
    // until the app restarts the client with a valid session. So while a followed stream is
    // quarantined, and for good once the relay lost our trust.
    if ((this.anonymous || this.poisoned.size > 0) && status !== 'offline') status = 'error'
    if (this.trust.halt || this.logWriter.failed) status = 'error'
    if (this.status === status) return
    this.status = status
    this.emit('status', status)
  }

  /** The connection dropped (or was dropped by a halt): forget everything of it; reconnecting is the connection's. */
  private onDisconnect(): void {
    this.relayKey = undefined
    this.headWaiters.wake() // nothing more arrives on this connection
    this.caughtUp.clear()
    this.poisoned.clear()
    this.refused.clear()
    this.waiting.clear()
    this.deferred.clear() // delivered again from the local head on the next connection
    this.identityConfirmed.clear()
    this.confirming.clear()
    for (const answer of this.headsRequests.values()) answer(undefined)
    this.headsRequests.clear()
    this.outbox.disconnected()
    if (this.status !== 'error') this.setStatus('offline')
  }

  /** Says `hello` on a socket that opened (the size of the checkpoint held, so the relay proves consistency from it). */
  private async sayHello(ws: WebSocketLike): Promise<void> {
    const token = this.anonymous ? undefined : await this.options.token?.()
    const held = this.checkpoints.held
    const checkpointSize = held && held.relayKeyId === this.trust.pinnedId ? held.size : undefined
    if (this.conn.ws === ws)
      ws.send(
        JSON.stringify({
          type: 'hello',
          v: SYNC_PROTOCOL_VERSION,
          ...(token ? { token } : {}),
          ...(checkpointSize !== undefined ? { checkpointSize } : {}),
        }),
      )
  }

  /** A message on the current socket, tracked so stop() can wait for it: one handled after the app closed the log must not write. */
  private handleMessage(text: string): void {
    const handled: Promise<void> = this.onMessage(text)
      .catch((error: unknown) => {
        if (this.conn.running) throw error // a bug surfaces as before; after stop() the log is closed on purpose
      })
      .finally(() => this.handling.delete(handled))
    this.handling.add(handled)
  }

  private send(message: unknown): void {
    this.conn.send(message)
  }

  private subscribe(keys: string[]): void {
    const streams = keys.map((key) => ({ key, after: this.heads.get(key)?.receipt.eventId ?? null }))
    if (streams.length) this.send({ type: 'subscribe', streams })
  }

  private async onMessage(text: string): Promise<void> {
    let message: ServerMessage
    try {
      const value = parseStrictJson(text)
      // Catch-up is hundreds of `receipts` messages: a hand check accepts them without zod's copy of
      // every delivered entry; anything it does not recognise is zod's to accept or refuse, as before.
      if (isReceiptsMessage(value)) message = value
      else {
        const parsed = ServerMessageSchema.safeParse(value)
        if (!parsed.success)
          throw new PixpaxError('SCHEMA_INVALID', `relay sent a message outside the protocol: ${parsed.error.issues[0]?.message}`)
        message = parsed.data
      }
    } catch (error) {
      const e = error instanceof PixpaxError ? error : new PixpaxError('JSON_INVALID', 'relay sent non-JSON')
      await this.quarantine({ raw: text.slice(0, 10_000), code: e.code, message: e.message })
      return
    }
    switch (message.type) {
      case 'welcome': {
        // Checkpoints that follow wait for the key binding (they are verified under that key).
        const welcomed = this.onWelcome(message.relay, text)
        this.checkpointChain = this.checkpointChain.then(() => welcomed).catch(() => undefined)
        await welcomed
        return
      }
      case 'receipts': {
        // The checkpoint is verified in arrival order; signature checks start as the batch arrives, while
        // earlier batches are still being applied.
        const checkpoint = this.receiveCheckpoint(message.checkpoint)
        const batch = message.receipts as Delivered[]
        // Started now (sliced, so a 500-receipt batch is not one long task), awaited in stream order.
        const ahead = verifyAheadSliced(batch, this.ledger, this.verifier, this.sha256, this.slicer)
        this.unappliedBatches++
        this.updateReading()
        try {
          await this.enqueueDelivery(message.stream, async () => {
            const verified = await checkpoint
            const early = await ahead
            if (!verified) return
            const apply = () => this.applyDelivered(message.stream, batch, early, { checkpoint: verified, proof: message.proof })
            if (!this.deferForWitnesses(message.stream, verified.size, apply)) await apply()
          })
        } finally {
          this.unappliedBatches--
          this.updateReading()
        }
        return
      }
      case 'checkpoint':
        await this.receiveCheckpoint(message.checkpoint)
        return
      case 'caught-up':
        await this.enqueue(message.stream, async () => {
          this.caughtUp.add(message.stream)
          await this.releaseWaiting(message.stream)
          this.updateSynced()
        })
        return
      case 'push-result':
        await this.onPushResult(message.id, message.results)
        return
      case 'notifications':
        for (const n of message.items) {
          if (this.notificationCursor && n.position > (this.notificationCursor.after ?? -1)) this.notificationCursor.after = n.position
          this.emit('notification', n)
        }
        return
      case 'heads': {
        const answer = this.headsRequests.get(message.id)
        this.headsRequests.delete(message.id)
        answer?.(message.heads)
        return
      }
      case 'error':
        if (message.fatal) {
          if (message.code === 'UNAUTHENTICATED') {
            // The session is gone (expired, or its key revoked). Keep going without one: pushing signed
            // receipts needs no session, and public streams still sync; the app sees status 'error'.
            this.anonymous = true
            this.setStatus('error')
          }
          return
        }
        if (message.stream) {
          // A refused subscription is not awaited forever; it is retried once we write to the stream.
          this.caughtUp.add(message.stream)
          this.refused.add(message.stream)
        }
        this.updateSynced()
        return
      default:
        return
    }
  }

  /** Binds the announced relay key to the pin, then subscribes and pushes. */
  private async onWelcome(relay: { publicKeyId: string; publicKey: unknown }, text: string): Promise<void> {
    const ws = this.conn.ws
    let bound: { pin: RelayPin; pinned: boolean }
    try {
      bound = await this.trust.bind(relay)
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      // Halted (durably) before the app hears of it: nothing more from this relay is applied.
      await this.haltRelay('KEY_UNKNOWN', error.message)
      await this.quarantine({ raw: text, code: 'KEY_UNKNOWN', message: error.message })
      return
    }
    if (this.conn.ws !== ws) return
    if (bound.pinned) this.emit('relay-pinned', bound.pin)
    this.relayKey = bound.pin
    this.conn.bound()
    if (!this.anonymous) this.setStatus('syncing')
    // Identity streams first: keys must be known before the receipts they sign.
    const keys = [...this.followed].sort((a, b) => Number(!a.startsWith('identity/')) - Number(!b.startsWith('identity/')))
    this.subscribe(keys)
    if (this.notificationCursor && !this.anonymous) this.send({ type: 'notifications', after: this.notificationCursor.after })
    this.schedule(0)
  }

  /**
   * Verifies a checkpoint after every one that arrived before it. Resolves to the tree it states, or to
   * undefined when it was refused (the client then halts: nothing more from this relay is applied).
   */
  private receiveCheckpoint(message: LogCheckpointMessage): Promise<Checkpoint | undefined> {
    const ws = this.conn.ws
    const result = this.checkpointChain.then(async () => {
      const key = this.relayKey
      if (!key || this.conn.ws !== ws) return undefined // that connection is gone, or its key was refused
      const before = this.checkpoints.held
      let checkpoint: Checkpoint
      try {
        checkpoint = await this.checkpoints.accept(message, key)
      } catch (error) {
        if (!(error instanceof PixpaxError)) throw error
        const details = (error.details ?? {}) as { reason?: string; evidence?: LogEvidence }
        await this.haltRelay('LOG_INCONSISTENT', error.message)
        await this.quarantine({ raw: JSON.stringify(message), code: 'LOG_INCONSISTENT', message: error.message })
        this.emit('log-inconsistent', {
          reason: details.reason ?? 'unknown',
          message: error.message,
          ...(details.evidence ? { evidence: details.evidence } : {}),
        })
        return undefined
      }
      const held = this.checkpoints.held
      if (held && held !== before) {
        this.emit('checkpoint', held)
        if (this.options.cosign) this.cosignInBackground()
      }
      await this.observeWitnesses(message.note, checkpoint.size, key.publicKeyId)
      return checkpoint
    })
    this.checkpointChain = result.catch(() => undefined)
    return result
  }

  // ── witnesses (docs/log.md §11) ───────────────────────────────────────────────────────────────────

  /**
   * With a witness policy, holds a batch back while no witnessed checkpoint covers the one it is proven
   * in (or while earlier batches of its stream are held: order is kept). Returns whether it was held.
   */
  private deferForWitnesses(streamKey: string, size: number, apply: () => Promise<void>): boolean {
    if (!this.witnessGate.required) return false
    const held = this.deferred.get(streamKey)
    if (!held && this.relayKey && this.witnessGate.covers(size, this.relayKey.publicKeyId)) return false
    if (held) held.push({ size, apply })
    else this.deferred.set(streamKey, [{ size, apply }])
    this.emit('awaiting-witnesses', { streamKey, size })
    this.updateSynced()
    return true
  }

  /** Checks an accepted note's cosignatures against the policy; a newly witnessed size releases held batches. */
  private async observeWitnesses(note: string, size: number, relayKeyId: string): Promise<void> {
    let advanced: boolean
    try {
      advanced = await this.witnessGate.observe(note, size, relayKeyId)
    } catch (error) {
      if (!(error instanceof PixpaxError)) throw error
      // A known witness's line that does not verify: not the relay's signature, so no proof the relay lied —
      // the note is not taken as witnessed, and the app sees why.
      await this.quarantine({ raw: note, code: error.code, message: error.message })
      return
    }
    if (!advanced) return
    this.emit('witnessed', this.witnessGate.witnessed!)
    for (const [streamKey, batches] of this.deferred) {
      void this.enqueue(streamKey, async () => {
        while (batches.length > 0 && this.relayKey && this.witnessGate.covers(batches[0]!.size, this.relayKey.publicKeyId)) {
          await batches.shift()!.apply()
        }
        if (batches.length === 0 && this.deferred.get(streamKey) === batches) this.deferred.delete(streamKey)
        this.updateSynced()
      })
    }
  }

  /**
   * Cosigns the newest held checkpoint and hands it to the relay; stop() waits for it. While one is in
   * flight, or within cosignIntervalMs of the last, newer checkpoints only mark that another is due.
   */
  private cosignInBackground(): void {
    if (this.cosigning || this.cosignTimer) {
      this.cosignAgain = true
      return
    }
    const wait = this.lastCosignAt + (this.options.cosignIntervalMs ?? 0) - this.now()
    if (wait > 0) {
      this.cosignTimer = setTimeout(() => {
        this.cosignTimer = undefined
        if (this.conn.running) this.cosignInBackground()
      }, wait)
      return
    }
    const size = this.checkpoints.held?.size ?? 0
    this.cosigning = true
    this.cosignAgain = false
    this.lastCosignAt = this.now()
    const work: Promise<void> = this.cosignCheckpoint()
      .then(
        (result) => this.emit('cosigned', result),
        (error: unknown) => {
          const e = error instanceof PixpaxError ? error : new PixpaxError('UNAVAILABLE', String(error))
          this.emit('cosign-failed', { size, code: e.code, message: e.message })
        },
      )
      .finally(() => {
        this.handling.delete(work)
        this.cosigning = false
        if (this.cosignAgain && this.conn.running && this.checkpoints.held?.size !== size) this.cosignInBackground()
        else this.cosignAgain = false
      })
    this.handling.add(work)
  }

  /** Stops talking to the relay until the app resets its trust (persisted), and says so. */
  private async haltRelay(code: RelayHalt['code'], message: string): Promise<void> {
    const halt = await this.trust.stop(code, message)
    this.conn.halt(code)
    this.setStatus('error')
    this.emit('halted', halt)
  }

  /**
   * Read-ahead of delivered batches: past `readAheadBatches` received and not yet applied, reading from
   * the socket pauses (where it can), so catch-up holds a few batches in memory instead of the stream and
   * the checks of the next batches still overlap the apply of this one. Never while the client waits for
   * an answer from the relay (`heads`): that answer is behind the pause.
   */
  private updateReading(): void {
    // Every batch read ahead stays alive (parsed, checked, awaiting its signatures) across many young-
    // generation collections, so each of them copies all of it: a deep read-ahead costs GC time. Batches
    // verified and still on their way to disk count apart: a slow disk pauses reading too.
    const limit = this.options.readAheadBatches ?? READ_AHEAD_BATCHES
    const behind = this.unappliedBatches >= limit || this.logWriter.pending >= limit
    this.conn.readPaused = behind && this.headsRequests.size === 0
  }

  /**
   * Serializes work per stream, so batches apply in the order they arrived. Work enqueued here also
   * waits until every verified batch before it is in the local log: it reads the log back (acks, held
   * receipts) or tells the app the stream is caught up.
   */
  private enqueue(streamKey: string, work: () => Promise<void>): Promise<void> {
    return this.enqueueDelivery(streamKey, async () => {
      await this.logWriter.idle()
      await work()
    })
  }

  /** The stream's queue without waiting for the log writer: verifying a batch while the one before is made durable. */
  private enqueueDelivery(streamKey: string, work: () => Promise<void>): Promise<void> {
    const next = (this.streamQueues.get(streamKey) ?? Promise.resolve()).then(work, work)
    this.streamQueues.set(streamKey, next)
    return next
  }

  // ── verification of what the relay delivers ───────────────────────────────────────────────────────

  private async applyDelivered(
    streamKey: string,
    batch: Delivered[],
    early: Array<Early | undefined> = [],
    proven?: BatchProof,
  ): Promise<void> {
    if (this.poisoned.has(streamKey) || this.trust.halt || this.logWriter.failed) return
    // The whole batch first: consecutive seqs from our head on, every leaf in the checkpoint's tree at
    // its position. Nothing of a batch that fails is applied.
    if (proven) {
      try {
        // Batches queued behind one waiting for its issuer's identity follow that queue, not our head:
        // the second of two catch-up batches (a stream over 500 receipts) must not look like a gap.
        const queued = this.waiting.get(streamKey)?.batches.at(-1)?.at(-1)
        checkBatchSeqs(queued?.seq ?? this.heads.get(streamKey)?.seq ?? 0, batch)
        verifyDeliveryProof(this.sha256, streamKey, batch, proven.checkpoint, proven.proof)
      } catch (error) {
        if (!(error instanceof PixpaxError)) throw error
        const summary = { stream: streamKey, receipts: batch.map((d) => ({ seq: d.seq, position: d.position })), proof: proven.proof }
        await this.poison(streamKey, JSON.stringify(summary).slice(0, 100_000), error.code, error.message)
        return
      }
    }
    const waiting = this.waiting.get(streamKey)
    if (waiting) {
      waiting.batches.push(batch)
      return
    }
    let ready = await completeAhead(batch, early, this.ledger, this.verifier, this.sha256, this.slicer)
    const verified: LoggedReceipt[] = []
    try {
      for (const [i, d] of batch.entries()) {
        await this.slicer.pause() // the page stays responsive through a long catch-up
        if (keyArrived(ready[i], this.ledger))
          ready = await completeAhead(batch, ready, this.ledger, this.verifier, this.sha256, this.slicer, i)
        const outcome = await this.applyOne(streamKey, d, ready[i])
        if (outcome === 'wait') {
          const rest = batch.slice(i)
          const entry = this.waiting.get(streamKey)
          if (entry) entry.batches.unshift(rest)
          return
        }
        if (outcome === 'stop') return
        if (outcome !== 'ok') verified.push(outcome)
      }
    } finally {
      this.logVerified(verified)
    }
  }

  /**
   * Hands a verified batch to the log writer: one durable append per delivered batch (IndexedDB and
   * fsync both reward batches), then events, in order, while the next batch is verified. A failed write
   * is the app's `log-failed` event; nothing more is applied until the client is reopened.
   */
  private logVerified(verified: LoggedReceipt[]): void {
    if (verified.length === 0) return
    const written = this.logWriter.write(() => this.writeVerified(verified))
    this.updateReading()
    const handled: Promise<void> = written
      .catch((error: unknown) => {
        // Every later write rejects with the first failure, unrun: the app hears of it once.
        if (error !== this.logWriter.failure || this.logFailureTold) return
        this.logFailureTold = true
        this.setStatus('error')
        this.emit('log-failed', { message: error instanceof Error ? error.message : String(error), error })
      })
      .finally(() => {
        this.handling.delete(handled)
        this.updateReading()
        this.updateSynced()
      })
    this.handling.add(handled)
  }

  /**
   * Logs a verified batch, then tells the app. Our own receipts are logged with the ack the relay signed
   * when it accepted them — if it names the same place in the log the delivery proved.
   */
  private async writeVerified(verified: LoggedReceipt[]): Promise<void> {
    const mine = new Map(this.outbox.entries.map((e) => [e.receipt.hash, e]))
    for (const logged of verified) {
      const ack = mine.get(logged.receipt.hash)?.ack
      if (!ack) continue
      if (ack.seq === logged.seq && ack.position === logged.position) logged.ack = ack
      else
        await this.quarantine({
          streamKey: logged.streamKey,
          eventId: logged.receipt.eventId,
          raw: JSON.stringify(ack),
          code: 'LOG_INCONSISTENT',
          message: `the relay acked seq ${ack.seq} at position ${ack.position}, its log has seq ${logged.seq} at ${logged.position}`,
        })
    }
    await this.options.log.append(verified)
    this.loggedSinceSnapshot += verified.length
    for (const key of new Set(verified.map((v) => v.streamKey))) this.headWaiters.wake(key)
    for (const logged of verified) {
      this.emit('receipt', logged)
      const entry = mine.get(logged.receipt.hash)
      if (entry) await this.outbox.transition(entry, 'delivered')
    }
  }

  /** Verifies one delivered receipt in order (delivery.ts); returns what to log, or 'ok' (already held), 'wait', 'stop'. */
  private async applyOne(streamKey: string, d: Delivered, early?: Early): Promise<LoggedReceipt | 'ok' | 'wait' | 'stop'> {
    const verdict = await verifyDelivered(
      {
        // The log writer may still hold the receipt at that seq: read it once it is written.
        readLogged: async (key, seq) => {
          await this.logWriter.idle()
          return (await this.options.log.read(key, seq - 1, 1))[0]
        },
        ledger: this.ledger,
        head: this.heads.get(streamKey),
        verifier: this.verifier,
        sha256: this.sha256,
        trust: this.options.trust ?? {},
      },
      streamKey,
      d,
      early,
    )
    if (verdict.kind === 'held') return 'ok'
    if (verdict.kind === 'verified') {
      this.heads.set(streamKey, verdict.logged)
      return verdict.logged
    }
    if (verdict.code === 'KEY_UNKNOWN') {
      const identity = `identity/${(d.receipt as Receipt).issuer?.identityId}`
      if (/^identity\/[A-Za-z0-9_-]{1,64}$/.test(identity)) {
        // Maybe we just don't follow the issuer's identity stream yet: follow it and wait for it.
        if (!this.caughtUp.has(identity)) {
          this.waiting.set(streamKey, { identity, batches: [] })
          if (!this.followed.has(identity)) this.follow(identity)
          return 'wait'
        }
        // Or its receipt adding the key is on its way: the relay's pumps deliver streams concurrently,
        // so a new identity's IDENTITY_CREATED may arrive after a receipt it signed. Ask the relay for
        // the identity's head and wait until it is applied (once per identity head).
        const localSeq = this.heads.get(identity)?.seq ?? 0
        if (this.identityConfirmed.get(identity) !== localSeq) {
          this.waiting.set(streamKey, { identity, batches: [] })
          void this.confirmIdentityHead(identity)
          return 'wait'
        }
      }
    }
    return this.poison(streamKey, JSON.stringify(d), verdict.code, verdict.message)
  }

  /**
   * Asks the relay for an identity stream's head, waits (at most 10 s) until the local log has it, then
   * releases what waited for that identity. A lying answer only delays: every receipt is still verified.
   */
  private async confirmIdentityHead(identity: string): Promise<void> {
    if (this.confirming.has(identity)) return
    this.confirming.add(identity)
    const ws = this.conn.ws
    try {
      const id = `heads-${++this.requestSeq}`
      const answered = new Promise<Record<string, { seq: number } | null> | undefined>((resolve) => this.headsRequests.set(id, resolve))
      this.send({ type: 'heads', id, streams: [identity] })
      const heads = await answered
      if (this.conn.ws !== ws || !heads) return // disconnected: the waiting receipts are delivered again
      await this.headWaiters.when(identity, heads[identity]?.seq ?? 0, 10_000, this.conn.ws !== undefined)
      if (this.conn.ws !== ws) return
      this.identityConfirmed.set(identity, this.heads.get(identity)?.seq ?? 0)
      await this.enqueue(identity, () => this.releaseWaiting(identity))
      this.updateSynced()
    } finally {
      this.confirming.delete(identity)
    }
  }

  /**
   * Keeps a verified ack with our receipt already in the local log (`LocalLog.setAck`) — if it names the
   * seq and position the delivery proved; else the relay said two things about one receipt, quarantined.
   */
  private async storeAck(logged: LoggedReceipt, ack: Ack): Promise<void> {
    if (logged.ack !== undefined) return
    if (ack.seq === logged.seq && ack.position === logged.position) {
      await this.options.log.setAck(logged.streamKey, logged.seq, ack)
      if (this.heads.get(logged.streamKey)?.seq === logged.seq) this.heads.set(logged.streamKey, { ...logged, ack })
      return
    }
    await this.quarantine({
      streamKey: logged.streamKey,
      eventId: logged.receipt.eventId,
      raw: JSON.stringify(ack),
      code: 'LOG_INCONSISTENT',
      message: `the relay acked seq ${ack.seq} at position ${ack.position}, its log has seq ${logged.seq} at ${logged.position}`,
    })
  }

  private async loggedAt(streamKey: string, seq: number, hash: string): Promise<LoggedReceipt | undefined> {
    if ((this.heads.get(streamKey)?.seq ?? 0) < seq) return undefined
    const [logged] = await this.options.log.read(streamKey, seq - 1, 1)
    return logged?.receipt.hash === hash ? logged : undefined
  }

  private async releaseWaiting(identityStream: string): Promise<void> {
    for (const [streamKey, entry] of [...this.waiting]) {
      if (entry.identity !== identityStream) continue
      this.waiting.delete(streamKey)
      // Not synced meanwhile: the batches are neither waiting nor applied while they wait for their turn.
      this.releasing++
      try {
        await this.enqueue(streamKey, async () => {
          for (const batch of entry.batches) await this.applyDelivered(streamKey, batch)
        })
      } finally {
        this.releasing--
      }
    }
  }

  private async poison(streamKey: string, raw: string, code: string, message: string): Promise<'stop'> {
    this.poisoned.add(streamKey)
    await this.quarantine({ streamKey, raw, code, message })
    return 'stop'
  }

  /**
   * Keeps what failed verification, once: a relay that sends the same refused delivery again after every
   * reconnect (the stream is retried from its head) adds nothing new to the evidence or the app's list.
   */
  private async quarantine(entry: Omit<QuarantineEntry, 'id' | 'at'>): Promise<void> {
    const full: QuarantineEntry = { id: `${this.now()}-${Math.floor(this.random() * 1e9)}`, at: this.now(), ...entry }
    if (!isErrorCode(full.code)) full.code = 'SCHEMA_INVALID'
    const known = await this.options.log.listQuarantine()
    if (known.some((q) => q.streamKey === full.streamKey && q.code === full.code && q.raw === full.raw)) return
    await this.options.log.addQuarantine(full)
    this.emit('quarantine', full)
  }

  private updateSynced(): void {
    if (this.status !== 'syncing' && this.status !== 'synced' && !(this.status === 'error' && this.conn.ws)) return
    const everyStream = [...this.followed].every((k) => (this.caughtUp.has(k) && !this.deferred.has(k)) || this.poisoned.has(k))
    const outboxDone = this.outbox.settled && this.outbox.pushesInFlight === 0 && this.answering === 0
    const applied = this.waiting.size === 0 && this.releasing === 0 && this.logWriter.pending === 0
    this.setStatus(everyStream && outboxDone && applied ? 'synced' : 'syncing')
    if (this.status === 'synced' && this.loggedSinceSnapshot >= SNAPSHOT_EVERY) void this.saveSnapshot()
  }

  // ── the outbox ────────────────────────────────────────────────────────────────────────────────────

  private schedule(delayMs: number): void {
    if (!this.conn.running) return
    setTimeout(() => void this.pushDue(), Math.max(0, delayMs))
  }

  private async pushDue(): Promise<void> {
    if (!this.conn.open || !this.relayKey) return
    const now = this.now()
    const batch = this.outbox.due(now, this.options.pushBatch ?? 100)
    if (batch.length === 0) {
      const next = this.outbox.nextAttemptAt()
      if (Number.isFinite(next)) this.schedule(next - now)
      this.updateSynced()
      return
    }
    const id = await this.outbox.send(batch)
    this.send({ type: 'push', id, receipts: batch.map((e) => e.receipt) })
  }

  private async onPushResult(
    id: string,
    results: Array<{
      ok: boolean
      ack?: Ack
      position?: number
      error?: { code: string; message: string; details?: Record<string, unknown> }
    }>,
  ): Promise<void> {
    const batch = this.outbox.answered(id)
    if (!batch) return
    // Until this answer is handled — its acks stored with receipts already delivered — the client is not
    // `synced`: a delivery of our own receipt can arrive (and end its outbox entry) before the answer.
    this.answering++
    try {
      await this.handlePushResult(batch, results)
    } finally {
      this.answering--
      this.updateSynced()
    }
  }

  private async handlePushResult(batch: OutboxEntry[], results: Parameters<SyncClient['onPushResult']>[1]): Promise<void> {
    const rebase = new Map<string, number>()
    for (const [i, entry] of batch.entries()) {
      const result = results[i]
      if (!result) {
        await this.outbox.transition(entry, 'retryable')
        continue
      }
      if (result.ok && result.ack) {
        try {
          await verifyAck(
            this.relayKey,
            this.verifier,
            result.ack,
            entry.streamKey,
            result.ack.seq,
            entry.receipt,
            result.position ?? result.ack.position,
          )
        } catch (error) {
          await this.quarantine({
            streamKey: entry.streamKey,
            eventId: entry.receipt.eventId,
            raw: JSON.stringify(result),
            code: (error as PixpaxError).code ?? 'SIGNATURE_INVALID',
            message: (error as Error).message,
          })
          await this.outbox.transition(entry, 'retryable')
          continue
        }
        entry.ack = result.ack // stored by the transition; logged with the receipt when it is delivered
        await this.outbox.transition(entry, 'acked')
        this.emit('acked', entry)
        // Already delivered to us — the relay usually delivers our own receipt before it answers the push,
        // and a resend after a crash finds it logged: nothing more will arrive for it, so the ack is stored
        // with the logged receipt now (if it names the place the delivery proved).
        // In the stream's queue: a delivery of it being applied right now is logged before we look.
        const ack = result.ack
        await this.enqueue(entry.streamKey, async () => {
          const logged = await this.loggedAt(entry.streamKey, ack.seq, entry.receipt.hash)
          if (!logged) return
          await this.storeAck(logged, ack)
          await this.outbox.transition(entry, 'delivered')
        })
        if (this.refused.delete(entry.streamKey)) {
          // We just created (or joined) it: now we may read it.
          this.caughtUp.delete(entry.streamKey)
          this.subscribe([entry.streamKey])
        }
        continue
      }
      const code = result.error?.code ?? 'INTERNAL'
      if (REBASE.has(code)) {
        const headSeq = Number((result.error?.details?.head as { seq?: number } | undefined)?.seq ?? 0)
        rebase.set(entry.streamKey, Math.max(rebase.get(entry.streamKey) ?? 0, headSeq))
        await this.outbox.transition(entry, 'conflict')
      } else if (RETRYABLE.has(code)) {
        await this.outbox.transition(entry, 'retryable')
      } else {
        entry.error = { code, message: result.error?.message ?? code, ...(result.error?.details ? { details: result.error.details } : {}) }
        await this.outbox.transition(entry, 'rejected')
        this.emit('rejected', entry)
        rebase.set(entry.streamKey, Math.max(rebase.get(entry.streamKey) ?? 0, this.heads.get(entry.streamKey)?.seq ?? 0))
      }
    }
    for (const [streamKey, headSeq] of rebase) await this.rebaseWhenCaughtUp(streamKey, headSeq)
    this.schedule(0)
  }

  /** Waits (at most 10 s) until the local log has the relay's head, then rebuilds pending receipts on it. */
  private async rebaseWhenCaughtUp(streamKey: string, headSeq: number): Promise<void> {
    await this.headWaiters.when(streamKey, headSeq, 10_000, this.conn.ws !== undefined)
    await this.enqueue(streamKey, () => this.rebase(streamKey))
  }

  private async rebase(streamKey: string): Promise<void> {
    const pending = this.outbox.unanswered(streamKey)
    if (pending.length === 0) return
    const head = this.heads.get(streamKey)
    const rebuilt = await rebuildOnHead(
      pending,
      head ? { eventId: head.receipt.eventId, hash: head.receipt.hash } : null,
      (r, prev) =>
        buildReceipt({
          stream: r.stream,
          type: r.type,
          payload: r.payload,
          identityId: this.options.identityId,
          signer: this.options.signer,
          prev,
          idempotencyKey: r.idempotencyKey,
          sha256: this.sha256,
          now: this.now,
        }),
      (entry) => this.options.log.putOutbox(entry),
      this.now,
    )
    if (rebuilt.length) this.emit('conflict', { streamKey, rebased: rebuilt.map((e) => e.id) })
  }
}
