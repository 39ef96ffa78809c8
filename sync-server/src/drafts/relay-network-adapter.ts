/**
 * The relay side of automerge-repo's WebSocket protocol (docs/drafts.md, "The automerge endpoint"),
 * in place of `@automerge/automerge-repo-network-websocket`'s WebSocketServerAdapter, which trusts
 * every peer: any socket may claim any peerId (and so take over another peer's connection) and any
 * peer may sync any document whose URL it knows.
 *
 * Here a socket is first **authenticated**: its first frame must be a text frame
 * `{"type":"auth","token":"<session token>"}` (a browser WebSocket cannot send an Authorization header,
 * and a token in the URL would end up in access logs). Until the relay has resolved that token nothing
 * reaches automerge-repo and nothing is sent back; a missing, malformed, unknown or expired token closes
 * the socket with 4001 and not a single byte of document data. Frames that arrive meanwhile wait.
 *
 * After that the wire format is exactly the stock one (CBOR frames: `join` → `peer`, then repo
 * messages), so the stock WebSocketClientAdapter works once it sends the auth frame first (client-sdk's
 * RelayWebSocketClientAdapter does). Every frame is then checked before automerge-repo sees it:
 *
 * - the `senderId` must be the peerId this socket joined as; a peerId held by another identity's live
 *   socket is refused (the same identity may take over its own, as a reconnecting device does);
 * - **per-document authorization**: a message about a document is passed on only if the session's
 *   identity may access it (`access`, i.e. a registered draft of a pixbook the identity may read);
 *   otherwise the peer gets `doc-unavailable` and automerge-repo never hears of it, so no handle is
 *   created for a document nobody may open. Grants are per socket and re-checked every
 *   DRAFT_ACCESS_RECHECK_MS together with the session: a lost session closes with 4001, lost access
 *   with 4003. Outgoing messages are filtered by the same grants;
 * - **size**: frames over the socket limit are refused by ws itself (1009); a sync message that carries
 *   changes goes through `admit` (the draft size cap) and is dropped with an `error` frame when refused;
 * - only `join`, `request`, `sync`, `ephemeral` and `doc-unavailable` are accepted (remote-heads
 *   gossip is off); anything else, or undecodable CBOR, closes with 4000.
 *
 * Liveness and memory: a ping every `heartbeatMs` (a socket that missed the previous pong is
 * terminated), a slow reader whose send buffer exceeds `maxBufferedBytes` is closed with 4008, and at
 * most `maxPendingBytes` of frames may wait for processing per socket.
 */
import { cbor, isValidDocumentId, NetworkAdapter, type Message, type PeerId, type PeerMetadata } from '@automerge/automerge-repo'
import type { RawData, WebSocket } from 'ws'

export const CLOSE_CODES = {
  PROTOCOL_ERROR: 4000,
  UNAUTHENTICATED: 4001,
  FORBIDDEN: 4003,
  SLOW_CONSUMER: 4008,
} as const

const PROTOCOL_V1 = '1'
const PEER_ID = /^[\x21-\x7e]{1,128}$/
const DOC_MESSAGE_TYPES = new Set(['request', 'sync', 'ephemeral', 'doc-unavailable'])

export interface DraftAccessControl {
  /** The live session of a token, if any. */
  session(token: string): Promise<{ identityId: string } | undefined>
  /** Whether `identityId` may read and write the draft `documentId`. */
  mayAccess(identityId: string, documentId: string): Promise<boolean>
  /**
   * The draft size cap: undefined to accept a sync message, else why it is refused (PAYLOAD_TOO_LARGE:
   * dropped, the peer told once; PROTOCOL_ERROR: not a sync message, the socket is closed). Called only
   * for `sync`/`request` messages of documents the peer may access.
   */
  admit(documentId: string, data: Uint8Array): Promise<Refusal | undefined>
  /** A document was used (a message in or out): eviction bookkeeping. */
  touched?(documentId: string): void
}

export interface Refusal {
  code: 'PAYLOAD_TOO_LARGE' | 'PROTOCOL_ERROR'
  message: string
}

export interface RelayNetworkLimits {
  authTimeoutMs: number
  accessRecheckMs: number
  heartbeatMs: number
  maxBufferedBytes: number
  maxPendingBytes: number
  maxEphemeralBytes: number
}

