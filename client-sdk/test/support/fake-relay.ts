/**
 * An in-process relay behind a fake WebSocket, for unit tests of the SyncClient without a server: it speaks
 * the real protocol with real objects — a relay key, an acceptance log (RFC 9162 tree over the real leaves),
 * signed checkpoints, multi-leaf inclusion proofs, consistency proofs, signed acks — and lets a test hold
 * deliveries back to order events precisely.
 */
import {
  base64Encode,
  canonicalBytes,
  consistencyProof,
  EMPTY_TREE,
  formatSignature,
  generatePrivateJwk,
  hashAtFromTiles,
  integrate,
  leafData,
  multiInclusionProof,
  signCheckpoint,
  streamKey as streamKeyOf,
  tileReaderFromStore,
  type Receipt,
  type Signer,
} from '@pixpax/shared'
import { nodeSha256 as sha256, nodeSigner } from '@pixpax/shared/node'
import type { WebSocketFactory, WebSocketLike } from '../../src/sync/sync-client.js'

const ORIGIN = 'pixpax.local/log'
type Listener = (event: { data?: unknown; code?: number }) => void

interface Stored {
  seq: number
  position: number
  receipt: Receipt
}

export class FakeRelay {
  readonly key: Signer = nodeSigner(generatePrivateJwk())
  private readonly leaves: Uint8Array[] = []
  private readonly streams = new Map<string, Stored[]>()
  readonly sockets: FakeSocket[] = []
  /** Every message clients sent, parsed. */
  readonly received: Array<Record<string, unknown>> = []
  /** Deliver accepted receipts to subscribers before answering the push (what the real relay usually does). */
  deliverBeforeAnswer = false
  /** While set, each push answer waits for it (after any delivery made before the answer). */
  answerGate: Promise<void> | undefined
  /** Receipts per `receipts` message (the real relay sends at most 500). */
  batchSize = Number.POSITIVE_INFINITY
  /** While set, `receipts` messages wait in `held` until `release()`. */
  holdDeliveries = false
  private held: Array<() => Promise<void>> = []
  private heldWaiters: Array<{ count: number; resolve: () => void }> = []
  private waiters: Array<{ match: (m: Record<string, unknown>) => boolean; resolve: () => void }> = []

