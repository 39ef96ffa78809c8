/**
 * One sync connection: the protocol state machine of docs/sync-protocol.md. Subscriptions deliver each
 * stream through a single "pump" that sends everything past the stream's cursor, in seq order, one
 * batch in flight at a time: catch-up and live delivery are the same loop, so there are no gaps and no
 * duplicates, also when notices arrive mid-catch-up or twice. A batch not taken by the socket within
 * SLOW_CONSUMER_MS, or a socket buffer over MAX_BUFFERED_BYTES, disconnects the client with
 * SLOW_CONSUMER: the relay's memory per connection stays bounded.
 */
import {
  ClientMessageSchema,
  parseStreamKey,
  parseStrictJson,
  PixpaxError,
  SYNC_CLOSE,
  SYNC_PROTOCOL_VERSION,
  type ClientMessage,
  type ServerMessage,
} from '@pixpax/shared'
import type { FastifyRequest } from 'fastify'
import { isPublicStream, mayRead } from '../auth/read-access.js'
import { ApiError } from '../errors.js'
import type { WebSocket } from 'ws'
import type { RelayContext } from '../app.js'
import type { CheckpointRow, LogProofs } from '../log/log-proofs.js'
import type { CheckpointFeed } from './checkpoint-feed.js'
import type { NoticeRouter } from './notice-router.js'
import { readDeliveryRows } from '../domains/streams/stream-reads.js'
import { LiveNotifications } from '../domains/notifications/live.js'
import { tailCaughtUp } from '../projection/tail-freshness.js'

export const SYNC_LIMITS = {
  maxMessageBytes: 1024 * 1024,
  maxReceiptsPerMessage: 500,
  heartbeatMs: 15_000,
}
const SLOW_CONSUMER_MS = 10_000
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

type State = 'awaiting-hello' | 'open' | 'closed'
type MessageType = ClientMessage['type']

/**
 * What each message does in each state. `Record<State, Record<MessageType, …>>`: a missing cell is a
 * compile error, so every (state, message) pair has a decided outcome.
 */
const TRANSITIONS: Record<State, Record<MessageType, 'handle' | 'reject' | 'ignore'>> = {
  'awaiting-hello': {
    hello: 'handle',
    subscribe: 'reject',
    unsubscribe: 'reject',
    push: 'reject',
    heads: 'reject',
    ping: 'handle',
    notifications: 'reject',
  },
  open: {
    hello: 'reject',
    subscribe: 'handle',
    unsubscribe: 'handle',
    push: 'handle',
    heads: 'handle',
    ping: 'handle',
    notifications: 'handle',
  },
  closed: {
    hello: 'ignore',
    subscribe: 'ignore',
    unsubscribe: 'ignore',
    push: 'ignore',
    heads: 'ignore',
    ping: 'ignore',
    notifications: 'ignore',
  },
}

interface Subscription {
  key: string
  sentSeq: number
  pumping: boolean
  dirty: boolean
  caughtUp: boolean
}

/**
 * A batch of receipts ready to embed in a `receipts` message — canonical bytes, seqs and positions — with
 * the checkpoint it was read under and the multi-leaf inclusion proof of its leaves in that tree. Empty
 * (no checkpoint needed) when nothing is past the cursor.
 */
export interface DeliveryBatch {
  items: Array<{ seq: number; position: number; receipt: string }>
  checkpoint: CheckpointRow | undefined
  proof: string[]
}