export const DEFAULT_NETWORK_LIMITS: RelayNetworkLimits = {
  authTimeoutMs: 10_000,
  accessRecheckMs: 60_000,
  heartbeatMs: 15_000,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxPendingBytes: 16 * 1024 * 1024,
  maxEphemeralBytes: 64 * 1024,
}

interface Connection {
  readonly ws: WebSocket
  state: 'authenticating' | 'open' | 'closed'
  token?: string
  identityId?: string
  peerId?: PeerId
  /** Documents this socket may use, with when that was last checked. */
  readonly grants: Map<string, number>
  /** Documents whose changes were refused by the size cap (reported once). */
  readonly capped: Set<string>
  /** Serializes frame handling: frames of one socket are handled one at a time, in order. */
  chain: Promise<void>
  pendingBytes: number
  alive: boolean
}

type Logger = { warn: (obj: object, msg: string) => void; debug: (obj: object, msg: string) => void }

export class RelayNetworkAdapter extends NetworkAdapter {
  readonly #connections = new Set<Connection>()
  readonly #byPeer = new Map<string, Connection>()
  readonly #limits: RelayNetworkLimits
  #timers: NodeJS.Timeout[] = []

  constructor(
    private readonly access: DraftAccessControl,
    limits: Partial<RelayNetworkLimits> = {},
    private readonly log?: Logger,
  ) {
    super()
    this.#limits = { ...DEFAULT_NETWORK_LIMITS, ...limits }
  }

  // ---- NetworkAdapter ------------------------------------------------------------------------------

  isReady(): boolean {
    return true
  }

