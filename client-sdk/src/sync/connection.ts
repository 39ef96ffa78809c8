/**
 * The sync session's connection: one WebSocket at a time to the relay's `/v1/sync`, reconnecting with
 * exponential backoff and jitter, and never again once the relay lost the client's trust (a halt) until
 * the app resets it. What is said on the socket is the SyncClient's; this module owns its life.
 *
 * The life is a state machine (STYLE practice 11), `SESSION_TRANSITIONS`, typed
 * `Record<State, Record<Event, …>>` so a missing cell does not compile. `undefined` marks an event that
 * cannot move the session from that state (a late socket event, a second `start`): it is refused, and
 * nothing happens.
 *
 *   stopped ──start──▶ connecting ──opened──▶ handshake ──bound──▶ bound
 *                          │  ▲                   │                 │
 *          dial-failed/closed  retry           closed            closed
 *                          ▼  │                   ▼                 ▼
 *                         backoff ◀───────────────┴─────────────────┘
 *   any running state ──halt──▶ halted ──reset──▶ connecting;   any ──stop──▶ stopped
 */
import { backoffMs } from './outbox-machine.js'

/** The part of the WebSocket API the engine uses: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown; code?: number }) => void): void
  /**
   * Stop and restart reading from the network, where the socket can (the `ws` package can; a browser's
   * WebSocket cannot): how the client tells the relay to wait, through TCP, while it is behind.
   */
  pause?(): void
  resume?(): void
}
export type WebSocketFactory = (url: string) => WebSocketLike

/**
 * `stopped`: not running (the app has not started it, or stopped it). `connecting`: a socket is being
 * opened. `handshake`: open, `hello` sent, waiting for a `welcome` whose key binds to the pin. `bound`:
 * welcomed; subscriptions and pushes flow. `backoff`: no socket, a reconnect is due on a timer.
 * `halted`: the relay lost the client's trust (a key change, a forked log); no socket until `reset`.
 */
export type SessionState = 'stopped' | 'connecting' | 'handshake' | 'bound' | 'backoff' | 'halted'
export type SessionEvent = 'start' | 'dial-failed' | 'opened' | 'bound' | 'closed' | 'retry' | 'halt' | 'reset' | 'stop'

export const SESSION_TRANSITIONS: Record<SessionState, Record<SessionEvent, SessionState | undefined>> = {
  stopped: {
    start: 'connecting',
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: undefined,
    retry: undefined,
    // Halted while not running (a gossiped fork): the halt is in the trust store; start() finds it.
    halt: 'stopped',
    reset: 'stopped',
    stop: 'stopped',
  },
  connecting: {
    start: undefined,
    'dial-failed': 'backoff',
    opened: 'handshake',
    bound: undefined,
    closed: 'backoff',
    retry: undefined,
    halt: 'halted',
    reset: undefined,
    stop: 'stopped',
  },
  handshake: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: 'bound',
    closed: 'backoff',
    retry: undefined,
    halt: 'halted',
    reset: undefined,
    stop: 'stopped',
  },
  bound: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: 'backoff',
    retry: undefined,
    halt: 'halted',
    reset: undefined,
    stop: 'stopped',
  },
  backoff: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: undefined,
    retry: 'connecting',
    halt: 'halted',
    // resetRelayTrust() while waiting: connect now (the pending retry is cancelled).
    reset: 'connecting',
    stop: 'stopped',
  },
  halted: {
    start: undefined,
    'dial-failed': undefined,
    opened: undefined,
    bound: undefined,
    closed: undefined,
    retry: undefined,
    halt: 'halted',
    reset: 'connecting',
    stop: 'stopped',
  },
}

/** The next session state, or undefined when the event is refused in that state. */
export function nextSessionState(state: SessionState, event: SessionEvent): SessionState | undefined {
  return SESSION_TRANSITIONS[state][event]
}

/** What the connection asks of its owner (the SyncClient). */
export interface ConnectionHost {
  /** The relay's base URL (`http…`); the socket goes to its `/v1/sync` as `ws…`. */
  relayUrl: string
  webSocket?: WebSocketFactory
  random: () => number
  reconnect?: { baseMs?: number; maxMs?: number }
  /** Whether the relay lost the client's trust (persisted): then no socket is opened. */
  isHalted(): boolean
  /** A socket is about to be opened (the status becomes `connecting`). */
  onConnecting(): void
  /** start() found the client halted: nothing is opened (the status becomes `error`). */
  onHaltedAtStart(): void
  /** The socket opened: say `hello` on it (if it is still the current one when that is ready). */
  onOpen(ws: WebSocketLike): void
  /** A message arrived on the current socket. */
  onMessage(text: string): void
  /** The current socket closed, or was dropped by a halt: forget everything of that connection. */
  onDisconnect(): void
}