export class SyncSession {
  private state: State = 'awaiting-hello'
  private session: { identityId: string } | undefined
  private readonly subscriptions = new Map<string, Subscription>()
  /** Live notifications of the session's identity, once the client asked for them. */
  private notifications: LiveNotifications | undefined
  private alive = true
  private inbox: Promise<void> = Promise.resolve()
  private readonly heartbeat: NodeJS.Timeout
  /** What stops each stream's notices reaching this session (its subscriptions and its notifications). */
  private readonly watching = new Map<string, () => void>()
  private readonly unsubscribeReconnect: () => void
  private readonly unsubscribeCheckpoints: () => void
  /**
   * The checkpoint this connection last carried (or the size the client said it holds, note unknown).
   * Every checkpoint sent is ≥ it and proven consistent with it, so the client's view only ever grows.
   */
  private sent: { size: number; note: string | undefined } = { size: 0, note: undefined }
  /** Messages carrying a checkpoint go out one at a time, in checkpoint order. */
  private outgoing: Promise<void> = Promise.resolve()

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly relay: RelayContext,
    private readonly log: { proofs: LogProofs; feed: CheckpointFeed; notices: NoticeRouter },
  ) {
    // One message at a time, in arrival order: a subscribe right behind a hello sees the session.
    socket.on('message', (data, isBinary) => {
      this.inbox = this.inbox.then(() => this.onMessage(data as Buffer, isBinary))
    })
    socket.on('pong', () => (this.alive = true))
    socket.on('close', () => this.close())
    socket.on('error', () => this.close())
    this.heartbeat = setInterval(() => {
      if (!this.alive) {
        socket.terminate()
        return
      }
      this.alive = false
      socket.ping()
    }, SYNC_LIMITS.heartbeatMs)
    this.heartbeat.unref()
    // Notices of the streams this session follows only (NoticeRouter), and every reconnect notice.
    this.unsubscribeReconnect = log.notices.onReconnect(() => {
      for (const sub of this.subscriptions.values()) void this.pump(sub)
      void this.notifications?.pump()
    })
    this.unsubscribeCheckpoints = log.feed.subscribe((checkpoint) => {
      if (this.state === 'open') void this.sendCheckpoint(checkpoint)
    })
  }

  private isClosed(): boolean {
    return this.state === 'closed'
  }

  private close(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    clearInterval(this.heartbeat)
    this.unsubscribeReconnect()
    for (const stop of this.watching.values()) stop()
    this.watching.clear()
    this.unsubscribeCheckpoints()
    this.subscriptions.clear()
    this.notifications?.close()
  }

  private send(message: ServerMessage | string): Promise<void> {
    if (this.state === 'closed') return Promise.resolve()
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.slowConsumer()
      return Promise.resolve()
    }
    const text = typeof message === 'string' ? message : JSON.stringify(message)
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.slowConsumer()
        resolve()
      }, SLOW_CONSUMER_MS)
      this.socket.send(text, () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  private slowConsumer(): void {
    if (this.state === 'closed') return
    const error: ServerMessage = {
      type: 'error',
      code: 'SLOW_CONSUMER',
      message: 'the client did not read fast enough; reconnect and resume from your cursors',
      fatal: true,
    }
    // The socket's buffer is full, so this may never arrive: the close code says it too.
    this.socket.send(JSON.stringify(error))
    this.socket.close(SYNC_CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER')
    setTimeout(() => this.socket.terminate(), 1000).unref()
    this.close()
  }

  private fail(
    code: PixpaxError['code'],
    message: string,
    options: { id?: string; stream?: string; fatal?: boolean; details?: Record<string, unknown> } = {},
  ): Promise<void> {
    const fatal = options.fatal ?? false
    const sent = this.send({
      type: 'error',
      code,
      message,
      fatal,
      ...(options.id ? { id: options.id } : {}),
      ...(options.stream ? { stream: options.stream } : {}),
      ...(options.details ? { details: options.details } : {}),
    })
    if (fatal) {
      void sent.then(() => this.socket.close(code === 'UNAUTHENTICATED' ? SYNC_CLOSE.UNAUTHENTICATED : SYNC_CLOSE.PROTOCOL, code))
      this.close()
    }
    return sent
  }

  private async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.state === 'closed') return
    let message: ClientMessage
    try {
      if (isBinary) throw new PixpaxError('PROTOCOL_ERROR', 'binary frames are not part of the protocol; send JSON text')
      const parsed = ClientMessageSchema.safeParse(parseStrictJson(data.toString('utf8')))
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!
        throw new PixpaxError('PROTOCOL_ERROR', `not a protocol message: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
      }
      message = parsed.data
    } catch (error) {
      const e = error instanceof PixpaxError ? error : new PixpaxError('JSON_INVALID', 'not JSON')
      await this.fail(e.code, e.message)
      return
    }
    const action = TRANSITIONS[this.state][message.type]
    if (action === 'ignore') return
    if (action === 'reject') {
      await this.fail('PROTOCOL_ERROR', `${message.type} is not allowed ${this.state === 'awaiting-hello' ? 'before hello' : 'now'}`, {
        ...('id' in message && message.id ? { id: message.id } : {}),
        fatal: this.state === 'awaiting-hello',
      })
      return
    }
    try {
      await this.handle(message)
    } catch (error) {
      const id = 'id' in message ? message.id : undefined
      const e = ApiError.from(error)
      if (e.code === 'INTERNAL') this.request.log.error({ err: error }, 'sync message failed')
      await this.fail(e.code, e.status >= 500 ? 'internal error' : e.message, {
        ...(id ? { id } : {}),
        ...(e.details && e.status < 500 ? { details: e.details } : {}),
      })
    }
  }

  private async handle(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'hello': {
        if (message.v !== SYNC_PROTOCOL_VERSION) {
          await this.fail('PROTOCOL_ERROR', `protocol version ${message.v} is not supported (only ${SYNC_PROTOCOL_VERSION})`, {
            fatal: true,
            details: { supported: [SYNC_PROTOCOL_VERSION] },
          })
          return
        }
        const session = message.token ? await this.relay.sessionForToken?.(message.token) : undefined
        this.session = session
        this.sent = { size: message.checkpointSize ?? 0, note: undefined }
        if (message.token && !session) {
          await this.fail('UNAUTHENTICATED', 'the session token is unknown or expired', { fatal: true })
          return
        }
        this.state = 'open'
        await this.send({
          type: 'welcome',
          v: SYNC_PROTOCOL_VERSION,
          relay: {
            identityId: this.relay.config.RELAY_IDENTITY_ID,
            publicKeyId: this.relay.relaySigner.publicKeyId,
            publicKey: this.relay.relaySigner.publicKey,
          },
          session: session ? { identityId: session.identityId } : null,
          limits: SYNC_LIMITS,
        })
        // The newest checkpoint right away — also when it is the size the client holds, so a client shown
        // another tree of that size (a fork) notices before anything is delivered.
        const checkpoint = await this.log.proofs.latest()
        if (checkpoint) await this.sendCheckpoint(checkpoint, true)
        return
      }
      case 'ping':
        await this.send({ type: 'pong', ...(message.id ? { id: message.id } : {}) })
        return
      case 'notifications': {
        if (!this.session) throw new ApiError('UNAUTHENTICATED', "notifications are a session's: send a session token in hello")
        if (!this.notifications) {
          const live = new LiveNotifications(
            this.relay.db,
            this.session.identityId,
            (m) => this.send(m),
            async () => void (await tailCaughtUp(this.relay, 'notifications')),
          )
          this.notifications = live
          this.watch(live.noticeStream, () => void live.pump())
        }
        await this.notifications.start(message.after ?? null, message.id)
        return
      }
      case 'push': {
        const results = await this.relay.ingestor.ingest(message.receipts)
        for (const r of results) if (!r.ok) this.relay.metrics.receiptsRejected.inc({ code: r.error.code })
        await this.send({ type: 'push-result', id: message.id, results })
        return
      }
      case 'heads': {
        const rows = await this.relay.db.query<{ stream_key: string; seq: number; head_event_id: string; head_hash: string }>(
          'SELECT stream_key, seq, head_event_id, head_hash FROM streams WHERE stream_key = ANY($1::text[])',
          [message.streams],
        )
        const heads: Record<string, { seq: number; eventId: string; hash: string } | null> = {}
        for (const key of message.streams) {
          await this.authorize(key)
          heads[key] = null
        }
        for (const r of rows.rows) heads[r.stream_key] = { seq: r.seq, eventId: r.head_event_id, hash: r.head_hash }
        await this.send({ type: 'heads', id: message.id, heads })
        return
      }
      case 'unsubscribe':
        for (const key of message.streams) {
          this.subscriptions.delete(key)
          this.unwatch(key)
        }
        await this.send({ type: 'unsubscribed', ...(message.id ? { id: message.id } : {}), streams: message.streams })
        return
      case 'subscribe': {
        const added: Subscription[] = []
        for (const { key, after } of message.streams) {
          // A stream this session may not read is refused on its own (error with `stream`); the others
          // in the same message still subscribe.
          try {
            await this.authorize(key)
          } catch (error) {
            const e = ApiError.from(error)
            await this.fail(e.code, e.message, { ...(message.id ? { id: message.id } : {}), stream: key })
            continue
          }
          let sentSeq = 0
          if (after) {
            const row = await this.relay.db.query<{ seq: number }>('SELECT seq FROM receipts WHERE stream_key = $1 AND event_id = $2', [
              key,
              after,
            ])
            if (!row.rows[0]) {
              throw new PixpaxError(
                'CHAIN_BROKEN',
                `cursor ${after} is not a receipt of ${key}; resubscribe from an eventId you received, or from the start`,
                { stream: key },
              )
            }
            sentSeq = row.rows[0].seq
          }
          const sub: Subscription = { key, sentSeq, pumping: false, dirty: false, caughtUp: false }
          this.subscriptions.set(key, sub)
          this.watch(key, (notice) => {
            const current = this.subscriptions.get(key)
            if (current && notice.seq > current.sentSeq) void this.pump(current)
          })
          added.push(sub)
        }
        await this.send({ type: 'subscribed', ...(message.id ? { id: message.id } : {}), streams: added.map((s) => s.key) })
        for (const sub of added) void this.pump(sub)
        return
      }
    }
  }

  /** Follows `stream`'s commit notices (once per stream, whatever the number of subscribes). */
  private watch(stream: string, handler: (notice: { stream: string; seq: number }) => void): void {
    if (this.state === 'closed' || this.watching.has(stream)) return
    this.watching.set(stream, this.log.notices.watch(stream, handler))
  }

  private unwatch(stream: string): void {
    this.watching.get(stream)?.()
    this.watching.delete(stream)
  }

  /** The same read rules as HTTP (auth/read-access.ts), for the session established at hello. */
  private async authorize(streamKey: string): Promise<void> {
    try {
      parseStreamKey(streamKey)
    } catch (e) {
      throw new PixpaxError('SCHEMA_INVALID', (e as Error).message, { stream: streamKey })
    }
    if (isPublicStream(streamKey)) return
    if (!this.session) throw new ApiError('UNAUTHENTICATED', `stream ${streamKey} is private: send a session token in hello`)
    if (!(await mayRead(this.relay.db, this.session.identityId, streamKey))) {
      throw new ApiError('FORBIDDEN', `identity ${this.session.identityId} may not read ${streamKey}`)
    }
  }

  /** Sends everything of `sub`'s stream past its cursor; re-runs while notices arrive meanwhile. */
  private async pump(sub: Subscription): Promise<void> {
    if (sub.pumping) {
      sub.dirty = true
      return
    }
    sub.pumping = true
    try {
      do {
        sub.dirty = false
        for (;;) {
          if (this.state === 'closed' || this.subscriptions.get(sub.key) !== sub) return
          const batch = await this.relay.sharedReads.read(sub.key, sub.sentSeq, () => this.readBatch(sub.key, sub.sentSeq))
          if (batch.items.length === 0) break
          await this.sendBatch(sub.key, batch)
          sub.sentSeq = batch.items[batch.items.length - 1]!.seq
        }
        if (!sub.caughtUp && !this.isClosed()) {
          sub.caughtUp = true
          const head = await this.relay.db.query<{ seq: number; head_event_id: string; head_hash: string }>(
            'SELECT seq, head_event_id, head_hash FROM streams WHERE stream_key = $1',
            [sub.key],
          )
          const h = head.rows[0]
          await this.send({
            type: 'caught-up',
            stream: sub.key,
            head: h ? { seq: h.seq, eventId: h.head_event_id, hash: h.head_hash } : null,
          })
        }
      } while (sub.dirty)
    } catch (error) {
      this.request.log.error({ err: error, stream: sub.key }, 'sync delivery failed')
      await this.fail('UNAVAILABLE', `delivery of ${sub.key} failed; resubscribe from your cursor`, { stream: sub.key })
      if (this.subscriptions.get(sub.key) === sub) {
        this.subscriptions.delete(sub.key)
        this.unwatch(sub.key)
      }
    } finally {
      sub.pumping = false
    }
  }

  /**
   * Up to maxReceiptsPerMessage receipts after `afterSeq` that the stored checkpoint covers, plus that
   * checkpoint and the inclusion proof of their leaves in it (domains/streams/stream-reads.ts). Checkpoints only grow and
   * receipts below one never change, so reading the checkpoint and the receipts under it is consistent.
   */
  private async readBatch(streamKey: string, afterSeq: number): Promise<DeliveryBatch> {
    const { checkpoint, items } = await readDeliveryRows(this.relay.db, streamKey, afterSeq, SYNC_LIMITS.maxReceiptsPerMessage)
    if (!checkpoint || items.length === 0) return { items, checkpoint, proof: [] }
    const proof = await this.log.proofs.inclusion(
      items.map((i) => i.position),
      checkpoint.size,
    )
    return { items, checkpoint, proof }
  }

  /**
   * Sends a batch with its checkpoint. Pumps of several streams run at once, so a batch read under an
   * older checkpoint than this connection already carried is proven again under that newer one: the
   * client is never shown a smaller tree than before (that would be a rollback).
   */
  private sendBatch(streamKey: string, batch: DeliveryBatch): Promise<void> {
    return this.inOrder(async () => {
      let { checkpoint, proof } = batch
      if (!checkpoint) return
      if (checkpoint.size < this.sent.size && this.sent.note !== undefined) {
        checkpoint = { size: this.sent.size, note: this.sent.note }
        proof = await this.log.proofs.inclusion(
          batch.items.map((i) => i.position),
          checkpoint.size,
        )
      }
      const body = batch.items.map((r) => `{"seq":${r.seq},"position":${r.position},"receipt":${r.receipt}}`).join(',')
      const carried = JSON.stringify(await this.carry(checkpoint))
      await this.send(
        `{"type":"receipts","stream":${JSON.stringify(streamKey)},"receipts":[${body}],"checkpoint":${carried},"proof":${JSON.stringify(proof)}}`,
      )
    })
  }

  /** Tells the client the log grew, or its checkpoint got cosignatures (the feed calls this). */
  private sendCheckpoint(checkpoint: CheckpointRow, evenIfSame = false): Promise<void> {
    return this.inOrder(async () => {
      // The same size is sent again when asked (welcome) or when it carries more cosignatures than the note
      // last carried (witnesses, docs/log.md §11); never a smaller one.
      if (checkpoint.size < this.sent.size) return
      if (
        checkpoint.size === this.sent.size &&
        !evenIfSame &&
        (this.sent.note === undefined || checkpoint.note.length <= this.sent.note.length)
      )
        return
      await this.send({ type: 'checkpoint', checkpoint: await this.carry(checkpoint) })
    })
  }

  /** The checkpoint as a message carries it: with a consistency proof from the last one carried, if it grew. */
  private async carry(checkpoint: CheckpointRow): Promise<{ note: string; consistency?: { from: number; hashes: string[] } }> {
    const from = this.sent.size
    if (checkpoint.size > from) {
      const hashes = from > 0 ? await this.log.proofs.consistency(from, checkpoint.size) : undefined
      this.sent = { size: checkpoint.size, note: checkpoint.note }
      return hashes ? { note: checkpoint.note, consistency: { from, hashes } } : { note: checkpoint.note }
    }
    // The same size as the client said it holds: now the note is known. (Smaller than the client's: sent as
    // it is — the client will see a rollback.)
    if (checkpoint.size === from) this.sent = { size: from, note: checkpoint.note }
    return { note: checkpoint.note }
  }

  private inOrder(work: () => Promise<void>): Promise<void> {
    const next = this.outgoing.then(work)
    this.outgoing = next.catch((error: unknown) => {
      this.request.log.error({ err: error }, 'sending a checkpoint failed')
    })
    return next
  }
}