  whenReady(): Promise<void> {
    return Promise.resolve()
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    const heartbeat = setInterval(() => this.#heartbeat(), this.#limits.heartbeatMs)
    const recheck = setInterval(() => void this.#recheck(), this.#limits.accessRecheckMs)
    heartbeat.unref()
    recheck.unref()
    this.#timers.push(heartbeat, recheck)
  }

  disconnect(): void {
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    for (const c of [...this.#connections]) this.#close(c, 1001, 'relay shutting down')
  }

  send(message: Message): void {
    const c = this.#byPeer.get(message.targetId)
    if (!c || c.state !== 'open') return
    const documentId = (message as { documentId?: string }).documentId
    // Defense in depth: automerge-repo only talks to peers about documents they asked for and were
    // granted, but nothing leaves for a document this socket has no grant for.
    if (!documentId || !c.grants.has(documentId)) return
    this.access.touched?.(documentId)
    this.#sendFrame(c, message)
  }

  // ---- sockets -------------------------------------------------------------------------------------

  /** Takes over an upgraded socket. Nothing is sent on it before its session is resolved. */
  accept(ws: WebSocket): void {
    const c: Connection = {
      ws,
      state: 'authenticating',
      grants: new Map(),
      capped: new Set(),
      chain: Promise.resolve(),
      pendingBytes: 0,
      alive: true,
    }
    this.#connections.add(c)
    const timer = setTimeout(() => {
      if (c.state === 'authenticating') this.#close(c, CLOSE_CODES.UNAUTHENTICATED, 'UNAUTHENTICATED: no auth frame in time')
    }, this.#limits.authTimeoutMs)
    timer.unref()
    ws.on('pong', () => (c.alive = true))
    ws.on('error', () => this.#close(c, 1011, 'socket error'))
    ws.on('close', () => {
      clearTimeout(timer)
      this.#dropped(c)
    })
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (c.state === 'closed') return
      const bytes = toBytes(data)
      c.pendingBytes += bytes.byteLength
      if (c.pendingBytes > this.#limits.maxPendingBytes) {
        this.#close(c, CLOSE_CODES.SLOW_CONSUMER, 'SLOW_CONSUMER: too many unprocessed frames')
        return
      }
      c.chain = c.chain
        .then(() => (c.state === 'closed' ? undefined : this.#frame(c, bytes, isBinary)))
        .catch((error: unknown) => {
          this.log?.warn({ err: error }, 'automerge frame failed')
          this.#close(c, 1011, 'internal error')
        })
        .finally(() => {
          c.pendingBytes -= bytes.byteLength
        })
    })
  }

  /** Live sockets (for tests and metrics). */
  get connectionCount(): number {
    return this.#connections.size
  }

  /** Whether the socket that joined as `peerId` holds a grant for `documentId` (the Repo's access check). */
  hasGrant(peerId: string, documentId: string): boolean {
    const c = this.#byPeer.get(peerId)
    return c?.state === 'open' && c.grants.has(documentId)
  }

  // ---- frames --------------------------------------------------------------------------------------

  async #frame(c: Connection, bytes: Uint8Array, isBinary: boolean): Promise<void> {
    if (c.state === 'authenticating') return this.#authenticate(c, bytes, isBinary)
    if (!isBinary) return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: expected a binary (CBOR) frame')
    let message: Record<string, unknown>
    try {
      message = cbor.decode<Record<string, unknown>>(bytes)
    } catch {
      return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: undecodable CBOR frame')
    }
    if (typeof message !== 'object' || message === null) return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: not a message')
    if (message.type === 'join') return this.#join(c, message)
    if (!c.peerId) return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: join first')
    if (message.senderId !== c.peerId) return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: senderId is not the joined peer')
    if (typeof message.type !== 'string' || !DOC_MESSAGE_TYPES.has(message.type)) {
      return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, `PROTOCOL_ERROR: unsupported message type`)
    }
    const documentId = message.documentId
    if (typeof documentId !== 'string' || !isValidDocumentId(documentId)) {
      return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: missing or invalid documentId')
    }
    const data = message.data
    if (message.type !== 'doc-unavailable' && !(data instanceof Uint8Array)) {
      return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: missing data')
    }
    if (!(await this.#authorize(c, documentId))) {
      this.#sendFrame(c, { type: 'doc-unavailable', senderId: this.peerId, targetId: c.peerId, documentId })
      return
    }
    this.access.touched?.(documentId)
    let clean: Message
    switch (message.type) {
      case 'sync':
      case 'request': {
        const refused = await this.access.admit(documentId, data as Uint8Array)
        if (refused?.code === 'PROTOCOL_ERROR') return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, `PROTOCOL_ERROR: ${refused.message}`)
        if (refused) {
          if (!c.capped.has(documentId)) {
            c.capped.add(documentId)
            this.#sendFrame(c, { type: 'error', senderId: this.peerId, targetId: c.peerId, message: `${refused.code}: ${refused.message}` })
          }
          return
        }
        clean = { type: message.type, senderId: c.peerId, targetId: this.peerId!, documentId: documentId, data: data as Uint8Array }
        break
      }
      case 'ephemeral': {
        if ((data as Uint8Array).byteLength > this.#limits.maxEphemeralBytes) return
        if (typeof message.count !== 'number' || typeof message.sessionId !== 'string') {
          return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: ephemeral message without count/sessionId')
        }
        clean = {
          type: 'ephemeral',
          senderId: c.peerId,
          targetId: this.peerId!,
          documentId: documentId,
          data: data as Uint8Array,
          count: message.count,
          sessionId: message.sessionId,
        } as Message
        break
      }
      default:
        clean = { type: 'doc-unavailable', senderId: c.peerId, targetId: this.peerId!, documentId: documentId }
    }
    this.emit('message', clean)
  }

  async #authenticate(c: Connection, bytes: Uint8Array, isBinary: boolean): Promise<void> {
    let token: unknown
    if (!isBinary && bytes.byteLength <= 4096) {
      try {
        const frame = JSON.parse(Buffer.from(bytes).toString('utf8')) as { type?: unknown; token?: unknown }
        if (frame?.type === 'auth') token = frame.token
      } catch {
        // not JSON: unauthenticated below
      }
    }
    const session = typeof token === 'string' && token.length <= 512 ? await this.access.session(token) : undefined
    if (c.state !== 'authenticating') return
    if (!session)
      return this.#close(c, CLOSE_CODES.UNAUTHENTICATED, 'UNAUTHENTICATED: send {"type":"auth","token":…} with a live session token first')
    c.state = 'open'
    c.token = token as string
    c.identityId = session.identityId
  }

  #join(c: Connection, message: Record<string, unknown>): void {
    const peerId = message.senderId
    if (typeof peerId !== 'string' || !PEER_ID.test(peerId) || peerId === this.peerId) {
      return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: invalid peer id')
    }
    if (c.peerId !== undefined && c.peerId !== peerId)
      return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: a socket joins once')
    const versions = message.supportedProtocolVersions
    if (versions !== undefined && !(Array.isArray(versions) && versions.includes(PROTOCOL_V1))) {
      this.#sendFrame(c, { type: 'error', senderId: this.peerId, targetId: peerId, message: 'unsupported protocol version' })
      return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: unsupported protocol version')
    }
    const holder = this.#byPeer.get(peerId)
    if (holder && holder !== c) {
      if (holder.identityId !== c.identityId) {
        return this.#close(c, CLOSE_CODES.PROTOCOL_ERROR, 'PROTOCOL_ERROR: this peer id is in use by another identity')
      }
      // The same identity reconnecting (its old socket not yet timed out): the new socket wins.
      this.#close(holder, CLOSE_CODES.PROTOCOL_ERROR, 'replaced by a newer connection of the same peer')
    }
    if (c.peerId === undefined) {
      c.peerId = peerId as PeerId
      this.#byPeer.set(peerId, c)
      // The relay does not persist per-peer sync state: peers are told to treat it as ephemeral state,
      // and a storageId claimed by a client is not trusted to name anything on the relay.
      this.emit('peer-candidate', { peerId: peerId as PeerId, peerMetadata: { isEphemeral: true } })
    }
    this.#sendFrame(c, {
      type: 'peer',
      senderId: this.peerId,
      peerMetadata: this.peerMetadata,
      selectedProtocolVersion: PROTOCOL_V1,
      targetId: peerId,
    })
  }

  async #authorize(c: Connection, documentId: string): Promise<boolean> {
    if (c.grants.has(documentId)) return true
    if (!(await this.access.mayAccess(c.identityId!, documentId))) return false
    if (c.state !== 'open') return false
    c.grants.set(documentId, Date.now())
    return true
  }