  /** Resolves when a client sends a message matching `match`. */
  waitFor(match: (m: Record<string, unknown>) => boolean): Promise<void> {
    if (this.received.some(match)) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ match, resolve }))
  }

  /** The socket factory to give the SyncClient. */
  readonly webSocket: WebSocketFactory = () => {
    const socket = new FakeSocket(this)
    this.sockets.push(socket)
    return socket
  }

  /** Appends receipts as accepted (no rule checks: the client's own checks are under test). */
  add(receipts: Receipt[]): void {
    for (const receipt of receipts) {
      const key = streamKeyOf(receipt.stream)
      const list = this.streams.get(key) ?? []
      const entry = { seq: list.length + 1, position: this.leaves.length, receipt }
      list.push(entry)
      this.streams.set(key, list)
      this.leaves.push(leafData({ eventId: receipt.eventId, hash: receipt.hash, seq: entry.seq, stream: key }))
    }
  }

  head(streamKey: string): Stored | undefined {
    return this.streams.get(streamKey)?.at(-1)
  }

  /** Resolves once `count` deliveries are held. */
  whenHeld(count: number): Promise<void> {
    if (this.held.length >= count) return Promise.resolve()
    return new Promise((resolve) => this.heldWaiters.push({ count, resolve }))
  }

  /** Sends the held deliveries, in the order they were made or (`reverse`) newest first. */
  async release(options: { reverse?: boolean } = {}): Promise<void> {
    const held = options.reverse ? this.held.reverse() : this.held
    this.held = []
    for (const send of held) await send()
  }

  private cached: { size: number; tree: ReturnType<FakeRelay['buildTree']> } | undefined
  private readonly notes = new Map<number, string>()

  /** The tree at the current size (built once per size). */
  private tree() {
    if (this.cached?.size !== this.leaves.length) this.cached = { size: this.leaves.length, tree: this.buildTree() }
    return this.cached.tree
  }

  private buildTree() {
    const result = integrate(sha256, EMPTY_TREE, this.leaves)
    const files = new Map([...result.tiles, ...result.entryBundles].map((o) => [o.path, o.bytes]))
    const hashAt = hashAtFromTiles(
      sha256,
      this.leaves.length,
      tileReaderFromStore(async (path) => files.get(path)),
    )
    return { size: this.leaves.length, root: result.root, hashAt }
  }

  /** The checkpoint member for a connection that last saw `from` leaves. */
  async checkpoint(from: number): Promise<{ note: string; consistency?: { from: number; hashes: string[] } }> {
    const t = this.tree()
    const note = this.notes.get(t.size) ?? (await signCheckpoint({ origin: ORIGIN, size: t.size, root: t.root }, ORIGIN, this.key))
    this.notes.set(t.size, note)
    if (from === 0 || from >= t.size) return { note }
    return { note, consistency: { from, hashes: (await consistencyProof(sha256, from, t.size, t.hashAt)).map(base64Encode) } }
  }

  async deliver(socket: FakeSocket, streamKey: string, afterSeq: number): Promise<void> {
    const all = (this.streams.get(streamKey) ?? []).filter((s) => s.seq > afterSeq)
    if (all.length === 0) return
    socket.cursors.set(streamKey, all.at(-1)!.seq)
    for (let i = 0; i < all.length; i += this.batchSize) await this.deliverBatch(socket, streamKey, all.slice(i, i + this.batchSize))
  }

  private async deliverBatch(socket: FakeSocket, streamKey: string, items: Stored[]): Promise<void> {
    // Built when sent, so a held delivery carries a checkpoint consistent with what the socket saw before.
    const send = async () => {
      const t = this.tree()
      const proof = (
        await multiInclusionProof(
          sha256,
          items.map((i) => i.position),
          t.size,
          t.hashAt,
        )
      ).map(base64Encode)
      const message = {
        type: 'receipts',
        stream: streamKey,
        receipts: items.map((i) => ({ seq: i.seq, position: i.position, receipt: i.receipt })),
        checkpoint: await this.checkpoint(socket.sentSize),
        proof,
      }
      socket.sentSize = t.size
      socket.reply(message)
    }
    if (this.holdDeliveries) {
      this.held.push(send)
      this.heldWaiters = this.heldWaiters.filter((w) => (this.held.length >= w.count ? (w.resolve(), false) : true))
    } else await send()
  }

  async onClientMessage(socket: FakeSocket, m: Record<string, unknown>): Promise<void> {
    this.received.push(m)
    this.waiters = this.waiters.filter((w) => (w.match(m) ? (w.resolve(), false) : true))
    switch (m.type) {
      case 'hello':
        socket.sentSize = (m.checkpointSize as number | undefined) ?? 0
        socket.reply({
          type: 'welcome',
          v: 1,
          relay: { identityId: 'relay', publicKeyId: this.key.publicKeyId, publicKey: this.key.publicKey },
          session: null,
          limits: { maxMessageBytes: 1 << 20, maxReceiptsPerMessage: 500, heartbeatMs: 15_000 },
        })
        if (this.leaves.length > 0) {
          socket.reply({ type: 'checkpoint', checkpoint: await this.checkpoint(socket.sentSize) })
          socket.sentSize = this.leaves.length
        }
        return
      case 'subscribe':
        for (const { key, after } of m.streams as Array<{ key: string; after: string | null }>) {
          const list = this.streams.get(key) ?? []
          const afterSeq = after ? (list.find((s) => s.receipt.eventId === after)?.seq ?? 0) : 0
          socket.cursors.set(key, afterSeq)
          await this.deliver(socket, key, afterSeq)
          socket.reply({ type: 'caught-up', stream: key, head: null })
        }
        return
      case 'push': {
        const results = []
        for (const receipt of m.receipts as Receipt[]) {
          const key = streamKeyOf(receipt.stream)
          const head = this.head(key)
          if ((head?.receipt.eventId ?? null) !== receipt.prevEventId) {
            results.push({
              ok: false,
              eventId: receipt.eventId,
              error: {
                code: 'CHAIN_CONFLICT',
                message: 'another receipt follows that predecessor',
                details: { head: { seq: head?.seq ?? 0 } },
              },
            })
            continue
          }
          this.add([receipt])
          const stored = this.head(key)!
          const body = {
            stream: key,
            seq: stored.seq,
            position: stored.position,
            eventId: receipt.eventId,
            hash: receipt.hash,
            relayKeyId: this.key.publicKeyId,
          }
          const ack = { ...body, signature: formatSignature(await this.key.sign(canonicalBytes(body))) }
          results.push({ ok: true, eventId: receipt.eventId, seq: stored.seq, position: stored.position, hash: receipt.hash, ack })
        }
        if (this.deliverBeforeAnswer) for (const s of this.sockets) for (const [key, seq] of s.cursors) await this.deliver(s, key, seq)
        await this.answerGate
        socket.reply({ type: 'push-result', id: m.id, results })
        if (!this.deliverBeforeAnswer) for (const s of this.sockets) for (const [key, seq] of s.cursors) await this.deliver(s, key, seq)
        return
      }
      case 'heads': {
        const heads: Record<string, { seq: number; eventId: string; hash: string } | null> = {}
        for (const key of m.streams as string[]) {
          const head = this.head(key)
          heads[key] = head ? { seq: head.seq, eventId: head.receipt.eventId, hash: head.receipt.hash } : null
        }
        socket.reply({ type: 'heads', id: m.id, heads })
        return
      }
      default:
        return
    }
  }
}

export class FakeSocket implements WebSocketLike {
  readyState = 0
  sentSize = 0
  readonly cursors = new Map<string, number>()
  private readonly listeners = new Map<string, Listener[]>()

  constructor(private readonly relay: FakeRelay) {
    setTimeout(() => {
      this.readyState = 1
      this.emit('open', {})
    }, 0)
  }

  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }

  send(data: string): void {
    void this.relay.onClientMessage(this, JSON.parse(data) as Record<string, unknown>)
  }

  close(code = 1000): void {
    if (this.readyState === 3) return
    this.readyState = 3
    setTimeout(() => this.emit('close', { code }), 0)
  }

  /** Relay → client, asynchronously like a real socket. */
  reply(message: Record<string, unknown>): void {
    const text = JSON.stringify(message)
    setTimeout(() => this.readyState === 1 && this.emit('message', { data: text }), 0)
  }

  private emit(type: string, event: { data?: unknown; code?: number }): void {
    for (const l of this.listeners.get(type) ?? []) l(event)
  }
}