const OPEN = 1

export class Connection {
  #state: SessionState = 'stopped'
  /** The current socket; its identity tells a stale event or answer from the current connection's. */
  ws: WebSocketLike | undefined
  #attempts = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #readPaused = false

  constructor(private readonly host: ConnectionHost) {}

  get state(): SessionState {
    return this.#state
  }

  /** Started and not stopped (halted counts: the app may reset it). */
  get running(): boolean {
    return this.#state !== 'stopped'
  }

  /** Whether the current socket is open (messages can be sent). */
  get open(): boolean {
    return this.ws?.readyState === OPEN
  }

  /**
   * Whether reading from the socket is paused (where the socket supports it). The relay keeps one batch
   * per subscription in flight and sends the next as soon as the socket takes it, so a client that verifies
   * slower than the relay reads would otherwise hold the rest of a catch-up in memory, parsed.
   */
  set readPaused(paused: boolean) {
    if (paused === this.#readPaused) return
    this.#readPaused = paused
    if (paused) this.ws?.pause?.()
    else this.ws?.resume?.()
  }

  get readPaused(): boolean {
    return this.#readPaused
  }

  /** Applies an event; false (and no change) when the table refuses it. */
  #fire(event: SessionEvent): boolean {
    const next = nextSessionState(this.#state, event)
    if (next === undefined) return false
    this.#state = next
    return true
  }

  start(): void {
    if (!this.#fire('start')) return
    this.#connect()
  }

  /** Closes the socket and stops reconnecting. The owner's per-connection state is not touched (as before). */
  stop(): void {
    this.#fire('stop')
    this.#clearTimer()
    this.#close(1000, 'client stopped')
  }

  /** The welcome's key was bound to the pin: the connection is up, and backoff starts over. */
  bound(): void {
    if (this.#fire('bound')) this.#attempts = 0
  }

  /** Drops the socket for good (until reset): closes it and has the owner forget the connection. */
  halt(code: string): void {
    this.#fire('halt')
    this.#clearTimer()
    this.#close(1000, code)
    this.host.onDisconnect()
  }

  /**
   * Closes the current socket for good. A paused one reads again first: the relay's answering close
   * frame is behind the pause, and unread it would hold both ends open until a timeout.
   */
  #close(code: number, reason: string): void {
    const ws = this.ws
    this.ws = undefined
    if (this.#readPaused) ws?.resume?.()
    ws?.close(code, reason)
  }

  /** The app reset its trust: connect again now if running. */
  reset(): void {
    if (this.ws) return // still connected (nothing was halted)
    const was = this.#state
    if (!this.#fire('reset') || was === 'stopped') return
    this.#clearTimer()
    this.#connect()
  }

  /** Sends a message on the current socket if it is open (dropped otherwise: the protocol resends on reconnect). */
  send(message: unknown): void {
    if (this.open) this.ws!.send(JSON.stringify(message))
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #connect(): void {
    if (this.host.isHalted()) {
      this.#fire('halt')
      this.host.onHaltedAtStart()
      return
    }
    this.host.onConnecting()
    const url = `${this.host.relayUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/v1/sync`
    let ws: WebSocketLike
    try {
      ws = (this.host.webSocket ?? ((u) => new WebSocket(u)))(url)
    } catch {
      this.#fire('dial-failed')
      this.#reconnectLater()
      return
    }
    this.ws = ws
    if (this.#readPaused) ws.pause?.()
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return
      this.#fire('opened')
      this.host.onOpen(ws)
    })
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return
      this.host.onMessage(String(event.data))
    })
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return
      this.ws = undefined
      this.#fire('closed')
      this.host.onDisconnect()
      this.#reconnectLater()
    })
    ws.addEventListener('error', () => undefined)
  }

  #reconnectLater(): void {
    if (this.#state !== 'backoff' || this.host.isHalted()) return
    this.#attempts++
    const delay = backoffMs(this.#attempts, this.host.random, this.host.reconnect?.baseMs ?? 250, this.host.reconnect?.maxMs ?? 30_000)
    this.#clearTimer()
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#fire('retry')) this.#connect()
    }, delay)
  }
}