  // ---- upkeep --------------------------------------------------------------------------------------

  #heartbeat(): void {
    for (const c of this.#connections) {
      if (!c.alive) {
        this.#close(c, 1001, 'heartbeat missed', true)
        continue
      }
      c.alive = false
      try {
        c.ws.ping()
      } catch {
        // closed meanwhile
      }
    }
  }

  /** Re-checks every open socket's session and grants; closes the ones that lost them. */
  async #recheck(): Promise<void> {
    for (const c of [...this.#connections]) {
      if (c.state !== 'open') continue
      try {
        if (!(await this.access.session(c.token!))) {
          this.#close(c, CLOSE_CODES.UNAUTHENTICATED, 'UNAUTHENTICATED: the session ended')
          continue
        }
        for (const documentId of [...c.grants.keys()]) {
          if (!(await this.access.mayAccess(c.identityId!, documentId))) {
            c.grants.delete(documentId)
            this.#close(c, CLOSE_CODES.FORBIDDEN, `FORBIDDEN: access to ${documentId} was withdrawn`)
            break
          }
          c.grants.set(documentId, Date.now())
        }
      } catch (error) {
        this.log?.warn({ err: error }, 'automerge access re-check failed')
      }
    }
  }

  /** Runs the access re-check now (tests). */
  recheckNow(): Promise<void> {
    return this.#recheck()
  }

  #sendFrame(c: Connection, message: object): void {
    if (c.state === 'closed' || c.ws.readyState !== c.ws.OPEN) return
    if (c.ws.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.#close(c, CLOSE_CODES.SLOW_CONSUMER, 'SLOW_CONSUMER: the send buffer is full')
      return
    }
    c.ws.send(cbor.encode(message))
  }

  #close(c: Connection, code: number, reason: string, terminate = false): void {
    if (c.state === 'closed') return
    this.log?.debug({ code, reason, identityId: c.identityId, peerId: c.peerId }, 'automerge socket closed by the relay')
    this.#dropped(c)
    try {
      if (terminate) c.ws.terminate()
      else c.ws.close(code, reason.slice(0, 120))
    } catch {
      c.ws.terminate()
    }
  }

  #dropped(c: Connection): void {
    if (c.state === 'closed') return
    c.state = 'closed'
    this.#connections.delete(c)
    c.grants.clear()
    if (c.peerId !== undefined && this.#byPeer.get(c.peerId) === c) {
      this.#byPeer.delete(c.peerId)
      this.emit('peer-disconnected', { peerId: c.peerId })
    }
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return data
}
